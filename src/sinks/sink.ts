// The contract every sink implements. Remote failure is a classified result, never a throw:
// the lane owns retrying, dead-lettering and acknowledging.
import type { EventEncoding } from './encoding.ts';

/** Events already in the sink's wire form (its `encoding`). */
export interface Batch {
  /** Sequence number within the lane, for logs. */
  readonly seq: number;
  /** The events' wire forms, one after the other: what the sink writes or sends. */
  readonly payload: Buffer;
  /** ends[i]: where event i's wire form ends in payload; it starts where event i-1's ends. */
  readonly ends: ArrayLike<number>;
}

/** An event the sink refused for good (e.g. an Elasticsearch 400 mapping error). */
export interface Rejection {
  /** Index of the event in the batch. */
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
  /** How the lane encodes events for this sink before send(). */
  readonly encoding: EventEncoding;
  /** Checks that the sink is reachable and usable; throws ForwarderError with a clear message. */
  healthcheck(signal: AbortSignal): Promise<void>;
  send(batch: Batch, signal: AbortSignal): Promise<SendResult>;
  /** Graceful: waits for in-flight work; idempotent. */
  close(): Promise<void>;
  /** Aborts now; idempotent. */
  destroy(): void;
}
