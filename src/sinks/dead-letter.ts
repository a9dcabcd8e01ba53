// The dead-letter file: every event that will never reach a sink, with the reason, so that
// nothing is dropped silently. JSON lines, appended and fsynced before the range is acknowledged.
import { open, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { ForwarderError } from '../errors.ts';

export const DEAD_LETTER_FILE = 'dead-letter.jsonl';

export type DeadLetterReason =
  | 'invalid-utf8'
  | 'invalid-json'
  | 'not-an-object'
  | 'line-too-long'
  | 'event-too-large'
  | 'rejected-by-sink';

export interface DeadLetterRecord {
  readonly sink: string;
  readonly reason: DeadLetterReason;
  /** Human-readable detail, e.g. the sink's error text. */
  readonly detail: string;
  readonly path: string;
  readonly fileKey: string;
  readonly offset: number;
  /** Length of the line in bytes, when it differs from what is stored (oversize lines). */
  readonly length?: number;
  /** The parsed event, when the line was valid JSON. */
  readonly event?: unknown;
  /** The line as text (invalid JSON, truncated oversize line) or base64 (invalid UTF-8). */
  readonly line?: string;
  readonly lineEncoding?: 'utf8' | 'base64';
  readonly truncated?: boolean;
}

export class DeadLetterFile {
  readonly path: string;
  #handle: FileHandle | undefined;
  #writing: Promise<void> = Promise.resolve();
  readonly #counts = new Map<string, number>();
  #total = 0;

  constructor(stateDir: string) {
    this.path = join(stateDir, DEAD_LETTER_FILE);
  }

  /** Records dead-lettered per "sink\u0000reason". */
  get counts(): ReadonlyMap<string, number> {
    return this.#counts;
  }

  get total(): number {
    return this.#total;
  }

  /** Appends records and fsyncs; resolves only once they are durable. Writes are serialized. */
  write(records: readonly DeadLetterRecord[]): Promise<void> {
    if (records.length === 0) return Promise.resolve();
    const time = new Date().toISOString();
    const text = records.map((record) => JSON.stringify({ time, ...record })).join('\n') + '\n';
    const next = this.#writing.then(async () => {
      try {
        this.#handle ??= await open(this.path, 'a', 0o600);
        await this.#handle.appendFile(text);
        await this.#handle.datasync();
      } catch (error) {
        throw new ForwarderError('KAF_DEAD_LETTER_WRITE', `Cannot write the dead-letter file ${this.path}`, {
          cause: error,
        });
      }
      for (const record of records) {
        const key = `${record.sink}\u0000${record.reason}`;
        this.#counts.set(key, (this.#counts.get(key) ?? 0) + 1);
      }
      this.#total += records.length;
    });
    // A failed write must not poison the next one.
    this.#writing = next.catch(() => undefined);
    return next;
  }

  async close(): Promise<void> {
    await this.#writing;
    await this.#handle?.close();
    this.#handle = undefined;
  }
}
