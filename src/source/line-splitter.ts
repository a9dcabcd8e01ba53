// Frames a byte stream into lines with exact byte offsets (split2 cannot report offsets).
// Invariant: the items produced cover every byte fed, in order, with no gap or overlap, so a
// consumer that acks every item advances the checkpoint over exactly what was read.
import type { FileRef, SourceItem } from './source.ts';

const NEWLINE = 0x0a;
const NUL = 0x00;

export interface LineSplitterOptions {
  /** A line longer than this is not kept whole; only its head is, and it is reported as oversize. */
  readonly maxLineBytes: number;
  /** How much of an oversize line is kept for the dead-letter record. */
  readonly oversizeHeadBytes?: number;
}

export class LineSplitter {
  #file: FileRef;
  readonly #maxLineBytes: number;
  readonly #headBytes: number;
  /** Bytes of an unfinished line (copied: the caller reuses its read buffer). */
  #pending: Buffer[] = [];
  #pendingBytes = 0;
  /** Offset of the first byte not yet covered by an emitted item. */
  #lineStart: number;
  /** While > 0, the current line is oversize and only its length is being counted. */
  #oversizeLength = 0;
  #oversizeHead: Buffer | undefined;

  constructor(file: FileRef, startOffset: number, options: LineSplitterOptions) {
    this.#file = file;
    this.#lineStart = startOffset;
    this.#maxLineBytes = options.maxLineBytes;
    this.#headBytes = Math.min(options.oversizeHeadBytes ?? 64 * 1024, options.maxLineBytes);
  }

  /** The file items are attributed to; retargeted when the file is renamed (same key, new path). */
  get file(): FileRef {
    return this.#file;
  }

  set file(file: FileRef) {
    this.#file = file;
  }

  /** Offset of the first byte that has not been emitted in an item yet. */
  get committedOffset(): number {
    return this.#lineStart;
  }

  /** Bytes held for an unfinished line. */
  get pendingBytes(): number {
    return this.#oversizeLength > 0 ? this.#oversizeLength : this.#pendingBytes;
  }

  /**
   * Splits `data`, which continues the stream right after everything pushed before. Complete lines come out
   * as chunks over `data` where possible (valid until `data` is reused); a line that began in an earlier
   * push is a chunk of its own, over a copy.
   */
  push(data: Buffer, out: SourceItem[]): void {
    let position = 0;
    // The chunk being gathered: its lines are data[dataStart, dataEnd), the first at file offset chunkStart.
    let lineEnds: number[] = [];
    let chunkStart = this.#lineStart;
    let dataStart = 0;
    let dataEnd = 0;
    const flushLines = (): void => {
      if (lineEnds.length > 0) {
        out.push({
          kind: 'lines',
          file: this.#file,
          start: chunkStart,
          end: this.#lineStart,
          data: data.subarray(dataStart, dataEnd),
          lineEnds,
        });
        lineEnds = [];
      }
      chunkStart = this.#lineStart;
    };

    while (position < data.length) {
      if (this.#pendingBytes === 0 && this.#oversizeLength === 0 && data[position] === NUL) {
        // A hole left by an external truncate while the writer kept its offset: skip and report it.
        let runEnd = position;
        while (runEnd < data.length && data[runEnd] === NUL) runEnd++;
        flushLines();
        const start = this.#lineStart;
        this.#lineStart += runEnd - position;
        this.#mergeSkipped(out, start, this.#lineStart);
        chunkStart = this.#lineStart;
        position = runEnd;
        continue;
      }
      const newline = data.indexOf(NEWLINE, position);
      const segmentEnd = newline === -1 ? data.length : newline;
      if (this.#oversizeLength > 0) {
        this.#oversizeLength += segmentEnd - position;
        if (newline === -1) return;
        flushLines();
        this.#emitOversize(out);
        chunkStart = this.#lineStart;
        position = newline + 1;
        continue;
      }
      const lineLength = this.#pendingBytes + segmentEnd - position;
      if (lineLength > this.#maxLineBytes) {
        flushLines();
        this.#beginOversize(data.subarray(position, segmentEnd), lineLength);
        if (newline === -1) return;
        this.#emitOversize(out);
        chunkStart = this.#lineStart;
        position = newline + 1;
        continue;
      }
      if (newline === -1) {
        this.#pending.push(Buffer.from(data.subarray(position)));
        this.#pendingBytes += data.length - position;
        break;
      }
      if (this.#pendingBytes > 0) {
        flushLines();
        this.#pending.push(data.subarray(position, newline));
        const line = Buffer.concat(this.#pending, lineLength);
        this.#pending = [];
        this.#pendingBytes = 0;
        this.#emitLine(out, line, true);
        chunkStart = this.#lineStart;
        position = newline + 1;
        continue;
      }
      if (lineEnds.length === 0) dataStart = position;
      lineEnds.push(newline - dataStart);
      dataEnd = newline;
      this.#lineStart += lineLength + 1;
      position = newline + 1;
    }
    flushLines();
  }

  /**
   * Ends the stream (the file is final): an unterminated last line is emitted as a line, since
   * no writer will complete it.
   */
  finish(out: SourceItem[]): void {
    if (this.#oversizeLength > 0) {
      this.#emitOversize(out, false);
      return;
    }
    if (this.#pendingBytes === 0) return;
    const line = Buffer.concat(this.#pending, this.#pendingBytes);
    this.#pending = [];
    this.#pendingBytes = 0;
    this.#emitLine(out, line, false);
  }

  /** A chunk of one line (a copy), at the current offset; `terminated`: a '\n' follows it in the file. */
  #emitLine(out: SourceItem[], line: Buffer, terminated: boolean): void {
    const start = this.#lineStart;
    this.#lineStart += line.length + (terminated ? 1 : 0);
    out.push({
      kind: 'lines',
      file: this.#file,
      start,
      end: this.#lineStart,
      data: line,
      lineEnds: [line.length],
    });
  }

  #beginOversize(current: Buffer, lineLength: number): void {
    const head = this.#pendingBytes > 0 ? Buffer.concat([...this.#pending, current]) : current;
    this.#oversizeHead = Buffer.from(head.subarray(0, this.#headBytes));
    this.#oversizeLength = lineLength;
    this.#pending = [];
    this.#pendingBytes = 0;
  }

  #emitOversize(out: SourceItem[], terminated = true): void {
    const start = this.#lineStart;
    const length = this.#oversizeLength;
    this.#lineStart += length + (terminated ? 1 : 0);
    out.push({
      kind: 'oversize',
      file: this.#file,
      start,
      end: this.#lineStart,
      head: this.#oversizeHead ?? Buffer.alloc(0),
      length,
    });
    this.#oversizeLength = 0;
    this.#oversizeHead = undefined;
  }

  #mergeSkipped(out: SourceItem[], start: number, end: number): void {
    const last = out.at(-1);
    if (last?.kind === 'skipped' && last.end === start) {
      out[out.length - 1] = { ...last, end };
      return;
    }
    out.push({ kind: 'skipped', file: this.#file, start, end, reason: 'nul-bytes' });
  }
}
