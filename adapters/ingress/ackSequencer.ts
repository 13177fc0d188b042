/**
 * Releases acknowledgements in the order the messages arrived, though their work may finish in any order.
 * MQTT requires it: "MUST send PUBACK packets in the order in which the corresponding PUBLISH packets were
 * received (QoS 1 messages)" [MQTT-4.6.0-2]; the same holds for PUBREC (QoS 2).
 */
export interface AckTicket<T> { readonly item: T; done: boolean }

export class AckSequencer<T> {
  #queue: Array<AckTicket<T>> = []

  /** Registers a message in arrival order. */
  push (item: T): AckTicket<T> {
    const ticket = { item, done: false }
    this.#queue.push(ticket)
    return ticket
  }

  /** Marks a message finished; returns the items whose acks may now be sent, oldest first. */
  complete (ticket: AckTicket<T>): T[] {
    ticket.done = true
    const ready: T[] = []
    while (this.#queue.length > 0 && (this.#queue[0] as AckTicket<T>).done) {
      ready.push((this.#queue.shift() as AckTicket<T>).item)
    }
    return ready
  }

  /** Forgets every pending message (the connection they came on is gone; the broker will resend them). */
  clear (): number {
    const n = this.#queue.length
    this.#queue = []
    return n
  }

  get pending (): number { return this.#queue.length }
}
