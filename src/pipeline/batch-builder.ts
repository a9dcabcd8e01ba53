// Accumulates one batch: its raw lines, the dead-letter records found while reading (oversize lines),
// and the file ranges the batch covers, so that acknowledging the batch acknowledges exactly those.
import type { AckTracker, Segment } from '../checkpoint/ack-tracker.ts';
import type { DeadLetterRecord } from '../sinks/dead-letter.ts';
import type { FileRef } from '../source/source.ts';
import { type BatchInput, BatchInputBuilder } from './batch-input.ts';
import { asBuffer, type BufferPool } from './buffer-pool.ts';
import { recordedTime } from './enrich.ts';

/** Lines tried by firstEventTime() before it gives up (invalid lines are not events). */
const SCANNED_FOR_TIME = 10;

export interface BuiltBatch {
  readonly seq: number;
  readonly input: BatchInput;
  readonly deadLetters: readonly DeadLetterRecord[];
  readonly segments: readonly Segment[];
  /** Bytes of lines held, for the lane's memory bound. */
  readonly bytes: number;
}

export class BatchBuilder {
  readonly #tracker: AckTracker;
  readonly #input: BatchInputBuilder;
  #deadLetters: DeadLetterRecord[] = [];
  #segments: Segment[] = [];
  #bytes = 0;
  #firstEventTime: string | undefined;

  /** Lines go into a buffer from `pool`, their table into one from `tablePool`, sized for `expectedLines`. */
  constructor(
    tracker: AckTracker,
    pool: BufferPool,
    initialBytes: number,
    tablePool: BufferPool,
    expectedLines: number,
  ) {
    this.#tracker = tracker;
    this.#input = new BatchInputBuilder(pool, initialBytes, tablePool, expectedLines);
  }

  get lineCount(): number {
    return this.#input.lineCount;
  }

  get deadLetterCount(): number {
    return this.#deadLetters.length;
  }

  get bytes(): number {
    return this.#bytes;
  }

  get isEmpty(): boolean {
    return this.#segments.length === 0;
  }

  /**
   * The time of the first event held, for /status: lines are parsed only once the batch is dispatched, so
   * this parses the first lines (until one has a time) when asked. Lines are in file order, which is close
   * to time order.
   */
  firstEventTime(): string | undefined {
    for (let index = 0; this.#firstEventTime === undefined && index < SCANNED_FOR_TIME; index++) {
      const line = this.#input.line(index);
      if (line === undefined) break;
      this.#firstEventTime = timeOfLine(line);
    }
    return this.#firstEventTime;
  }

  /** A line to parse and encode, source[from, to); [start, end) is its range in the file, '\n' included. */
  addLine(source: Uint8Array, from: number, to: number, file: FileRef, start: number, end: number): void {
    this.#input.addBytes(source, from, to, file, start);
    this.#bytes += to - from;
    this.addRange(file.key, start, end);
  }

  addDeadLetter(record: DeadLetterRecord, fileKey: string, start: number, end: number): void {
    this.#deadLetters.push(record);
    this.#bytes += record.line?.length ?? 0;
    this.addRange(fileKey, start, end);
  }

  /** Covers a range that carries no event (e.g. skipped NUL bytes). */
  addRange(fileKey: string, start: number, end: number): void {
    const last = this.#segments.at(-1);
    const segment = this.#tracker.add(fileKey, start, end, last);
    if (segment !== last) this.#segments.push(segment);
  }

  build(seq: number): BuiltBatch {
    return {
      seq,
      input: this.#input.build(),
      deadLetters: this.#deadLetters,
      segments: this.#segments,
      bytes: this.#bytes,
    };
  }
}

function timeOfLine(line: Uint8Array): string | undefined {
  try {
    const audit = JSON.parse(asBuffer(line).toString('utf8')) as unknown;
    return audit === null || typeof audit !== 'object'
      ? undefined
      : recordedTime(audit as Record<string, unknown>);
  } catch {
    return undefined;
  }
}
