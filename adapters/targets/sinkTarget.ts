import type { CloudEventAttributes } from '../../core/cloudEventHttp.js'
import { IotlessError } from '../../core/errors.js'
import type { DispatchResult, OutgoingEvent, Target } from '../target.js'
import { HttpEventSender, type HttpSenderOptions } from './httpEventSender.js'
import { httpUrl } from './knativeTarget.js'

export interface SinkTargetOptions extends HttpSenderOptions {
  /** K_SINK: every event goes to this one URL, whatever the route's function (no `{function}` here). */
  url: string
  /** K_CE_OVERRIDES extensions, set on every event after everything else (they win, as in Knative's adapter). */
  ceOverrides?: Record<string, string>
  /**
   * Extension that carries the route's function name, so Triggers behind a Broker sink can filter on it
   * (lower-case letters and digits). Default `iotlessfunction`; `false` sends no such extension.
   */
  functionExtension?: string | false
}

/**
 * The Knative Eventing source contract as a Target: binary-mode CloudEvents POSTed to K_SINK with the
 * K_CE_OVERRIDES extensions applied, trusting K_CA_CERTS. Build the options with parseSinkEnv:
 * `new SinkTarget({ ...parseSinkEnv(process.env), connections: 32 })`. Same sending, reply and retry
 * rules as KnativeTarget (they share HttpEventSender).
 */
export class SinkTarget implements Target {
  readonly kind = 'sink'
  readonly #url: URL
  readonly #overrides: Array<[string, string]>
  readonly #functionExtension: string | false
  readonly #sender: HttpEventSender

  /** Throws IotlessError TARGET_URL_INVALID for a bad `url`, CONFIG_INVALID for a bad `functionExtension`. */
  constructor (options: SinkTargetOptions) {
    this.#url = httpUrl(options.url, 'sink url (K_SINK)')
    this.#overrides = Object.entries(options.ceOverrides ?? {})
    this.#functionExtension = options.functionExtension ?? 'iotlessfunction'
    if (this.#functionExtension !== false && !/^[a-z0-9]+$/.test(this.#functionExtension)) {
      throw new IotlessError('CONFIG_INVALID', `sink functionExtension ${JSON.stringify(this.#functionExtension)} must be lower-case letters and digits only (a CloudEvents attribute name)`)
    }
    this.#sender = new HttpEventSender(options)
  }

  async dispatch (functionName: string, event: OutgoingEvent, opts: { signal?: AbortSignal } = {}): Promise<DispatchResult> {
    let attributes: CloudEventAttributes = event.attributes
    if (this.#functionExtension !== false || this.#overrides.length > 0) {
      attributes = { ...attributes }
      if (this.#functionExtension !== false) attributes[this.#functionExtension] = functionName
      for (const [name, value] of this.#overrides) attributes[name] = value
    }
    return this.#sender.send(this.#url, attributes, event.data, opts)
  }

  async close (): Promise<void> {
    await this.#sender.close()
  }
}
