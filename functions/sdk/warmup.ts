/**
 * The warm-up signal. The prefetch actuators send it to start an instance (and its init) ahead of traffic;
 * the SDK answers it as soon as init has run, without calling the handler.
 * - CloudEvents (Knative, local pool): an event of type WARMUP_EVENT_TYPE, or any request with the header WARMUP_HEADER.
 * - OpenWhisk: an invocation whose params hold WARMUP_PARAM: true.
 */
export const WARMUP_EVENT_TYPE = 'dev.iotless.warmup'
export const WARMUP_HEADER = 'x-iotless-warmup'
export const WARMUP_PARAM = '__iotless_warmup'
