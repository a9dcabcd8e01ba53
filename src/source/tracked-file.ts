// One audit file the tailer follows: identity, where it is now, its shared descriptor and what each
// sink has acknowledged. Owned and mutated by the tailer only; cursors read it.
import type { FileHandle } from 'node:fs/promises';
import type { FileRef } from './source.ts';

export type TrackedState = 'active' | 'rotated' | 'finished' | 'lost';

export class TrackedFile {
  readonly key: string;
  /** Discovery order; files are read in this order, the active file always last. */
  readonly seq: number;
  path: string;
  dev: number;
  ino: number;
  /** The first bytes of the content (at most FINGERPRINT_MAX_BYTES); its hash is the fingerprint. */
  head: Buffer;
  fingerprint: string;
  /** Only readable by decompressing from the start (a .gz found after a restart or as a copy). */
  compressed: boolean;
  /** Shared descriptor: cursors pread through it, so renames and unlinks do not affect reading. */
  handle: FileHandle | undefined;
  /** Bytes of (uncompressed) content known to exist; for a .gz, the trailer's figure until read. */
  size: number;
  /** False for a .gz whose true uncompressed size is not known yet. */
  sizeIsExact: boolean;
  mtimeMs: number;
  state: TrackedState;
  /** When it stopped being the active file (0: already rotated when found). */
  rotatedAtMs = 0;
  /** Bumped when the content moves to another file (copytruncate copy); gzip readers restart. */
  generation = 0;
  /** Where a sink with no acknowledged offset starts. */
  startOffset: number;
  readonly acked = new Map<string, number>();
  /** Scan in which the file (or a copy of it) was last seen in the directory, and when. */
  lastSeenScan = 0;
  lastSeenAtMs = Date.now();
  unlinkReported = false;
  /** Set while a truncated file waits for its copy to show up (copytruncate); no descriptor then. */
  awaitingCopySinceMs: number | undefined = undefined;
  /**
   * A .gz whose compressed bytes ran out before its stream ended: since when, and how many bytes
   * there were then. More bytes since mean it is still being written; none for the grace period, damaged.
   */
  cutShort: { sinceMs: number; compressedBytes: number } | undefined = undefined;
  ref: FileRef;

  constructor(init: {
    key: string;
    seq: number;
    path: string;
    dev: number;
    ino: number;
    head: Buffer;
    fingerprint: string;
    compressed: boolean;
    size: number;
    sizeIsExact: boolean;
    mtimeMs: number;
    state: TrackedState;
    startOffset: number;
  }) {
    this.key = init.key;
    this.seq = init.seq;
    this.path = init.path;
    this.dev = init.dev;
    this.ino = init.ino;
    this.head = init.head;
    this.fingerprint = init.fingerprint;
    this.compressed = init.compressed;
    this.handle = undefined;
    this.size = init.size;
    this.sizeIsExact = init.sizeIsExact;
    this.mtimeMs = init.mtimeMs;
    this.state = init.state;
    this.startOffset = init.startOffset;
    this.ref = { key: init.key, path: init.path };
  }

  get fingerprintBytes(): number {
    return this.head.length;
  }

  get devIno(): string {
    return `${this.dev}:${this.ino}`;
  }

  markSeen(scanId: number): void {
    this.lastSeenScan = scanId;
    this.lastSeenAtMs = Date.now();
  }

  setPath(path: string): void {
    if (path === this.path) return;
    this.path = path;
    this.ref = { key: this.key, path };
  }
}
