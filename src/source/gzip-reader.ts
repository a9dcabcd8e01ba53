// Reads a gzip backup's uncompressed content from a given offset: gzip cannot seek, so it
// decompresses from the start and drops everything before the offset (the checkpoint holds
// uncompressed offsets, identical to those of the plain file the backup was made from).
// Input is fed by positional reads on the shared descriptor (no fs stream owns it), one block at
// a time, so memory stays bounded by one block's decompressed size.
import type { FileHandle } from 'node:fs/promises';
import { createGunzip, type Gunzip } from 'node:zlib';

const INPUT_BLOCK_BYTES = 64 * 1024;

/**
 * The compressed input ended before the gzip stream did: a .gz still being written (lumberjack and
 * logrotate write it in place), or one cut short for good. Only time tells which.
 */
export class GzipCutShortError extends Error {
  /** Compressed bytes there were to read. */
  readonly compressedBytes: number;

  constructor(compressedBytes: number, cause: Error) {
    super(`The gzip stream ends without its trailer after ${compressedBytes} compressed bytes`, { cause });
    this.name = 'GzipCutShortError';
    this.compressedBytes = compressedBytes;
  }
}

export interface GzipPiece {
  /** Uncompressed offset of data[0]. */
  readonly offset: number;
  readonly data: Buffer;
}

export class GzipReader {
  readonly #handle: FileHandle;
  readonly #gunzip: Gunzip;
  readonly #skipTo: number;
  readonly #output: Buffer[] = [];
  #outputHead = 0;
  /** Uncompressed bytes produced so far. */
  #position = 0;
  /** Compressed bytes fed so far. */
  #inputOffset = 0;
  #inputDone = false;
  #ended = false;
  #error: Error | undefined;
  #closed = false;
  #wake: (() => void) | undefined;

  /** `handle` is shared: reads are positional, so several readers can use it at once. */
  constructor(handle: FileHandle, skipTo: number, chunkBytes: number) {
    this.#handle = handle;
    this.#skipTo = skipTo;
    this.#gunzip = createGunzip({ chunkSize: Math.min(Math.max(chunkBytes, 16 * 1024), 1024 * 1024) });
    this.#gunzip.on('data', (data: Buffer) => {
      this.#output.push(data);
      this.#notify();
    });
    this.#gunzip.on('end', () => {
      this.#ended = true;
      this.#notify();
    });
    this.#gunzip.on('error', (error: NodeJS.ErrnoException) => {
      // zlib reports an input that stops mid-stream as Z_BUF_ERROR ("unexpected end of file").
      this.#error =
        this.#inputDone && error.code === 'Z_BUF_ERROR'
          ? new GzipCutShortError(this.#inputOffset, error)
          : error;
      this.#notify();
    });
  }

  /**
   * The next piece at or after the skip offset; undefined at the end of the content. Rejects on corrupt
   * data, and with GzipCutShortError once the pieces there are run out before the stream's end.
   */
  async read(): Promise<GzipPiece | undefined> {
    for (;;) {
      if (this.#outputHead < this.#output.length) {
        const chunk = this.#output[this.#outputHead] ?? Buffer.alloc(0);
        this.#output[this.#outputHead] = Buffer.alloc(0);
        this.#outputHead++;
        if (this.#outputHead === this.#output.length) {
          this.#output.length = 0;
          this.#outputHead = 0;
        }
        const start = this.#position;
        this.#position += chunk.length;
        if (this.#position <= this.#skipTo) continue;
        const from = Math.max(0, this.#skipTo - start);
        return { offset: start + from, data: from === 0 ? chunk : chunk.subarray(from) };
      }
      if (this.#closed) throw new Error('The gzip reader was closed');
      if (this.#error) throw this.#error;
      if (this.#ended) return undefined;
      if (this.#inputDone) {
        await this.#nextEvent();
        continue;
      }
      await this.#feed();
    }
  }

  /** Uncompressed bytes decompressed so far (the full size once read() returned undefined). */
  get position(): number {
    return this.#position;
  }

  close(): void {
    this.#closed = true;
    this.#gunzip.destroy();
    this.#notify();
  }

  async #feed(): Promise<void> {
    const block = Buffer.allocUnsafe(INPUT_BLOCK_BYTES);
    const { bytesRead } = await this.#handle.read(block, 0, block.length, this.#inputOffset);
    if (bytesRead === 0) {
      this.#inputDone = true;
      // A .gz cut short (still being written, or damaged) ends without its trailer: 'error'.
      this.#gunzip.end();
      return;
    }
    this.#inputOffset += bytesRead;
    const processed = new Promise<void>((resolve) => {
      this.#gunzip.write(block.subarray(0, bytesRead), () => {
        resolve();
      });
    });
    await Promise.race([processed, this.#nextEvent()]);
  }

  #nextEvent(): Promise<void> {
    return new Promise<void>((resolve) => {
      this.#wake = resolve;
    });
  }

  #notify(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }
}
