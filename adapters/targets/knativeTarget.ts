import { IotlessError } from '../../core/errors.js'
import type { DispatchResult, OutgoingEvent, Target } from '../target.js'
import { HttpEventSender, type HttpSenderOptions } from './httpEventSender.js'

export interface KnativeTargetOptions extends HttpSenderOptions {
  /**
   * The http(s) URL events are POSTed to. `{function}` (anywhere, any number of times) is replaced by the
   * route's function name, percent-encoded, e.g. `http://{function}.default.svc.cluster.local` or
   * `https://gateway.example.com/fn/{function}`. Without it, every function gets the same URL.
   */
  url: string
}

/** Placeholder used to check a `{function}` template at construction. */
export const PROBE_NAME = 'fn'

/**
 * A Knative Service (or any CloudEvents HTTP receiver) as a Target: each event is one HTTP POST of a
 * binary-mode CloudEvent. A 2xx with a body is the reply; 202, 204 or an empty body means no reply.
 */
export class KnativeTarget implements Target {
  readonly kind = 'knative'
  readonly #template: string
  readonly #sender: HttpEventSender
  readonly #urls = new Map<string, URL>()

  /** Throws IotlessError TARGET_URL_INVALID when `url` is not an absolute http(s) URL. */
  constructor (options: KnativeTargetOptions) {
    this.#template = options.url
    httpUrl(options.url.replaceAll('{function}', PROBE_NAME), 'knative target url')
    // One hop to the function: by default its trace context goes as the W3C headers alone (the SDK reads them,
    // and so do the proxy and Knative's activator); the repeat as ce-traceparent cost ~3% of a message's CPU
    // (bench/RESULTS.md). `both` for a receiver that reads only the CloudEvents extension.
    this.#sender = new HttpEventSender({ ...options, traceContext: options.traceContext ?? 'w3c' })
  }

  async dispatch (functionName: string, event: OutgoingEvent, opts: { signal?: AbortSignal } = {}): Promise<DispatchResult> {
    let url = this.#urls.get(functionName)
    if (url === undefined) {
      try {
        url = httpUrl(this.#template.replaceAll('{function}', encodeURIComponent(functionName)), `knative url for function ${JSON.stringify(functionName)}`)
      } catch (err) {
        return { status: 'rejected', retryable: false, code: 'TARGET_URL_INVALID', message: (err as Error).message }
      }
      this.#urls.set(functionName, url)
    }
    return this.#sender.send(url, event.attributes, event.data, opts)
  }

  async close (): Promise<void> {
    await this.#sender.close()
  }
}

/** Parses an absolute http: or https: URL, or throws TARGET_URL_INVALID naming `what` (never the userinfo). */
export function httpUrl (text: string, what: string): URL {
  let url: URL
  try {
    url = new URL(text)
  } catch {
    throw new IotlessError('TARGET_URL_INVALID', `${what} is not an absolute URL: ${JSON.stringify(stripUserinfo(text))}`)
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new IotlessError('TARGET_URL_INVALID', `${what} must be http:// or https://, not ${url.protocol}//`)
  }
  return url
}

function stripUserinfo (text: string): string {
  return text.replace(/\/\/[^/@]*@/, '//***@')
}
