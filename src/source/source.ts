// Contract between the file side (tailer, rotation, identity) and the delivery lanes.
// A lane pulls items; not pulling is the backpressure. Every byte range a source hands out is
// covered by exactly one item, so a lane that acks every item it got never skips a range.

/** Stable identity of one audit file across renames: device + inode + head fingerprint. */
export interface FileRef {
  /** Identity key used in the checkpoint, e.g. "2049:131078:9f2c…". */
  readonly key: string;
  /** Path at the time the item was read (the file may have been renamed since). */
  readonly path: string;
}

/**
 * Complete lines from the byte range [start, end) of one file, as one buffer and where each line ends in it.
 * No object per line: a read holds hundreds of lines, and the read path (bench/read-path.bench.ts) ran ~9 %
 * faster without a view of each.
 */
export interface LineChunk {
  readonly kind: 'lines';
  readonly file: FileRef;
  readonly start: number;
  readonly end: number;
  /**
   * The range's bytes from `start` on: each line followed by its '\n' (the last one's may be left out).
   * A subarray of a read buffer, valid until the lane's next pull, or a copy.
   */
  readonly data: Buffer;
  /** Where line i ends in `data` ('\n' excluded); it starts one byte after line i-1's end, line 0 at 0. */
  readonly lineEnds: readonly number[];
}

/** Where line `index` of a chunk starts in its data; its offset in the file is chunk.start plus this. */
export function lineStartIn(chunk: LineChunk, index: number): number {
  return index === 0 ? 0 : (chunk.lineEnds[index - 1] as number) + 1;
}

/** The file offset of line `index` of a chunk. */
export function lineOffsetOf(chunk: LineChunk, index: number): number {
  return chunk.start + lineStartIn(chunk, index);
}

/** Every line of a chunk, as views of its data (for code off the per-line path, and tests). */
export function linesOf(chunk: LineChunk): Buffer[] {
  return chunk.lineEnds.map((end, index) => chunk.data.subarray(lineStartIn(chunk, index), end));
}

/** A line longer than maxLineBytes: only its head is kept; it goes to dead-letter. */
export interface OversizeLine {
  readonly kind: 'oversize';
  readonly file: FileRef;
  readonly start: number;
  readonly end: number;
  readonly head: Buffer;
  /** Length of the line in bytes, without '\n'. */
  readonly length: number;
}

/** A range that holds no events (a run of NUL bytes left by an external truncate). */
export interface SkippedRange {
  readonly kind: 'skipped';
  readonly file: FileRef;
  readonly start: number;
  readonly end: number;
  readonly reason: 'nul-bytes';
}

export type SourceItem = LineChunk | OversizeLine | SkippedRange;

/** One lane's reading cursor over the audit files. */
export interface LineSource {
  /** Resolves with the next item, waiting while nothing new is written; rejects when the signal aborts. */
  next(signal: AbortSignal): Promise<SourceItem>;
  /** Releases file handles; idempotent. */
  close(): Promise<void>;
}
