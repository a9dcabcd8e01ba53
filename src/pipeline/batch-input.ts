// The raw lines of one batch, copied out of the read buffer (which the source reuses) into a buffer of
// their own, so that the batch can be parsed and encoded later, in a worker thread, and its lines
// dead-lettered if the sink refuses an event. Plain data: it is structured-cloned to workers.
import type { FileRef } from '../source/source.ts';
import type { BufferPool } from './buffer-pool.ts';

export interface BatchInput {
  /** The lines, one after the other, without their '\n'. */
  readonly lines: Uint8Array;
  /** lineEnds[i]: where line i ends in `lines`; it starts where line i-1 ends. */
  readonly lineEnds: readonly number[];
  /** Byte offset of line i in its file. */
  readonly lineOffsets: readonly number[];
  /** Index into `files` of line i's file. */
  readonly lineFiles: readonly number[];
  readonly files: readonly FileRef[];
}

/** Accumulates lines; grows its buffer by doubling. */
export class BatchInputBuilder {
  readonly #pool: BufferPool;
  #bytes: Buffer;
  #length = 0;
  #lineEnds: number[] = [];
  #lineOffsets: number[] = [];
  #lineFiles: number[] = [];
  #files: FileRef[] = [];

  constructor(pool: BufferPool, initialBytes: number) {
    this.#pool = pool;
    this.#bytes = pool.acquire(initialBytes);
  }

  get lineCount(): number {
    return this.#lineEnds.length;
  }

  add(line: Uint8Array, file: FileRef, offset: number): void {
    const needed = this.#length + line.length;
    if (needed > this.#bytes.length) {
      const grown = this.#pool.acquire(Math.max(needed, this.#bytes.length * 2));
      this.#bytes.copy(grown, 0, 0, this.#length);
      this.#pool.release(this.#bytes);
      this.#bytes = grown;
    }
    this.#bytes.set(line, this.#length);
    this.#length = needed;
    this.#lineEnds.push(needed);
    this.#lineOffsets.push(offset);
    let fileIndex = this.#files.length - 1;
    if (this.#files[fileIndex]?.key !== file.key) {
      this.#files.push(file);
      fileIndex++;
    }
    this.#lineFiles.push(fileIndex);
  }

  /** Line `index` as held so far. */
  line(index: number): Uint8Array | undefined {
    return index < this.#lineEnds.length ? lineAt(this.#bytes, this.#lineEnds, index) : undefined;
  }

  build(): BatchInput {
    return {
      lines: this.#bytes.subarray(0, this.#length),
      lineEnds: this.#lineEnds,
      lineOffsets: this.#lineOffsets,
      lineFiles: this.#lineFiles,
      files: this.#files,
    };
  }
}

/** Line `index` of a batch input. */
export function lineOf(input: BatchInput, index: number): Uint8Array {
  return lineAt(input.lines, input.lineEnds, index);
}

function lineAt(lines: Uint8Array, lineEnds: readonly number[], index: number): Uint8Array {
  const start = index === 0 ? 0 : (lineEnds[index - 1] as number);
  return lines.subarray(start, lineEnds[index]);
}
