/**
 * `iotless/sdk/onnx`: ONNX model sessions for functions (CUDA where it loads, else the CPU), the provider metric
 * and timed runs. It needs the optional peer dependency onnxruntime-node: `npm install onnxruntime-node`
 * (the text-detect function also needs sharp). A function that does not import this entry needs neither.
 */
export { createOnnxSession, parseGpuSetting, reportProvider, timedRun, ort } from '../onnx/createOnnxSession.js'
export type { ExecutionProvider, GpuSetting, OnnxSession, SessionOptions } from '../onnx/createOnnxSession.js'
export { eventBytes } from '../onnx/eventBytes.js'
