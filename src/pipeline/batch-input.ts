// The raw lines of one batch, copied out of the read buffer (which the source reuses) into a buffer of
// their own, so that the batch can be parsed and encoded later, in a worker thread, and its lines
// dead-lettered if the sink refuses an event. Plain data: it is structured-cloned to workers.
//
// The per-line numbers are typed arrays over one pooled buffer, not arrays: arrays of a thousand numbers
// per batch, alive until the batch is acknowledged, outlived young-generation collections, so the main
// thread's old generation filled with them between full collections (~30 bytes per event).
import type { FileRef } from '../source/source.ts';
import type { BufferPool } from './buffer-pool.ts';

export interface BatchInput {
  /** The lines, one after the other, without their '\n'. */
  readonly lines: Uint8Array;
  /** lineEnds[i]: where line i ends in `lines`; it starts where line i-1 ends. */
  readonly lineEnds: Uint32Array;
  /** Byte offset of line i in its file. */
  readonly lineOffsets: Float64Array;
  /** Index into `files` of line i's file. */
  readonly lineFiles: Uint32Array;
  readonly files: readonly FileRef[];
}

/** Bytes per line of a batch's line table: its offset (8), end (4) and file (4). */
const LINE_TABLE_BYTES_PER_LINE = 16;

/** The typed views of a line table for `capacity` lines, over `buffer` (from a BufferPool: offset 0). */
function lineTableViews(
  buffer: ArrayBuffer,
  capacity: number,
): { offsets: Float64Array; ends: Uint32Array; files: Uint32Array } {
  return {
    offsets: new Float64Array(buffer, 0, capacity),
    ends: new Uint32Array(buffer, capacity * 8, capacity),
    files: new Uint32Array(buffer, capacity * 12, capacity),
  };
}

/** The bytes to acquire for a line table of `lines` lines. */
export function lineTableBytes(lines: number): number {
  return lines * LINE_TABLE_BYTES_PER_LINE;
}

/** Accumulates lines; grows its buffers by doubling. */
export class BatchInputBuilder {
  readonly #pool: BufferPool;
  readonly #tablePool: BufferPool;
  #bytes: Buffer;
  #length = 0;
  #table: ArrayBuffer;
  #capacity: number;
  #offsets: Float64Array;
  #ends: Uint32Array;
  #lineFiles: Uint32Array;
  #count = 0;
  #files: FileRef[] = [];

  /**
   * `pool` gives the lines' buffer, `tablePool` the line table's (for about `expectedLines` lines); both are
   * given back to them with releaseBatchInput().
   */
  constructor(pool: BufferPool, initialBytes: number, tablePool: BufferPool, expectedLines: number) {
    this.#pool = pool;
    this.#tablePool = tablePool;
    this.#bytes = pool.acquire(initialBytes);
    this.#table = tablePool.acquire(lineTableBytes(Math.max(1, expectedLines))).buffer as ArrayBuffer;
    this.#capacity = Math.floor(this.#table.byteLength / LINE_TABLE_BYTES_PER_LINE);
    ({
      offsets: this.#offsets,
      ends: this.#ends,
      files: this.#lineFiles,
    } = lineTableViews(this.#table, this.#capacity));
  }

  get lineCount(): number {
    return this.#count;
  }

  add(line: Uint8Array, file: FileRef, offset: number): void {
    this.addBytes(line, 0, line.length, file, offset);
  }

  /** Adds the line source[from, to), which starts at `offset` in `file`. */
  addBytes(source: Uint8Array, from: number, to: number, file: FileRef, offset: number): void {
    const needed = this.#length + (to - from);
    if (needed > this.#bytes.length) {
      const grown = this.#pool.acquire(Math.max(needed, this.#bytes.length * 2));
      this.#bytes.copy(grown, 0, 0, this.#length);
      this.#pool.release(this.#bytes);
      this.#bytes = grown;
    }
    if (this.#count === this.#capacity) this.#growTable();
    if (Buffer.isBuffer(source)) source.copy(this.#bytes, this.#length, from, to);
    else this.#bytes.set(source.subarray(from, to), this.#length);
    this.#length = needed;
    const index = this.#count++;
    this.#ends[index] = needed;
    this.#offsets[index] = offset;
    let fileIndex = this.#files.length - 1;
    if (this.#files[fileIndex]?.key !== file.key) {
      this.#files.push(file);
      fileIndex++;
    }
    this.#lineFiles[index] = fileIndex;
  }

  /** Line `index` as held so far. */
  line(index: number): Uint8Array | undefined {
    return index < this.#count ? lineAt(this.#bytes, this.#ends, index) : undefined;
  }

  build(): BatchInput {
    const count = this.#count;
    return {
      lines: this.#bytes.subarray(0, this.#length),
      lineEnds: this.#ends.subarray(0, count),
      lineOffsets: this.#offsets.subarray(0, count),
      lineFiles: this.#lineFiles.subarray(0, count),
      files: this.#files,
    };
  }

  #growTable(): void {
    const capacity = this.#capacity * 2;
    const table = this.#tablePool.acquire(lineTableBytes(capacity)).buffer as ArrayBuffer;
    const grown = lineTableViews(table, Math.floor(table.byteLength / LINE_TABLE_BYTES_PER_LINE));
    grown.offsets.set(this.#offsets);
    grown.ends.set(this.#ends);
    grown.files.set(this.#lineFiles);
    this.#tablePool.release(new Uint8Array(this.#table));
    this.#table = table;
    this.#capacity = grown.offsets.length;
    this.#offsets = grown.offsets;
    this.#ends = grown.ends;
    this.#lineFiles = grown.files;
  }
}

/** Gives a batch input's buffers back to the pools its builder took them from. */
export function releaseBatchInput(
  input: BatchInput,
  lines: Uint8Array,
  pool: BufferPool,
  tablePool: BufferPool,
): void {
  pool.release(lines);
  tablePool.release(new Uint8Array(input.lineOffsets.buffer));
}

/** Line `index` of a batch input. */
export function lineOf(input: BatchInput, index: number): Uint8Array {
  return lineAt(input.lines, input.lineEnds, index);
}

function lineAt(lines: Uint8Array, lineEnds: Uint32Array, index: number): Uint8Array {
  const start = index === 0 ? 0 : (lineEnds[index - 1] as number);
  return lines.subarray(start, lineEnds[index]);
}
