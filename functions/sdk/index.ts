/**
 * `iotless/sdk`: what a function author imports. Everything here is the public surface; the servers, the
 * pool's instance entry and the other modules of this folder are internal and may change.
 * It loads no model runtime: model helpers are in `iotless/sdk/onnx`, the test helper in `iotless/sdk/testing`.
 */
export { defineFunction, isDefinedFunction } from './defineFunction.js'
export type { ActivationInfo, DefinedFunction, FunctionDefinition, HandleContext, HandleResult, InitContext, Reply } from './defineFunction.js'
export { FunctionInputError, isFunctionInputError } from './functionInputError.js'
export { once } from './once.js'
export type { EffectStore, OnceResult, StateTx, StateValue } from '../../effects/effectStore.js'
export { WARMUP_EVENT_TYPE, WARMUP_HEADER, WARMUP_PARAM } from './warmup.js'
export { eventBytes } from '../onnx/eventBytes.js'
/** The event type handlers receive (from the `cloudevents` package), so a function needs no import of its own. */
export type { CloudEvent } from 'cloudevents'
export type { Metrics } from '../../core/metrics.js'
