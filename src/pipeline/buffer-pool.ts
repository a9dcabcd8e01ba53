// Reuses the lane's large batch buffers (lines in, wire form out). Allocating and freeing megabytes per
// batch makes glibc keep the freed memory (its mmap threshold adapts upwards), so RSS grew to several
// times what the lane holds; a few recycled buffers keep it flat.

const DEFAULT_MIN_BYTES = 256 * 1024;

export class BufferPool {
  readonly #free: ArrayBuffer[] = [];
  readonly #maxFree: number;
  readonly #maxKeptBytes: number;
  readonly #minBytes: number;

  /**
   * `maxFree`: how many released buffers are kept for reuse; more are left to the GC. `maxKeptBytes`: larger
   * ones are freed at once, not kept: a batch with a multi-MB event would otherwise keep its buffers' pages
   * resident for good (the pool keeps the largest), and a long catch-up run met such batches one after another.
   * `minBytes`: the smallest buffer allocated.
   */
  constructor(maxFree: number, maxKeptBytes = Number.POSITIVE_INFINITY, minBytes = DEFAULT_MIN_BYTES) {
    this.#maxFree = maxFree;
    this.#maxKeptBytes = maxKeptBytes;
    this.#minBytes = minBytes;
  }

  /** A buffer of at least `minBytes` (its whole ArrayBuffer, which can be transferred to a worker). */
  acquire(minBytes: number): Buffer {
    let best = -1;
    for (let index = 0; index < this.#free.length; index++) {
      const size = (this.#free[index] as ArrayBuffer).byteLength;
      if (size >= minBytes && (best === -1 || size < (this.#free[best] as ArrayBuffer).byteLength))
        best = index;
    }
    if (best !== -1) {
      const [buffer] = this.#free.splice(best, 1);
      return Buffer.from(buffer as ArrayBuffer);
    }
    // Not from Buffer's shared pool: the buffer owns its ArrayBuffer.
    return Buffer.allocUnsafeSlow(Math.max(minBytes, this.#minBytes));
  }

  /** Gives back the ArrayBuffer behind `view`; the caller must not use it afterwards. */
  release(view: Uint8Array): void {
    const buffer = view.buffer;
    if (!(buffer instanceof ArrayBuffer) || buffer.byteLength === 0 || this.#free.includes(buffer)) return;
    if (buffer.byteLength > this.#maxKeptBytes) {
      // transfer() frees the memory now; dropped, it would wait for a GC that external memory is slow to start.
      buffer.transfer(0);
      return;
    }
    if (this.#maxFree === 0) return;
    if (this.#free.length < this.#maxFree) {
      this.#free.push(buffer);
      return;
    }
    // Keep the largest buffers: a small one would only be replaced on the next big batch.
    let smallest = 0;
    for (let index = 1; index < this.#free.length; index++) {
      if ((this.#free[index] as ArrayBuffer).byteLength < (this.#free[smallest] as ArrayBuffer).byteLength)
        smallest = index;
    }
    if ((this.#free[smallest] as ArrayBuffer).byteLength < buffer.byteLength) this.#free[smallest] = buffer;
  }
}

/** A Buffer over the same memory as `view` (structured cloning turns Buffers into plain Uint8Arrays). */
export function asBuffer(view: Uint8Array): Buffer {
  return Buffer.from(view.buffer, view.byteOffset, view.byteLength);
}
