// The JS face of the WebAssembly document writer (wasm/bulk-document.ts): after ObjectScan has accepted a
// line, it writes the line's `_bulk` item inside the module, byte for byte what BulkLineEncoder writes, and
// this copies it out once. It declines what is not the usual line; BulkLineEncoder then writes it in JS.
import { isAscii, isUtf8 } from 'node:buffer';
import type { BatchInput } from '../../pipeline/batch-input.ts';
import { eventIdOf } from '../../pipeline/enrich.ts';
import type { EventOrigin } from '../../pipeline/event.ts';
import type { ObjectScan } from '../../pipeline/json-scan.ts';
import type { ByteWriter } from '../../pipeline/wire-writer.ts';
import { isParsableDay } from './encode.ts';

/** What the writer's part of the module exports (besides the text ids, found by name: see DocumentTexts). */
interface WriterExports {
  readonly memory: WebAssembly.Memory;
  readonly DOCUMENT_HEADER: WebAssembly.Global;
  readonly TEXT_INPUT: WebAssembly.Global;
  readonly IDENTITY: WebAssembly.Global;
  readonly OUTPUT: WebAssembly.Global;
  readonly ROLE_BODY: WebAssembly.Global;
  readonly ROLE_OBJECT: WebAssembly.Global;
  readonly ROLE_OTHER: WebAssembly.Global;
  readonly VERBS: WebAssembly.Global;
  readonly OUTCOME_TO_ID: WebAssembly.Global;
  readonly ORCHESTRATOR_END_TO_OFFSET: WebAssembly.Global;
  readonly VALID_DAY: WebAssembly.Global;
  readonly RUN_LINES: WebAssembly.Global;
  readonly RUN_BYTES: WebAssembly.Global;
  readonly MAX_RUN: WebAssembly.Global;
  readonly RUN_ENDS: WebAssembly.Global;
  readonly RUN_FILES: WebAssembly.Global;
  readonly RUN_OFFSETS: WebAssembly.Global;
  readonly RUN_RESULTS: WebAssembly.Global;
  readonly RESULT_FIELDS: WebAssembly.Global;
  readonly MAX_RUN_FILES: WebAssembly.Global;
  readonly RUN_FILE_TEXTS: WebAssembly.Global;
  writeRun(count: number): number;
  setText(id: number, length: number): number;
  setVerbCount(count: number): void;
  setMemberRole(id: number, role: number): void;
  setChildField(parent: number, child: number, field: number): void;
  writeDocument(length: number, offset: number): number;
}

// writeDocument()'s results, i32s at DOCUMENT_HEADER.
const ID_AT = 0;
const ID_AT_2 = 1;
const IDENTITY_LENGTH = 2;
const TIME_START = 3;
const TIME_END = 4;
const DECLINED = 5;
const DAY_AT = 6;
// writeRun()'s, in the same header.
const RUN_OLDEST = 8;
const RUN_FULL = 9;
// Fields of a line's result (RUN_RESULTS).
const DOCUMENT_END = 0;
const RESULT_ID_AT = 1;
const RESULT_ID_AT_2 = 2;
const IDENTITY_START = 3;
const RESULT_IDENTITY_LENGTH = 4;
const RESULT_TIME_START = 5;
const RESULT_TIME_END = 6;
/** DECLINED: the writer needs to know whether the day at DAY_AT is valid (Date.parse's rules, not its own). */
const NEEDS_DAY = 1;
const DATE_LENGTH = 10;
/** The fewest lines a run copies (see #runSize). */
const MIN_RUN = 16;
/** Identity views of up to this many bytes are kept (#identityOf). */
const MAX_KEPT_VIEW = 1024;

/** The text the documents are made of, which the module has no copy of: BulkLineEncoder's own. */
export interface DocumentTexts {
  /** By the module's names for them (ACTION_OPEN, MESSAGE_OPEN...): all of them but those below. */
  readonly named: Readonly<Record<string, Uint8Array>>;
  /** The typed verbs' JSON texts. */
  readonly verbs: readonly Uint8Array[];
  /** event.type's JSON by verb (an index of `verbs`, or their count for any other), then decision (3 each). */
  readonly eventTypes: readonly Uint8Array[];
  /** event.outcome's value up to event.id's, for success, failure, unknown. */
  readonly outcomesToId: readonly [Uint8Array, Uint8Array, Uint8Array];
  /** From orchestrator's end to log.offset's value, for a file's path. */
  fileText(path: string): Uint8Array;
}

