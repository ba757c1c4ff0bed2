/** What the NATS event log puts on the wire, shared by the relay (producer side) and the consumers. */

/** Header: the event's sequence in its partition's subject (1, 2, 3 …, assigned by the relay's transaction). */
export const PART_SEQ = "Event-Partition-Seq";
/** Header: the event's outbox position "tx:id". */
export const POSITION = "Event-Position";
/** A NATS subject token path (letters, digits, `_`, `-`, dot-separated). */
export const TOKEN = /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/;
/** Milliseconds as JetStream's nanoseconds. */
export const nanos = (ms: number) => Math.round(ms * 1_000_000);
export const errText = (err: unknown) => (err instanceof Error ? err.message : String(err));

/** What travels in a message body: the outbox row. */
export interface WireEvent {
  id: string;
  type: string;
  key: string;
  position: string;
  payload: unknown;
  createdAt: string;
}
