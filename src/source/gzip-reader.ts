// Reads a gzip backup's uncompressed content from a given offset: gzip cannot seek, so it
// decompresses from the start and drops everything before the offset (the checkpoint holds
// uncompressed offsets, identical to those of the plain file the backup was made from).
import type { FileHandle } from 'node:fs/promises';
import { createGunzip, type Gunzip } from 'node:zlib';
import type { Readable } from 'node:stream';

export interface GzipPiece {
  /** Uncompressed offset of data[0]. */
  readonly offset: number;
  readonly data: Buffer;
}

export class GzipReader {
  readonly #input: Readable;
  readonly #gunzip: Gunzip;
  readonly #iterator: AsyncIterator<Buffer>;
  readonly #skipTo: number;
  /** Uncompressed bytes produced so far. */
  #position = 0;

  /** `handle` is shared: reads are positional (start: 0), so several readers can use it at once. */
  constructor(handle: FileHandle, skipTo: number, chunkBytes: number) {
    this.#skipTo = skipTo;
    this.#input = handle.createReadStream({
      start: 0,
      autoClose: false,
      emitClose: false,
      highWaterMark: 256 * 1024,
    });
    this.#gunzip = createGunzip({ chunkSize: Math.min(Math.max(chunkBytes, 16 * 1024), 1024 * 1024) });
    this.#input.on('error', (error) => this.#gunzip.destroy(error));
    this.#input.pipe(this.#gunzip);
    this.#iterator = this.#gunzip[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  }

  /** The next piece at or after the skip offset; undefined at the end of the content. Rejects on corrupt data. */
  async read(): Promise<GzipPiece | undefined> {
    for (;;) {
      const result = await this.#iterator.next();
      if (result.done === true) return undefined;
      const chunk = result.value;
      const start = this.#position;
      this.#position += chunk.length;
      if (this.#position <= this.#skipTo) continue;
      const from = Math.max(0, this.#skipTo - start);
      return { offset: start + from, data: from === 0 ? chunk : chunk.subarray(from) };
    }
  }

  /** Uncompressed bytes decompressed so far (the full size once read() returned undefined). */
  get position(): number {
    return this.#position;
  }

  close(): void {
    this.#input.unpipe(this.#gunzip);
    this.#input.destroy();
    this.#gunzip.destroy();
  }
}
