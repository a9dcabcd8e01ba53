// Writes enriched events as JSON lines to a stream (stdout in the daemon); acknowledges a batch
// once the stream has accepted it, waiting for 'drain' so a slow reader applies backpressure.
import type { Writable } from 'node:stream';
import type { EventEncoding } from '../encoding.ts';
import type { Batch, SendResult, Sink } from '../sink.ts';

const DEFAULT_MAX_EVENT_BYTES = 64 * 1024 * 1024;

export class StdoutSink implements Sink {
  readonly name: string;
  readonly type = 'stdout';
  readonly maxEventBytes: number;
  readonly encoding: EventEncoding = { format: 'enriched-json' };
  readonly #stream: Writable;
  #tail: Promise<unknown> = Promise.resolve();

  constructor(options: { name: string; maxEventBytes?: number }, stream: Writable) {
    this.name = options.name;
    this.maxEventBytes = options.maxEventBytes ?? DEFAULT_MAX_EVENT_BYTES;
    this.#stream = stream;
  }

  healthcheck(): Promise<void> {
    return Promise.resolve();
  }

  send(batch: Batch): Promise<SendResult> {
    const result = this.#tail.then(() => this.#write(batch));
    this.#tail = result;
    return result;
  }

  #write(batch: Batch): Promise<SendResult> {
    return new Promise((resolve) => {
      this.#stream.write(batch.payload, (error) => {
        resolve(error ? { status: 'retryable', reason: error.message } : { status: 'delivered' });
      });
    });
  }

  async close(): Promise<void> {
    await this.#tail.catch(() => undefined);
  }

  destroy(): void {
    // Nothing to abort: writes to the stream are already handed over.
  }
}