class TextTooLong extends Error {}

/** Where a batch's events are noted as they are written (encodeBatch's table). */
export interface EventTable {
  /** Where each event's document ends in the output. */
  readonly ends: Uint32Array;
  /** The line each event is from. */
  readonly lines: Uint32Array;
  count: number;
  /** The earliest event time so far. */
  oldest: string | undefined;
}

/** How a known key (by its id in the scan's knownKeys) is read as a top-level member. */
export type MemberRole = number | 'body' | 'object' | 'other' | undefined;

export class BulkDocument {
  readonly #exports: WriterExports;
  readonly #texts: DocumentTexts;
  readonly #header: Int32Array;
  readonly #textInput: Uint8Array;
  readonly #identity: Buffer;
  readonly #identityViews: (Uint8Array | undefined)[] = [];
  readonly #output: Buffer;
  readonly #runLines: Uint8Array;
  readonly #runEnds: Int32Array;
  readonly #runFiles: Int32Array;
  readonly #runOffsets: Float64Array;
  readonly #runResults: Int32Array;
  readonly #resultFields: number;
  readonly #maxRun: number;
  readonly #maxRunFiles: number;
  readonly #runFileTexts: number;
  /** How many lines the next run copies at most: fewer after runs that stopped early (see writeRun). */
  #runSize: number;
  /** The path whose text each run file slot holds. */
  readonly #runFilePaths: (string | undefined)[] = [];
  #path: string | undefined;
  /** Whether the current file's text fits the module (a path of thousands of bytes does not). */
  #pathFits = false;

  /**
   * A writer for documents of `texts`, or undefined when they do not fit its room for text (a cluster name
   * of many KB). `roles`: by known key id; `childFields`: by known key id, for 'object' members, the field
   * each known key among its keys is (-1: none).
   */
  static create(
    scan: ObjectScan,
    texts: DocumentTexts,
    roles: readonly MemberRole[],
    childFields: readonly (Int8Array | undefined)[],
  ): BulkDocument | undefined {
    try {
      return new BulkDocument(scan, texts, roles, childFields);
    } catch (error) {
      if (error instanceof TextTooLong) return undefined;
      throw error;
    }
  }

