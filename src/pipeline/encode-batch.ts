// Parses, enriches, fits and encodes the lines of one batch into the sink's wire form: the per-event
// hot path. Pure, so that it runs the same in a worker thread and on the main thread.
import type { DeadLetterRecord } from '../sinks/dead-letter.ts';
import type { EventTable } from '../sinks/elasticsearch/bulk-document.ts';
import { BulkLineEncoder } from '../sinks/elasticsearch/encode-line.ts';
import { type EventEncoding, writeEvent } from '../sinks/encoding.ts';
import type { BatchInput } from './batch-input.ts';
import { asBuffer } from './buffer-pool.ts';
import { type EnrichContext, parseAuditLine } from './enrich.ts';
import { fitEvent } from './size-policy.ts';
import { ByteWriter } from './wire-writer.ts';

export interface EncodeJob {
  /** The sink's name, for dead-letter records. */
  readonly sink: string;
  readonly encoding: EventEncoding;
  readonly enrich: EnrichContext;
  readonly maxEventBytes: number;
  readonly input: BatchInput;
  /** Where the wire forms are written (a bigger buffer is allocated if it is too small). */
  readonly output: Uint8Array;
  /**
   * Where the events' ends and lines are written: eventTableBytes(lines) bytes from a BufferPool (a
   * bigger one is allocated if it is too small). Transferred to a worker and back, like `output`.
   */
  readonly eventTable: Uint8Array;
}

export interface EncodedBatch {
  /** The events' wire forms, one after the other: in job.output unless that was too small. */
  readonly payload: Uint8Array;
  /** job.input.lines, handed back (a worker gets them transferred, not copied). */
  readonly lines: Uint8Array;
  /** eventEnds[i]: where event i's wire form ends in payload; it starts where event i-1's ends. */
  readonly eventEnds: Uint32Array;
  /** The input line event i came from. eventEnds and eventLines are views of one buffer (job.eventTable's). */
  readonly eventLines: Uint32Array;
  /** Lines that are no events (invalid UTF-8 or JSON) or too large even after shrinking. */
  readonly deadLetters: readonly DeadLetterRecord[];
  /** Events that lost request/response bodies to fit the sink. */
  readonly shrunk: number;
  readonly oldestEventTime: string | undefined;
}

/**
 * Elasticsearch line encoders kept across batches, by sink target and enrichment: one keeps its scratch space
 * (and its constant text, prepared once), which a new one per batch would build again. One per thread; as
 * many entries as the config has Elasticsearch sinks.
 */
export class LineEncoders {
  readonly #byKey = new Map<string, BulkLineEncoder>();
  readonly #options: { readonly webAssemblyDocuments?: boolean };

  /** `webAssemblyDocuments: false`: every document written in JS, line by line (tests compare the two). */
  constructor(options: { readonly webAssemblyDocuments?: boolean } = {}) {
    this.#options = options;
  }

