// One sink's reading cursor over the tailer's files: oldest file first, each from that sink's own
// offset, through the tailer's shared descriptors (positional reads), so a slow sink never holds
// back another. Invariant: every byte of a file, from where the lane started, is covered by exactly
// one item, in order; a file's items never interleave with another file's partial line.
import type { FileHandle } from 'node:fs/promises';
import { FINGERPRINT_MAX_BYTES } from './identity.ts';
import { GzipCutShortError, GzipReader } from './gzip-reader.ts';
import { LineSplitter } from './line-splitter.ts';
import type { LineSource, SourceItem } from './source.ts';
import type { TrackedFile } from './tracked-file.ts';

/** Read size after a short read: a tailed file grows a little at a time, no need for a 1 MiB buffer. */
const SMALL_READ_BYTES = 64 * 1024;

/** What the tailer offers a cursor. */
export interface CursorHost {
  readonly readChunkBytes: number;
  readonly maxLineBytes: number;
  /** How long a rotated file ending in a partial line is given to be completed. */
  readonly rotatedSettleMs: number;
  readonly changeSeq: number;
  /** Files to read, oldest first, the active file last. */
  readableFiles(): readonly TrackedFile[];
  /** True while reading must pause for an older file that is known but not readable yet. */
  isWaitingForOlderFiles(): boolean;
  /** Where `sink` starts in a file it has no state for: its acknowledged offset or the file's start offset. */
  startOffset(sink: string, file: TrackedFile): number;
  /** Resolves once changeSeq differs from `seq` (or after timeoutMs); rejects when the signal aborts. */
  waitForChange(seq: number, signal: AbortSignal, timeoutMs?: number): Promise<void>;
  requestScan(): void;
  /** A read saw more of a young file's first bytes than its fingerprint covers: `head` is the wider head. */
  onHeadRead(file: TrackedFile, head: Buffer): void;
  onSkipped(file: TrackedFile, start: number, end: number): void;
  /** A .gz was read to its end: its exact uncompressed size. */
  onCompressedEnd(file: TrackedFile, size: number): void;
  /**
   * A .gz ended without its trailer after `compressedBytes`: how long to wait before looking again (a
   * .gz still being written), or undefined when it has stopped growing for too long (damaged).
   */
  onCompressedCutShort(file: TrackedFile, compressedBytes: number): number | undefined;
  /** A file cannot be read any further (corrupt gzip, I/O error) from `offset` on. */
  onUnreadable(file: TrackedFile, offset: number, error: unknown): void;
  onCursorClosed(cursor: LaneCursor): void;
}

interface LaneFileState {
  /** Next byte to read (bytes before it went into the splitter). */
  offset: number;
  readonly splitter: LineSplitter;
  generation: number;
  gzip: GzipReader | undefined;
  /** Compressed bytes there were when the .gz last ran out before its end; reading resumes once there are more. */
  cutShortAt: number | undefined;
  /** Read to the end of a file that no longer grows. */
  done: boolean;
}

export class LaneCursor implements LineSource {
  readonly sink: string;
  readonly #host: CursorHost;
  readonly #states = new Map<TrackedFile, LaneFileState>();
  #readBuffer: Buffer = Buffer.alloc(0);
  readonly #verifyBuffer = Buffer.alloc(FINGERPRINT_MAX_BYTES);
  #queue: SourceItem[] = [];
  #queueHead = 0;
  #nextReadBytes: number;
  #closed = false;

  constructor(sink: string, host: CursorHost) {
    this.sink = sink;
    this.#host = host;
    this.#nextReadBytes = host.readChunkBytes;
  }

