// The contract every sink implements. Remote failure is a classified result, never a throw:
// the lane owns retrying, dead-lettering and acknowledging.
import type { OutEvent } from '../pipeline/event.ts';

export interface Batch {
  /** Sequence number within the lane, for logs. */
  readonly seq: number;
  readonly events: readonly OutEvent[];
  /** Sum of the events' serialized sizes. */
  readonly bytes: number;
}

/** An event the sink refused for good (e.g. an Elasticsearch 400 mapping error). */
export interface Rejection {
  /** Index into batch.events. */
  readonly index: number;
  readonly reason: string;
}

export type SendResult =
  | { readonly status: 'delivered' }
  /** Some events need another attempt (retry), some were refused for good (rejected); the rest are in. */
  | { readonly status: 'partial'; readonly retry: readonly number[]; readonly rejected: readonly Rejection[] }
  | { readonly status: 'retryable'; readonly reason: string; readonly retryAfterMs?: number }
  /** Permanent: the whole batch goes to dead-letter. */
  | { readonly status: 'rejected'; readonly reason: string }
  /** The request was too large (HTTP 413): the lane splits the batch and sends the halves. */
  | { readonly status: 'too-large'; readonly reason: string };

export interface Sink {
  /** Config name, e.g. "siem-es"; label in metrics and /status. */
  readonly name: string;
  readonly type: string;
  /** Largest event (serialized bytes) this sink takes; bigger ones are shrunk, then dead-lettered. */
  readonly maxEventBytes: number;
  /** Checks that the sink is reachable and usable; throws ForwarderError with a clear message. */
  healthcheck(signal: AbortSignal): Promise<void>;
  send(batch: Batch, signal: AbortSignal): Promise<SendResult>;
  /** Graceful: waits for in-flight work; idempotent. */
  close(): Promise<void>;
  /** Aborts now; idempotent. */
  destroy(): void;
}
