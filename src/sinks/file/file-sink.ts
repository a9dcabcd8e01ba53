// Writes enriched events as JSON lines to a local file (append, fsync per batch). Also the demo's
// sink and the reference for tests: a batch is acknowledged only once it is on disk.
import { mkdir, open, truncate, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import { describeError, ForwarderError } from '../../errors.ts';
import { lineAlignedEnd } from '../../source/line-aligned-end.ts';
import type { EventEncoding } from '../encoding.ts';
import type { Batch, SendResult, Sink } from '../sink.ts';

export interface FileSinkOptions {
  readonly name: string;
  readonly path: string;
  readonly maxEventBytes?: number;
}

const DEFAULT_MAX_EVENT_BYTES = 64 * 1024 * 1024;

export class FileSink implements Sink {
  readonly name: string;
  readonly type = 'file';
  readonly maxEventBytes: number;
  readonly encoding: EventEncoding = { format: 'enriched-json' };
  readonly #path: string;
  #handle: FileHandle | undefined;
  /** Sends are serialized so that batches land in the order they were dispatched. */
  #tail: Promise<unknown> = Promise.resolve();

  constructor(options: FileSinkOptions) {
    this.name = options.name;
    this.#path = options.path;
    this.maxEventBytes = options.maxEventBytes ?? DEFAULT_MAX_EVENT_BYTES;
  }

  async healthcheck(): Promise<void> {
    try {
      await this.#open();
    } catch (error) {
      throw new ForwarderError('KAF_SINK_HEALTHCHECK', `Sink ${this.name}: cannot open ${this.#path}`, {
        cause: error,
      });
    }
  }

  send(batch: Batch): Promise<SendResult> {
    const result = this.#tail.then(() => this.#write(batch));
    this.#tail = result;
    return result;
  }

  async #write(batch: Batch): Promise<SendResult> {
    try {
      const handle = await this.#open();
      await handle.appendFile(batch.payload);
      await handle.datasync();
      return { status: 'delivered' };
    } catch (error) {
      // A full disk or a vanished directory may recover; the lane retries with backoff.
      await this.#handle?.close().catch(() => undefined);
      this.#handle = undefined;
      return { status: 'retryable', reason: `cannot write ${this.#path}: ${describeError(error)}` };
    }
  }

  async #open(): Promise<FileHandle> {
    if (!this.#handle) {
      await mkdir(dirname(this.#path), { recursive: true });
      await repairTornTail(this.#path);
      this.#handle = await open(this.#path, 'a', 0o600);
    }
    return this.#handle;
  }

  async close(): Promise<void> {
    await this.#tail.catch(() => undefined);
    await this.#handle?.close();
    this.#handle = undefined;
  }

  destroy(): void {
    void this.#handle?.close().catch(() => undefined);
    this.#handle = undefined;
  }
}

/**
 * A crash in the middle of an append can leave a partial last line. That batch was never
 * acknowledged, so it will be sent again: cut the fragment off so the file stays valid JSON lines.
 */
async function repairTornTail(path: string): Promise<void> {
  let handle: FileHandle;
  try {
    handle = await open(path, 'r');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw error;
  }
  let keep: number;
  try {
    const { size } = await handle.stat();
    keep = await lineAlignedEnd(handle, size);
    if (keep === size) return;
  } finally {
    await handle.close();
  }
  await truncate(path, keep);
}