  async next(signal: AbortSignal): Promise<SourceItem> {
    for (;;) {
      signal.throwIfAborted();
      if (this.#closed) throw new Error(`The cursor of sink ${this.sink} is closed`);
      if (this.#queueHead < this.#queue.length) {
        const item = this.#queue[this.#queueHead];
        this.#queueHead++;
        if (item) return item;
      }
      this.#queue = [];
      this.#queueHead = 0;
      // Taken before looking, so a change that lands while we read is not missed.
      const seq = this.#host.changeSeq;
      const file = this.#pick();
      if (file === undefined) {
        await this.#host.waitForChange(seq, signal);
        continue;
      }
      const outcome = await this.#read(file, this.#stateFor(file));
      if (outcome === 'progress') continue;
      await this.#host.waitForChange(seq, signal, outcome === 'wait' ? undefined : outcome);
    }
  }

  /** Offset up to which this lane has read `file` (bytes handed out or held as a partial line). */
  readOffset(file: TrackedFile): number | undefined {
    return this.#states.get(file)?.offset;
  }

  /** Offset up to which this lane has handed out items for `file`. */
  emittedOffset(file: TrackedFile): number | undefined {
    return this.#states.get(file)?.splitter.committedOffset;
  }

  close(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    this.#closed = true;
    for (const state of this.#states.values()) state.gzip?.close();
    this.#states.clear();
    this.#host.onCursorClosed(this);
    return Promise.resolve();
  }

  #pick(): TrackedFile | undefined {
    // Pausing must not drop per-file state (offsets read but not yet acknowledged): check first.
    if (this.#host.isWaitingForOlderFiles()) return undefined;
    const files = this.#host.readableFiles();
    if (this.#states.size > files.length) this.#forgetGone(files);
    for (const file of files) {
      const state = this.#states.get(file);
      if (state === undefined || !state.done) return file;
      // A rotated file written to after we finished it (a writer that kept its descriptor).
      if (file.state === 'rotated' && !file.compressed && file.size > state.offset) {
        state.done = false;
        return file;
      }
    }
    return undefined;
  }

  #forgetGone(files: readonly TrackedFile[]): void {
    const live = new Set(files);
    for (const [file, state] of this.#states) {
      if (!live.has(file)) {
        state.gzip?.close();
        this.#states.delete(file);
      }
    }
  }

  #stateFor(file: TrackedFile): LaneFileState {
    let state = this.#states.get(file);
    if (state === undefined) {
      const offset = this.#host.startOffset(this.sink, file);
      state = {
        offset,
        splitter: new LineSplitter(file.ref, offset, { maxLineBytes: this.#host.maxLineBytes }),
        generation: file.generation,
        gzip: undefined,
        cutShortAt: undefined,
        done: false,
      };
      this.#states.set(file, state);
    }
    if (state.splitter.file !== file.ref) state.splitter.file = file.ref;
    return state;
  }

  /** 'progress': items queued or state moved on; 'wait': nothing to read now; a number: wait at most that long. */
  async #read(file: TrackedFile, state: LaneFileState): Promise<'progress' | 'wait' | number> {
    return file.compressed ? this.#readCompressed(file, state) : this.#readPlain(file, state);
  }

  async #readPlain(file: TrackedFile, state: LaneFileState): Promise<'progress' | 'wait' | number> {
    const handle = file.handle;
    // Truncated, its copy not found yet: wait for it (briefly) so that lines keep their order.
    if (handle === undefined) return 'wait';
    // Captured before the read: see the copytruncate check below.
    const wasActive = file.state === 'active';
    const head = file.head;
    // One buffer per cursor, reused: reads happen only once every item of the previous read was
    // handed out, and items are valid until the next pull (source.ts), so nothing still points into
    // it. A fresh megabyte per read made the read path the largest source of garbage.
    if (this.#readBuffer.length < this.#nextReadBytes)
      this.#readBuffer = Buffer.allocUnsafe(this.#nextReadBytes);
    const buffer = this.#readBuffer.subarray(0, this.#nextReadBytes);
    let bytesRead: number;
    try {
      ({ bytesRead } = await handle.read(buffer, 0, buffer.length, state.offset));
    } catch (error) {
      if (this.#closed || file.handle !== handle) return 'progress';
      this.#host.onUnreadable(file, state.offset, error);
      return 'progress';
    }
    if (file.handle !== handle || file.state === 'lost') return 'progress';
    if (bytesRead > 0) {
      // An active file can be truncated in place and rewritten (copytruncate) at any moment. If its
      // head still holds the bytes we know *after* our read, the read saw the original content.
      if (wasActive && head.length > 0 && !(await this.#headMatches(handle, head))) {
        this.#host.requestScan();
        return 'wait';
      }
      this.#nextReadBytes = bytesRead === buffer.length ? this.#host.readChunkBytes : SMALL_READ_BYTES;
      // Widen a young file's fingerprint to what was read before any of it can be acknowledged: an offset
      // beyond the fingerprint would let another content at the same inode (copytruncate, a recycled
      // inode) pass for it. A file rotated before any scan widened it is young too.
      if (head.length < FINGERPRINT_MAX_BYTES && state.offset <= head.length) {
        const end = Math.min(FINGERPRINT_MAX_BYTES, state.offset + bytesRead);
        if (end > head.length) {
          this.#host.onHeadRead(
            file,
            Buffer.concat([head.subarray(0, state.offset), buffer.subarray(0, end - state.offset)]),
          );
        }
      }
      const queued = this.#queue.length;
      state.splitter.push(buffer.subarray(0, bytesRead), this.#queue);
      state.offset += bytesRead;
      this.#reportSkipped(file, queued);
      return 'progress';
    }
    this.#nextReadBytes = SMALL_READ_BYTES;
    if (wasActive || file.state === 'active') return 'wait';
    return this.#finishFile(file, state);
  }

  async #readCompressed(file: TrackedFile, state: LaneFileState): Promise<'progress' | 'wait' | number> {
    const handle = file.handle;
    if (handle === undefined) return 'wait';
    if (state.gzip === undefined || state.generation !== file.generation) {
      if (state.cutShortAt !== undefined && state.generation === file.generation) {
        const waited = await this.#awaitCompressedInput(file, state, handle);
        if (waited !== undefined) return waited;
      }
      state.gzip?.close();
      // Decompresses from the start again and skips to where this lane is (gzip cannot seek).
      state.gzip = new GzipReader(handle, state.offset, this.#host.readChunkBytes);
      state.generation = file.generation;
    }
    const gzip = state.gzip;
    let piece;
    try {
      piece = await gzip.read();
    } catch (error) {
      gzip.close();
      if (this.#closed || state.gzip !== gzip) return 'progress';
      state.gzip = undefined;
      if (file.handle !== handle || file.state === 'lost') return 'progress';
      if (error instanceof GzipCutShortError) {
        // Everything decompressible was handed out; the rest may still be being written.
        state.cutShortAt = error.compressedBytes;
        const waitMs = this.#host.onCompressedCutShort(file, error.compressedBytes);
        if (waitMs !== undefined) return waitMs;
        state.cutShortAt = undefined;
      }
      this.#host.onUnreadable(file, state.offset, error);
      return 'progress';
    }
    if (state.gzip !== gzip || file.state === 'lost') return 'progress';
    if (piece !== undefined) {
      const queued = this.#queue.length;
      state.splitter.push(piece.data, this.#queue);
      state.offset = piece.offset + piece.data.length;
      this.#reportSkipped(file, queued);
      return 'progress';
    }
    this.#host.onCompressedEnd(file, gzip.position);
    gzip.close();
    state.gzip = undefined;
    return this.#finishFile(file, state);
  }

  /**
   * A .gz that ran out before its end: decompressing it again is only worth it once it has grown.
   * Undefined when it has (read on); otherwise how long to wait, or 'progress' once given up on.
   */
  async #awaitCompressedInput(
    file: TrackedFile,
    state: LaneFileState,
    handle: FileHandle,
  ): Promise<number | 'progress' | undefined> {
    const cutShortAt = state.cutShortAt ?? 0;
    let compressedBytes: number;
    try {
      compressedBytes = (await handle.stat()).size;
    } catch (error) {
      if (this.#closed || file.handle !== handle || file.state === 'lost') return 'progress';
      this.#host.onUnreadable(file, state.offset, error);
      return 'progress';
    }
    if (file.handle !== handle || file.state === 'lost') return 'progress';
    if (compressedBytes > cutShortAt) {
      state.cutShortAt = undefined;
      return undefined;
    }
    const waitMs = this.#host.onCompressedCutShort(file, compressedBytes);
    if (waitMs !== undefined) return waitMs;
    state.cutShortAt = undefined;
    this.#host.onUnreadable(
      file,
      state.offset,
      new GzipCutShortError(compressedBytes, new Error('The .gz stopped growing without its trailer')),
    );
    return 'progress';
  }

  /** At the end of a file that no longer grows: flush its last line and move on. */
  #finishFile(file: TrackedFile, state: LaneFileState): 'progress' | number {
    if (state.splitter.pendingBytes > 0 && file.rotatedAtMs > 0) {
      // A writer may still complete the line through a descriptor it kept (delete+recreate).
      const waitMs = file.rotatedAtMs + this.#host.rotatedSettleMs - Date.now();
      if (waitMs > 0) return waitMs;
    }
    const queued = this.#queue.length;
    state.splitter.finish(this.#queue);
    this.#reportSkipped(file, queued);
    state.done = true;
    return 'progress';
  }

  async #headMatches(handle: FileHandle, head: Buffer): Promise<boolean> {
    const { bytesRead } = await handle.read(this.#verifyBuffer, 0, head.length, 0);
    return bytesRead === head.length && this.#verifyBuffer.subarray(0, bytesRead).equals(head);
  }

  #reportSkipped(file: TrackedFile, from: number): void {
    for (let i = from; i < this.#queue.length; i++) {
      const item = this.#queue[i];
      if (item?.kind === 'skipped') this.#host.onSkipped(file, item.start, item.end);
    }
  }
}