  private constructor(
    scan: ObjectScan,
    texts: DocumentTexts,
    roles: readonly MemberRole[],
    childFields: readonly (Int8Array | undefined)[],
  ) {
    const exports = scan.moduleExports as unknown as WriterExports;
    this.#exports = exports;
    this.#texts = texts;
    const { buffer } = exports.memory;
    const address = (global: WebAssembly.Global): number => global.value as number;
    const id = (name: string): number => {
      const global = (exports as unknown as Record<string, WebAssembly.Global | undefined>)[name];
      if (global === undefined) throw new Error(`the document writer has no text ${name}`);
      return address(global);
    };
    this.#header = new Int32Array(buffer, address(exports.DOCUMENT_HEADER), 16);
    this.#maxRun = address(exports.MAX_RUN);
    this.#runSize = this.#maxRun;
    this.#resultFields = address(exports.RESULT_FIELDS);
    this.#maxRunFiles = address(exports.MAX_RUN_FILES);
    this.#runFileTexts = address(exports.RUN_FILE_TEXTS);
    this.#runLines = new Uint8Array(buffer, address(exports.RUN_LINES), address(exports.RUN_BYTES));
    this.#runEnds = new Int32Array(buffer, address(exports.RUN_ENDS), this.#maxRun);
    this.#runFiles = new Int32Array(buffer, address(exports.RUN_FILES), this.#maxRun);
    this.#runOffsets = new Float64Array(buffer, address(exports.RUN_OFFSETS), this.#maxRun);
    this.#runResults = new Int32Array(
      buffer,
      address(exports.RUN_RESULTS),
      this.#maxRun * this.#resultFields,
    );
    this.#textInput = new Uint8Array(buffer, address(exports.TEXT_INPUT), 16 * 1024);
    this.#identity = Buffer.from(
      buffer,
      address(exports.IDENTITY),
      address(exports.OUTPUT) - address(exports.IDENTITY),
    );
    this.#output = Buffer.from(buffer, address(exports.OUTPUT), buffer.byteLength - address(exports.OUTPUT));
    for (const [name, text] of Object.entries(texts.named)) this.#setText(id(name), text);
    const verbs = address(exports.VERBS);
    const lists: [number, readonly Uint8Array[]][] = [
      [verbs, texts.verbs],
      [verbs + texts.verbs.length, texts.eventTypes],
      [address(exports.OUTCOME_TO_ID), texts.outcomesToId],
    ];
    for (const [first, list] of lists)
      for (const [index, text] of list.entries()) this.#setText(first + index, text);
    exports.setVerbCount(texts.verbs.length);
    roles.forEach((role, keyId) => {
      if (role === undefined) return;
      const code =
        role === 'body'
          ? exports.ROLE_BODY
          : role === 'object'
            ? exports.ROLE_OBJECT
            : role === 'other'
              ? exports.ROLE_OTHER
              : role;
      exports.setMemberRole(keyId, typeof code === 'number' ? code : address(code));
    });
    childFields.forEach((fields, parent) => {
      fields?.forEach((field, child) => {
        if (field !== -1) exports.setChildField(parent, child, field);
      });
    });
  }

  /**
   * Writes the `_bulk` item of `line`, which the scan has just accepted, and returns the event's timestamp;
   * undefined (nothing written) when the line is the JS encoder's.
   */
  write(line: Buffer, encoding: BufferEncoding, origin: EventOrigin, out: ByteWriter): string | undefined {
    if (origin.path !== this.#path) {
      this.#path = origin.path;
      this.#pathFits = this.#trySetText(
        this.#textId('ORCHESTRATOR_END_TO_OFFSET'),
        this.#texts.fileText(origin.path),
      );
    }
    if (!this.#pathFits) return undefined;
    const exports = this.#exports;
    const header = this.#header;
    let length = exports.writeDocument(line.length, origin.offset);
    if (length === 0) {
      if (header[DECLINED] !== NEEDS_DAY || !this.#learnDay(line, header[DAY_AT] as number)) return undefined;
      length = exports.writeDocument(line.length, origin.offset);
      if (length === 0) return undefined;
    }
    const id = eventIdOf(this.#identityOf(header[IDENTITY_LENGTH] as number));
    const start = out.length;
    out.copy(this.#output, 0, length);
    out.writeAsciiAt(start + (header[ID_AT] as number), id);
    out.writeAsciiAt(start + (header[ID_AT_2] as number), id);
    return line.toString(encoding, header[TIME_START], header[TIME_END]);
  }

  /**
   * Writes the documents of input's lines (`lines` is input.lines) from `from` on, as long as it takes them,
   * in runs of lines written without a call per line, and notes each in `events`. Returns the index of the
   * first line it did not write: one longer than `maxLineBytes` or that it declines (the per-line path's).
   */
  writeRun(
    input: BatchInput,
    lines: Buffer,
    from: number,
    maxLineBytes: number,
    out: ByteWriter,
    events: EventTable,
  ): number {
    const { lineEnds } = input;
    let line = from;
    while (line < lineEnds.length) {
      const end = this.#runEnd(input, lines, line, maxLineBytes);
      if (end === line) return line;
      const runStart = line === 0 ? 0 : (lineEnds[line - 1] as number);
      this.#runLines.set(lines.subarray(runStart, lineEnds[end - 1]));
      for (let index = line; index < end; index++) {
        this.#runEnds[index - line] = (lineEnds[index] as number) - runStart;
        this.#runFiles[index - line] = this.#runFileTexts + (input.lineFiles[index] as number);
        this.#runOffsets[index - line] = input.lineOffsets[index] as number;
      }
      const written = this.#exports.writeRun(end - line);
      this.#copyRun(written, line, input, lines, out, events);
      line += written;
      const declined = line < end && this.#header[RUN_FULL] === 0;
      // Lines copied past a declined one are copied again by the next run: after short runs, copy fewer.
      this.#runSize = declined ? Math.max(MIN_RUN, Math.min(this.#maxRun, written * 2)) : this.#maxRun;
      if (declined) return line;
    }
    return line;
  }

  /**
   * Where a run from `line` ends: at most MAX_RUN lines of RUN_BYTES, none longer than `maxLineBytes`, all
   * valid UTF-8 (the module does not check), of files whose text the module has.
   */
  #runEnd(input: BatchInput, lines: Buffer, line: number, maxLineBytes: number): number {
    const { lineEnds } = input;
    const runStart = line === 0 ? 0 : (lineEnds[line - 1] as number);
    const limit = Math.min(lineEnds.length, line + this.#runSize);
    let end = line;
    let lineStart = runStart;
    while (end < limit) {
      const lineEnd = lineEnds[end] as number;
      if (lineEnd - runStart > this.#runLines.length || lineEnd - lineStart > maxLineBytes) break;
      if (!this.#hasRunFile(input, input.lineFiles[end] as number)) break;
      lineStart = lineEnd;
      end++;
    }
    // Lines end at '\n', which no multi-byte sequence holds: the run is valid if each of its lines is.
    const run = lines.subarray(runStart, lineEnds[end - 1]);
    // isAscii first: quicker, and most lines are.
    if (end > line && !isAscii(run) && !isUtf8(run)) {
      lineStart = runStart;
      for (let index = line; index < end; index++) {
        const lineEnd = lineEnds[index] as number;
        if (!isUtf8(lines.subarray(lineStart, lineEnd))) return index;
        lineStart = lineEnd;
      }
    }
    return end;
  }

  /** Whether the module has the text of input's file `file` (giving it, if it has room), for a run. */
  #hasRunFile(input: BatchInput, file: number): boolean {
    if (file >= this.#maxRunFiles) return false;
    const path = (input.files[file] as { readonly path: string }).path;
    if (this.#runFilePaths[file] === path) return true;
    const fits = this.#trySetText(this.#runFileTexts + file, this.#texts.fileText(path));
    this.#runFilePaths[file] = fits ? path : undefined;
    return fits;
  }

  /** Copies the documents of a run's first `written` lines (from line `first`) to `out`, with their ids. */
  #copyRun(
    written: number,
    first: number,
    input: BatchInput,
    lines: Buffer,
    out: ByteWriter,
    events: EventTable,
  ): void {
    if (written === 0) return;
    const results = this.#runResults;
    const fields = this.#resultFields;
    const start = out.length;
    out.copy(this.#output, 0, results[(written - 1) * fields + DOCUMENT_END] as number);
    for (let index = 0; index < written; index++) {
      const result = index * fields;
      const identityStart = results[result + IDENTITY_START] as number;
      const id = eventIdOf(
        this.#identity.subarray(
          identityStart,
          identityStart + (results[result + RESULT_IDENTITY_LENGTH] as number),
        ),
      );
      out.writeAsciiAt(start + (results[result + RESULT_ID_AT] as number), id);
      out.writeAsciiAt(start + (results[result + RESULT_ID_AT_2] as number), id);
      events.ends[events.count] = start + (results[result + DOCUMENT_END] as number);
      events.lines[events.count++] = first + index;
    }
    const oldest = this.#header[RUN_OLDEST] as number;
    if (oldest === -1) return;
    const line = first + oldest;
    const lineStart = line === 0 ? 0 : (input.lineEnds[line - 1] as number);
    const time = lines.toString(
      'latin1',
      lineStart + (results[oldest * fields + RESULT_TIME_START] as number),
      lineStart + (results[oldest * fields + RESULT_TIME_END] as number),
    );
    if (events.oldest === undefined || time < events.oldest) events.oldest = time;
  }

  /** The identity's bytes: a view kept per length (a cluster's identities come in few lengths). */
  #identityOf(length: number): Uint8Array {
    let view = this.#identityViews[length];
    if (view === undefined) {
      view = this.#identity.subarray(0, length);
      if (length < MAX_KEPT_VIEW) this.#identityViews[length] = view;
    }
    return view;
  }

  /** Tells the writer the day at `at` is valid, if Date.parse takes it (as BulkLineEncoder asks). */
  #learnDay(line: Buffer, at: number): boolean {
    const day = line.subarray(at, at + DATE_LENGTH);
    if (!isParsableDay(day.toString('latin1'))) return false;
    this.#setText(this.#textId('VALID_DAY'), day);
    return true;
  }

  #textId(name: 'ORCHESTRATOR_END_TO_OFFSET' | 'VALID_DAY'): number {
    return this.#exports[name].value as number;
  }

  #setText(id: number, text: Uint8Array): void {
    if (!this.#trySetText(id, text)) throw new TextTooLong(`the document writer has no room for text ${id}`);
  }

  #trySetText(id: number, text: Uint8Array): boolean {
    if (text.length > this.#textInput.length) return false;
    this.#textInput.set(text);
    return this.#exports.setText(id, text.length) === 1;
  }
}