  for(encoding: EventEncoding, enrich: EnrichContext): BulkLineEncoder | undefined {
    if (encoding.format !== 'elasticsearch-bulk') return undefined;
    // Jobs reach a worker structured-cloned: the key is their content, not their identity.
    const key = JSON.stringify([encoding.target, enrich.cluster, enrich.node]);
    let encoder = this.#byKey.get(key);
    if (encoder === undefined) {
      encoder = new BulkLineEncoder(encoding.target, enrich, this.#options);
      this.#byKey.set(key, encoder);
    }
    return encoder;
  }
}

/** The most lines runs wait after lines they did not take (each such attempt costs a scan more). */
const MAX_RUN_PAUSE = 64;

export function encodeBatch(job: EncodeJob, encoders: LineEncoders = new LineEncoders()): EncodedBatch {
  const { input, encoding, enrich, maxEventBytes, sink } = job;
  // A detached (transferred) buffer reads as empty: never take that for a batch without events.
  if (input.lines.byteLength !== (input.lineEnds.at(-1) ?? 0)) {
    throw new Error(
      `batch input holds ${input.lines.byteLength} bytes, its lines end at ${input.lineEnds.at(-1) ?? 0}`,
    );
  }
  const lines = asBuffer(input.lines);
  const output = new ByteWriter(asBuffer(job.output));
  const lineCount = input.lineEnds.length;
  const table = eventTableViews(job.eventTable, lineCount);
  const events: EventTable = { ends: table.ends, lines: table.lines, count: 0, oldest: undefined };
  const deadLetters: DeadLetterRecord[] = [];
  let shrunk = 0;
  // Elasticsearch documents are written straight from the lines' bytes: in runs of lines where the
  // WebAssembly writer takes them, else line by line; what that path leaves is parsed.
  const lineEncoder = encoders.for(encoding, enrich);
  /** The first line a run may start at: a line a run stopped at goes by itself. */
  let runFrom = 0;
  /** How many lines after one that no run took runs wait: it doubles while runs take none. */
  let runPause = 1;
  for (let index = 0; index < lineCount; index++) {
    if (lineEncoder !== undefined && index >= runFrom) {
      const next = lineEncoder.encodeRun(input, lines, index, maxEventBytes, output, events);
      if (next === lineCount) break;
      runPause = next === index ? Math.min(runPause * 2, MAX_RUN_PAUSE) : 1;
      runFrom = next + runPause;
      index = next;
    }
    const line = lines.subarray(index === 0 ? 0 : input.lineEnds[index - 1], input.lineEnds[index]);
    const file = input.files[input.lineFiles[index] as number];
    if (file === undefined) throw new Error(`batch input line ${index} has no file`);
    const origin = { path: file.path, fileKey: file.key, offset: input.lineOffsets[index] as number };
    if (lineEncoder !== undefined && line.length <= maxEventBytes) {
      const timestamp = lineEncoder.encode(line, origin, output);
      if (timestamp !== undefined) {
        noteEvent(events, output.length, index, timestamp);
        continue;
      }
    }
    const parsed = parseAuditLine(line, origin, enrich);
    if (!parsed.ok) {
      const utf8 = parsed.reason !== 'invalid-utf8';
      deadLetters.push({
        sink,
        reason: parsed.reason,
        detail: parsed.detail,
        ...origin,
        line: line.toString(utf8 ? 'utf8' : 'base64'),
        lineEncoding: utf8 ? 'utf8' : 'base64',
      });
      continue;
    }
    const fitted = fitEvent(parsed.event, maxEventBytes, line.length);
    if (!fitted.fits) {
      deadLetters.push({
        sink,
        reason: 'event-too-large',
        detail: `event is ${fitted.sizeBytes} bytes after dropping request/response bodies; the sink takes ${maxEventBytes}`,
        ...origin,
        event: parsed.event.audit,
      });
      continue;
    }
    const event = fitted.event;
    if (event.shrunk) shrunk++;
    // An ASCII line is its text byte for byte: spans of it are copied rather than re-encoded.
    output.startEvent(event.raw, !event.shrunk && event.raw.length === line.length ? line : undefined);
    writeEvent(encoding, event, output);
    noteEvent(events, output.length, index, event.timestamp);
  }
  return {
    payload: output.bytes(),
    lines: input.lines,
    eventEnds: events.ends.subarray(0, events.count),
    eventLines: events.lines.subarray(0, events.count),
    deadLetters,
    shrunk,
    oldestEventTime: events.oldest,
  };
}

function noteEvent(events: EventTable, end: number, line: number, timestamp: string): void {
  events.ends[events.count] = end;
  events.lines[events.count++] = line;
  if (events.oldest === undefined || timestamp < events.oldest) events.oldest = timestamp;
}

/** The bytes of an event table for a batch of `lines` lines: an end and a line index (4 bytes each) per event. */
export function eventTableBytes(lines: number): number {
  return lines * 8;
}

/** Views of `table` for the events of `lines` lines, or of a new buffer if it is too small or misaligned. */
function eventTableViews(table: Uint8Array, lines: number): { ends: Uint32Array; lines: Uint32Array } {
  const usable = table.byteLength >= eventTableBytes(lines) && table.byteOffset % 4 === 0;
  const buffer = usable ? (table.buffer as ArrayBuffer) : new ArrayBuffer(eventTableBytes(lines));
  const offset = usable ? table.byteOffset : 0;
  return {
    ends: new Uint32Array(buffer, offset, lines),
    lines: new Uint32Array(buffer, offset + lines * 4, lines),
  };
}

/** The output size to reserve for `inputBytes` of lines: wire forms are larger than the lines. */
export function outputBytesFor(inputBytes: number): number {
  return inputBytes * 2 + 64 * 1024;
}
