// Accumulates one batch: events, dead-letter records, and the file ranges the batch covers, so
// that acknowledging the batch acknowledges exactly those ranges.
import type { AckTracker, Segment } from '../checkpoint/ack-tracker.ts';
import type { DeadLetterRecord } from '../sinks/dead-letter.ts';
import type { OutEvent } from './event.ts';

export interface BuiltBatch {
  readonly seq: number;
  readonly events: readonly OutEvent[];
  readonly deadLetters: readonly DeadLetterRecord[];
  readonly segments: readonly Segment[];
  readonly bytes: number;
  readonly oldestEventTime: string | undefined;
}

export class BatchBuilder {
  readonly #tracker: AckTracker;
  #events: OutEvent[] = [];
  #deadLetters: DeadLetterRecord[] = [];
  #segments: Segment[] = [];
  #bytes = 0;
  #oldestEventTime: string | undefined;

  constructor(tracker: AckTracker) {
    this.#tracker = tracker;
  }

  get eventCount(): number {
    return this.#events.length;
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

  get oldestEventTime(): string | undefined {
    return this.#oldestEventTime;
  }

  addEvent(event: OutEvent, bytes: number, fileKey: string, start: number, end: number): void {
    this.#events.push(event);
    this.#bytes += bytes;
    if (this.#oldestEventTime === undefined || event.timestamp < this.#oldestEventTime) {
      this.#oldestEventTime = event.timestamp;
    }
    this.addRange(fileKey, start, end);
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
      events: this.#events,
      deadLetters: this.#deadLetters,
      segments: this.#segments,
      bytes: this.#bytes,
      oldestEventTime: this.#oldestEventTime,
    };
  }
}
