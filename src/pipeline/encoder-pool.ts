// Where batches are encoded: on worker threads, so that parsing and encoding (most of the CPU per event)
// use the other cores while the main thread reads, sends and acknowledges; or inline, with no workers.
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import type { Logger } from 'pino';
import { type EncodeJob, type EncodedBatch, encodeBatch, LineEncoders } from './encode-batch.ts';
import type { EncodeRequest, EncodeResponse } from './encode-worker.ts';

export interface BatchEncoder {
  encode(job: EncodeJob): Promise<EncodedBatch>;
  /** Stops the workers; jobs still running are finished inline. Idempotent. */
  close(): Promise<void>;
}

/** Encodes on the calling thread. */
export class InlineEncoder implements BatchEncoder {
  readonly #encoders = new LineEncoders();

  encode(job: EncodeJob): Promise<EncodedBatch> {
    try {
      return Promise.resolve(encodeBatch(job, this.#encoders));
    } catch (error) {
      return Promise.reject(error instanceof Error ? error : new Error(String(error)));
    }
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}

const WORKER_YOUNG_GENERATION_MB = 12;

/**
 * `auto`: one worker per CPU but one, which the main thread (reading, sending, acknowledging) and the rest
 * of the node keep; none on a single CPU; at most 2, because each costs ~25 MB of RSS and a container's
 * CPU count is the node's (a CPU limit does not lower it). More can be set.
 */
export function encodeWorkerCount(setting: number | 'auto', cpus = availableParallelism()): number {
  if (setting !== 'auto') return setting;
  return cpus <= 1 ? 0 : Math.min(AUTO_MAX_WORKERS, cpus - 1);
}

const AUTO_MAX_WORKERS = 2;

/** The encoder a forwarder uses: inline with 0 workers. */
export function createBatchEncoder(workers: number, log: Logger): BatchEncoder {
  return workers === 0 ? new InlineEncoder() : new WorkerPoolEncoder(workers, log);
}

interface PooledWorker {
  readonly worker: Worker;
  readonly pending: Map<number, (response: EncodeResponse | Error) => void>;
}

// Source runs as .ts, the built package as .js.
const WORKER_URL = new URL(
  import.meta.url.endsWith('.ts') ? './encode-worker.ts' : './encode-worker.js',
  import.meta.url,
);

/**
 * A fixed pool of encoder workers, each job to the least busy one. A worker that fails (e.g. out of
 * memory on a huge event) is replaced, and its jobs are encoded inline: a batch is never lost to it.
 */
export class WorkerPoolEncoder implements BatchEncoder {
  readonly #log: Logger;
  readonly #workers: (PooledWorker | undefined)[];
  #nextId = 1;
  #closed = false;
  /** For the jobs encoded inline (after close, or when a worker could not). */
  readonly #inlineEncoders = new LineEncoders();

  constructor(size: number, log: Logger) {
    this.#log = log;
    this.#workers = Array.from({ length: size }, () => undefined);
  }

  /**
   * Encodes on a worker; if the job fails there, inline. The job's buffers are transferred, so if the
   * worker dies with them this rejects (the lane then stops, and the batch is re-read on restart).
   */
  async encode(job: EncodeJob): Promise<EncodedBatch> {
    if (this.#closed) return encodeBatch(job, this.#inlineEncoders);
    const pooled = this.#leastBusy();
    const id = this.#nextId++;
    const response = await new Promise<EncodeResponse | Error>((resolve) => {
      pooled.pending.set(id, resolve);
      pooled.worker.ref();
      // Transferred, not copied: the lane gets them back with the result. The line table is copied (the
      // lane keeps it for dead-letter records); it is a few KB.
      pooled.worker.postMessage({ id, job } satisfies EncodeRequest, [
        ...new Set([job.input.lines.buffer, job.output.buffer, job.eventTable.buffer] as ArrayBuffer[]),
      ]);
    });
    if (response instanceof Error) throw response;
    if ('error' in response) {
      this.#log.warn(
        { reason: response.error },
        'A batch could not be encoded on a worker thread; encoding it inline.',
      );
      return encodeBatch(response.job, this.#inlineEncoders);
    }
    return response.result;
  }

  async close(): Promise<void> {
    this.#closed = true;
    const workers = this.#workers.splice(0).filter((pooled) => pooled !== undefined);
    await Promise.all(workers.map((pooled) => pooled.worker.terminate()));
  }

  #leastBusy(): PooledWorker {
    let best = 0;
    for (let index = 0; index < this.#workers.length; index++) {
      const candidate = this.#workers[index];
      if (candidate === undefined) {
        best = index;
        break;
      }
      if (candidate.pending.size < (this.#workers[best]?.pending.size ?? 0)) best = index;
    }
    return this.#workers[best] ?? this.#start(best);
  }

  #start(slot: number): PooledWorker {
    const worker = new Worker(WORKER_URL, {
      name: `encoder-${slot}`,
      // V8 would grow each worker's young generation to ~48 MB; the garbage here is short-lived per
      // event, so a small one costs little CPU and keeps RSS down (measured in bench/).
      resourceLimits: { maxYoungGenerationSizeMb: WORKER_YOUNG_GENERATION_MB },
    });
    // Only a worker with jobs keeps the process alive.
    worker.unref();
    const pooled: PooledWorker = { worker, pending: new Map() };
    worker.on('message', (response: EncodeResponse) => {
      const resolve = pooled.pending.get(response.id);
      pooled.pending.delete(response.id);
      if (pooled.pending.size === 0) worker.unref();
      resolve?.(response);
    });
    const fail = (error: Error): void => {
      if (this.#workers[slot] === pooled) this.#workers[slot] = undefined;
      for (const resolve of pooled.pending.values()) resolve(error);
      pooled.pending.clear();
    };
    worker.on('error', (error: Error) => {
      this.#log.error({ err: error, worker: slot }, 'An encoder worker failed; starting a new one.');
      fail(error);
    });
    worker.on('exit', (code) => {
      fail(new Error(`encoder worker exited with code ${code}`));
    });
    this.#workers[slot] = pooled;
    return pooled;
  }
}
