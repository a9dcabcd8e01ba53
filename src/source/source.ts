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

/** Complete lines, without their '\n', from the byte range [start, end) of one file. */
export interface LineChunk {
  readonly kind: 'lines';
  readonly file: FileRef;
  readonly start: number;
  readonly end: number;
  /** Subarrays of a read buffer; valid until the lane's next pull. */
  readonly lines: readonly Buffer[];
  /** Byte offset of each line's first byte in the (uncompressed) file. */
  readonly lineOffsets: readonly number[];
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
