// Follows the API server's audit log across rotations and restarts, and hands each sink its own
// cursor over the files (the file is the buffer). Invariants: a file is read to its end through the
// descriptor held since it was found, whatever happens to its name; a file whose bytes some sink
// never read is never dropped silently (data loss is recorded, logged and reported); the
// checkpoint keeps, per file identity, every sink's acknowledged offset.
import { lineAlignedEnd } from './line-aligned-end.ts';
import { fstatSync, type Stats, statSync } from 'node:fs';
import { open, readdir, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { Logger } from 'pino';
import type { CheckpointStore, DataLossRecord, FileCheckpoint } from '../checkpoint/store.ts';
import { backupMatcher, backupTimestampMs, type BackupMatcher } from './backups.ts';
import { LaneCursor, type CursorHost } from './cursor.ts';
import {
  FINGERPRINT_MAX_BYTES,
  MIN_CONTENT_MATCH_BYTES,
  contentMatches,
  headMatches,
  newFileKey,
  readGzipTrailerSize,
  readHead,
  readPlainHead,
  sha256Hex,
  type FileHead,
} from './identity.ts';
import { classifyRotation, type PathStat } from './rotation.ts';
import type { LineSource } from './source.ts';
import { TrackedFile, type TrackedState } from './tracked-file.ts';
import { DirectoryWatcher, type WatchHint } from './watcher.ts';

export interface AuditLogTailerOptions {
  /** The API server's --audit-log-path. */
  readonly path: string;
  /** Where to start on the very first run (no checkpoint yet); files found later are read from 0. */
  readonly startAt: 'beginning' | 'end';
  readonly maxLineBytes: number;
  /** Glob over backup file names; default: the API server's (lumberjack) names, plain or .gz. */
  readonly backupGlob?: string | undefined;
  readonly pollIntervalMs: number;
  readonly readChunkBytes: number;
  /** Names of the sinks; each opens one cursor. A file is finished when all of them acknowledged it. */
  readonly sinks: readonly string[];
  /** Set after a corrupt checkpoint was set aside (CheckpointStore.open): where every file restarts. */
  readonly resetTo?: 'beginning' | 'end' | undefined;
  /** When set, the tailer saves the checkpoint at most this often while it changes, and on close. */
  readonly checkpointIntervalMs?: number | undefined;
  /** How long a rotated file that ends in an unterminated line is given to be completed (default 1000). */
  readonly rotatedSettleMs?: number | undefined;
  /**
   * How long a file known from the checkpoint but not found is looked for (a .gz still being
   * written) before its unread bytes are recorded as lost (default 5000).
   */
  readonly missingFileGraceMs?: number | undefined;
  /**
   * How long a finished file stays known after it was last seen (default 10 min), so that a copy
   * of it that shows up late (a .gz written after the plain file left the listing) is not read again.
   */
  readonly finishedRetentionMs?: number | undefined;
}

export type AnomalyKind = 'nul-bytes' | 'offset-beyond-size' | 'active-unlinked' | 'truncated' | 'unreadable';

/** Something the API server or an outside tool did to the files that an operator should know about. */
export interface SourceAnomaly {
  readonly kind: AnomalyKind;
  readonly path: string;
  readonly key?: string;
  readonly detail: Readonly<Record<string, unknown>>;
}

export interface RotationInfo {
  /** rename: renamed (lumberjack); recreate: deleted and created anew; copytruncate: copied, then truncated. */
  readonly kind: 'rename' | 'recreate' | 'copytruncate';
  /** The active path. */
  readonly path: string;
  /** The file that stopped being active. */
  readonly key: string;
  /** Where its content is now. */
  readonly rotatedPath: string;
}

/** Callbacks for metrics and /status; must not throw. */
export interface TailerObserver {
  onDataLoss?(record: DataLossRecord): void;
  onRotation?(info: RotationInfo): void;
  onAnomaly?(anomaly: SourceAnomaly): void;
}

export interface TailerDeps {
  readonly store: CheckpointStore;
  readonly log: Logger;
  readonly observer?: TailerObserver | undefined;
}

export interface SinkFileStatus {
  /** Everything before it was delivered or dead-lettered by this sink. */
  readonly ackedOffset: number;
  /** Everything before it was read by this sink's lane. */
  readonly readOffset: number;
  /** size - ackedOffset. */
  readonly unackedBytes: number;
}

export interface FileStatus {
  readonly key: string;
  readonly path: string;
  readonly state: TrackedState;
  readonly compressed: boolean;
  /** Bytes of (uncompressed) content known. */
  readonly size: number;
  /** Bytes not yet read by the slowest sink. */
  readonly bytesUnread: number;
  /** Time of the newest write seen (the file's mtime), ISO 8601. */
  readonly modifiedAt: string;
  readonly sinks: Readonly<Record<string, SinkFileStatus>>;
}

interface Candidate {
  readonly path: string;
  readonly name: string;
  readonly dev: number;
  readonly ino: number;
  readonly size: number;
  readonly mtimeMs: number;
  readonly isActivePath: boolean;
}

interface Listing {
  readonly dirExists: boolean;
  readonly active: Candidate | undefined;
  readonly backups: readonly Candidate[];
}

interface AliasEntry {
  /** Key of the file whose content this copy (a .gz or a copytruncate copy) holds. */
  readonly key: string;
  path: string;
  readonly compressed: boolean;
  lastSeenScan: number;
}

interface OpenedCandidate {
  readonly candidate: Candidate;
  readonly handle: FileHandle;
  readonly head: FileHead;
}

const DEFAULT_ROTATED_SETTLE_MS = 1000;
/** While newer files wait for an older one, how often to look whether it has turned up. */
const HOLD_RECHECK_MS = 100;
const DEFAULT_MISSING_FILE_GRACE_MS = 5000;
/** How often a .gz that ended without its trailer is looked at again while it may still be written. */
const CUT_SHORT_RECHECK_MS = 100;
const DEFAULT_FINISHED_RETENTION_MS = 10 * 60_000;
const MAX_LOST_SHOWN = 50;

export class AuditLogTailer implements CursorHost {
  readonly readChunkBytes: number;
  readonly maxLineBytes: number;
  readonly rotatedSettleMs: number;
  readonly #finishedRetentionMs: number;
  readonly #options: AuditLogTailerOptions;
  readonly #store: CheckpointStore;
  readonly #log: Logger;
  readonly #observer: TailerObserver;
  readonly #dir: string;
  /** The last listing's candidates by name, reused while their stat is unchanged (#list). */
  readonly #candidateOf = new Map<string, Candidate>();
  readonly #isBackup: BackupMatcher;
  readonly #watcher: DirectoryWatcher;

  // All mutable state below; every await is a yield point, so scans are serialized (#scanning).
  readonly #files = new Map<string, TrackedFile>();
  readonly #byDevIno = new Map<string, TrackedFile>();
  readonly #aliases = new Map<string, AliasEntry>();
  readonly #cursors = new Set<LaneCursor>();
  readonly #waiters = new Set<() => void>();
  readonly #skipReportedUpTo = new Map<string, number>();
  /** Checkpoint entries not found yet, with when we started looking. */
  readonly #pendingStored = new Map<string, { readonly entry: FileCheckpoint; readonly sinceMs: number }>();
  /** Backups of unknown content still being written (a .gz in progress), by path: first seen at. */
  readonly #incompleteBackups = new Map<string, number>();
  /**
   * Backups whose content is that of a file given up as lost (a damaged .gz, or its plain twin), by
   * dev:ino, as last seen: not read again, or what was read of them would be sent twice.
   */
  readonly #lostCopies = new Map<string, { size: number; mtimeMs: number; lastSeenScan: number }>();
  /** Backups already waited for once (bounded by the number of backup names seen in a run). */
  readonly #waitedForBackups = new Set<string>();
  #holdTimer: NodeJS.Timeout | undefined;
  #readable: TrackedFile[] = [];
  #lost: TrackedFile[] = [];
  #changeSeq = 0;
  #nextSeq = 1;
  #scanId = 0;
  #scanning: Promise<void> | undefined;
  #rescan = false;
  #started = false;
  #closed = false;
  #missingLogged = false;
  #saveTimer: NodeJS.Timeout | undefined;

  constructor(options: AuditLogTailerOptions, deps: TailerDeps) {
    this.#options = options;
    this.#store = deps.store;
    this.#log = deps.log;
    this.#observer = deps.observer ?? {};
    this.readChunkBytes = options.readChunkBytes;
    this.maxLineBytes = options.maxLineBytes;
    this.rotatedSettleMs = options.rotatedSettleMs ?? DEFAULT_ROTATED_SETTLE_MS;
    this.#finishedRetentionMs = options.finishedRetentionMs ?? DEFAULT_FINISHED_RETENTION_MS;
    this.#dir = dirname(options.path);
    this.#isBackup = backupMatcher(options.path, options.backupGlob);
    this.#watcher = new DirectoryWatcher({
      dir: this.#dir,
      pollIntervalMs: options.pollIntervalMs,
      log: deps.log,
      onHint: (hint, path) => {
        this.#onHint(hint, path);
      },
    });
  }

  /** Finds the files (matching them to the checkpoint) and starts watching. A missing file is waited for. */
  async start(signal?: AbortSignal): Promise<void> {
    if (this.#started) return;
    signal?.throwIfAborted();
    await this.#reconcileAtStart();
    this.#started = true;
    this.#watcher.start();
    signal?.addEventListener('abort', () => void this.close(), { once: true });
  }

  /** A new cursor for `sink`; it starts at the sink's acknowledged offsets. */
  openCursor(sink: string): LineSource {
    if (!this.#options.sinks.includes(sink)) throw new Error(`Unknown sink ${sink}`);
    const cursor = new LaneCursor(sink, this);
    this.#cursors.add(cursor);
    return cursor;
  }

  /** `sink` has delivered (or dead-lettered) everything before `offset` in file `fileKey`. */
  acknowledge(sink: string, fileKey: string, offset: number): void {
    const file = this.#files.get(fileKey);
    if (file === undefined || file.state === 'lost' || file.state === 'finished') return;
    const previous = file.acked.get(sink);
    if (previous !== undefined && offset <= previous) return;
    file.acked.set(sink, offset);
    this.#store.setOffset(fileKey, sink, offset);
    this.#scheduleSave();
    if (file.state === 'rotated' && offset >= file.size) this.requestScan();
  }

  files(): FileStatus[] {
    const all = [...this.#files.values(), ...this.#lost];
    return all.map((file) => this.#statusOf(file));
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#holdTimer);
    this.#watcher.close();
    if (this.#saveTimer) clearTimeout(this.#saveTimer);
    await this.#scanning;
    for (const cursor of [...this.#cursors]) await cursor.close();
    this.#bump();
    for (const file of this.#files.values()) await closeQuietly(file);
    if (this.#options.checkpointIntervalMs !== undefined) await this.#saveNow();
  }

  // ---- CursorHost -------------------------------------------------------------------------------

  get changeSeq(): number {
    return this.#changeSeq;
  }

  readableFiles(): readonly TrackedFile[] {
    return this.#readable;
  }

  isWaitingForOlderFiles(): boolean {
    return this.#isWaitingForOlderFiles();
  }

  /**
   * Order across files: while an older file is known to exist but cannot be read yet (a checkpointed
   * file not found again, or a backup whose .gz is still being written), newer files wait too, for at
   * most the grace period; otherwise its events would arrive after newer ones.
   */
  #isWaitingForOlderFiles(): boolean {
    const now = Date.now();
    const graceMs = this.#options.missingFileGraceMs ?? DEFAULT_MISSING_FILE_GRACE_MS;
    let waiting = false;
    for (const [path, sinceMs] of this.#incompleteBackups) {
      if (now - sinceMs < graceMs) waiting = true;
      else {
        // Waited once: a backup that stays incomplete (e.g. a small file whose head never fills)
        // must not pause reading again at every scan.
        this.#incompleteBackups.delete(path);
        this.#waitedForBackups.add(path);
      }
    }
    for (const { entry, sinceMs } of this.#pendingStored.values()) {
      if (entry.state !== 'finished' && now - sinceMs < graceMs) waiting = true;
    }
    // Nothing else may announce the end of the wait: look again shortly.
    if (waiting && this.#holdTimer === undefined && !this.#closed) {
      this.#holdTimer = setTimeout(() => {
        this.#holdTimer = undefined;
        this.#bump();
      }, HOLD_RECHECK_MS);
      this.#holdTimer.unref();
    }
    return waiting;
  }

  startOffset(sink: string, file: TrackedFile): number {
    return file.acked.get(sink) ?? file.startOffset;
  }

  waitForChange(seq: number, signal: AbortSignal, timeoutMs?: number): Promise<void> {
    if (seq !== this.#changeSeq || this.#closed) return Promise.resolve();
    signal.throwIfAborted();
    return new Promise<void>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const done = (): void => {
        this.#waiters.delete(done);
        signal.removeEventListener('abort', aborted);
        if (timer) clearTimeout(timer);
        resolve();
      };
      const aborted = (): void => {
        this.#waiters.delete(done);
        if (timer) clearTimeout(timer);
        reject(signal.reason as Error);
      };
      this.#waiters.add(done);
      signal.addEventListener('abort', aborted, { once: true });
      if (timeoutMs !== undefined) timer = setTimeout(done, timeoutMs);
    });
  }

  /** CursorHost: widens a young file's fingerprint to the head a read saw, and persists it. */
  onHeadRead(file: TrackedFile, head: Buffer): void {
    // A scan or another cursor may have widened it already; a head that disagrees is the scan's to sort out.
    if (file.state !== 'active' && file.state !== 'rotated') return;
    if (file.compressed || head.length <= file.head.length) return;
    if (!head.subarray(0, file.head.length).equals(file.head)) return;
    file.head = head;
    file.fingerprint = sha256Hex(head);
    this.#persist(file);
  }

  requestScan(): void {
    if (this.#closed || !this.#started) return;
    if (this.#scanning) {
      this.#rescan = true;
      return;
    }
    this.#scanning = this.#runScans().finally(() => {
      this.#scanning = undefined;
    });
  }

  onSkipped(file: TrackedFile, start: number, end: number): void {
    // Every lane meets the same run; report each byte range once.
    const reportedUpTo = this.#skipReportedUpTo.get(file.key) ?? 0;
    if (end <= reportedUpTo) return;
    const from = Math.max(start, reportedUpTo);
    this.#skipReportedUpTo.set(file.key, end);
    this.#anomaly({
      kind: 'nul-bytes',
      path: file.path,
      key: file.key,
      detail: { start: from, end, bytes: end - from },
    });
  }

  onCompressedEnd(file: TrackedFile, size: number): void {
    file.cutShort = undefined;
    if (file.sizeIsExact && file.size === size) return;
    file.size = size;
    file.sizeIsExact = true;
    this.#persist(file);
    this.requestScan();
  }

  onCompressedCutShort(file: TrackedFile, compressedBytes: number): number | undefined {
    const now = Date.now();
    const previous = file.cutShort;
    if (previous === undefined || compressedBytes > previous.compressedBytes) {
      file.cutShort = { sinceMs: now, compressedBytes };
    }
    const graceMs = this.#options.missingFileGraceMs ?? DEFAULT_MISSING_FILE_GRACE_MS;
    const waitedMs = now - (file.cutShort?.sinceMs ?? now);
    if (waitedMs >= graceMs) return undefined;
    return Math.min(CUT_SHORT_RECHECK_MS, graceMs - waitedMs);
  }

  onUnreadable(file: TrackedFile, offset: number, error: unknown): void {
    if (file.state === 'lost' || file.state === 'finished') return;
    this.#anomaly({
      kind: 'unreadable',
      path: file.path,
      key: file.key,
      detail: { offset, error: error instanceof Error ? error.message : String(error) },
    });
    this.#recordLoss(file, 'unreadable', !file.sizeIsExact);
    this.#markLost(file);
  }

  onCursorClosed(cursor: LaneCursor): void {
    this.#cursors.delete(cursor);
  }

  // ---- discovery at start -----------------------------------------------------------------------

  async #reconcileAtStart(): Promise<void> {
    const scanId = ++this.#scanId;
    const listing = await this.#list();
    const stored = this.#store.files;
    const resetTo = this.#options.resetTo;
    const isFirstRun =
      resetTo !== undefined || (stored.length === 0 && this.#store.lastSavedAt === undefined);
    const startAt = resetTo ?? this.#options.startAt;

    const candidates = [...sortBackups(listing.backups), ...(listing.active ? [listing.active] : [])];
    const opened: OpenedCandidate[] = [];
    for (const candidate of candidates) {
      const result = await openCandidate(candidate);
      if (result) opened.push(result);
    }

    // 1. Same inode and the head we fingerprinted: the same file, wherever it is now.
    const matchOf = new Map<OpenedCandidate, FileCheckpoint>();
    const matched = new Set<string>();
    for (const item of opened) {
      const entry = stored.find(
        (e) => e.dev === item.candidate.dev && e.ino === item.candidate.ino && !matched.has(e.key),
      );
      if (entry && !item.head.compressed && headMatches(entry, item.head.bytes)) {
        matchOf.set(item, entry);
        matched.add(entry.key);
      }
    }
    // 2. Other inode, same content: a .gz or a copytruncate copy. Plain copies first (exact size, seekable).
    const aliasOf = new Map<OpenedCandidate, FileCheckpoint>();
    const rest = opened.filter((item) => !matchOf.has(item));
    rest.sort((a, b) => Number(a.head.compressed) - Number(b.head.compressed));
    for (const item of rest) {
      const entry = stored.find(
        (e) => e.fingerprintBytes >= MIN_CONTENT_MATCH_BYTES && headMatches(e, item.head.bytes),
      );
      if (entry === undefined) continue;
      if (matched.has(entry.key)) aliasOf.set(item, entry);
      else {
        matchOf.set(item, entry);
        matched.add(entry.key);
      }
    }

    // Read order is candidate order (oldest backup first), whatever order they are adopted in.
    const seqOf = new Map(opened.map((item, index) => [item, this.#nextSeq + index]));
    this.#nextSeq += opened.length;
    // Known files first, so that the prefix test below sees every head we know.
    for (const item of opened) {
      const entry = matchOf.get(item);
      if (entry) await this.#adoptFromCheckpoint(entry, item, scanId, seqOf.get(item));
    }
    // Plain files before their .gz (the mill writes the .gz before deleting the plain file).
    const unmatched = opened.filter((item) => !matchOf.has(item));
    unmatched.sort((a, b) => Number(a.head.compressed) - Number(b.head.compressed));
    for (const item of unmatched) {
      const { candidate, handle, head } = item;
      const aliasKey = aliasOf.get(item)?.key ?? this.#findByContent(head.bytes)?.key;
      if (aliasKey !== undefined) {
        this.#aliases.set(devInoOf(candidate), {
          key: aliasKey,
          path: candidate.path,
          compressed: head.compressed,
          lastSeenScan: scanId,
        });
        await handle.close();
        continue;
      }
      if (!candidate.isActivePath && (!head.complete || this.#isPrefixOfKnownHead(head.bytes))) {
        // A .gz or a copy still being written: looked at again by the next scan.
        this.#noteIncompleteBackup(candidate.path, head.bytes);
        await handle.close();
        continue;
      }
      this.#incompleteBackups.delete(candidate.path);
      await this.#adoptNew(item, scanId, isFirstRun ? startAt : 'beginning', seqOf.get(item));
    }

    const now = Date.now();
    for (const entry of stored) {
      if (!matched.has(entry.key)) this.#pendingStored.set(entry.key, { entry, sinceMs: now });
    }
    for (const file of this.#files.values()) {
      for (const sink of Object.keys(this.#store.getFile(file.key)?.offsets ?? {})) {
        if (!this.#options.sinks.includes(sink))
          this.#store.setOffset(file.key, sink, file.acked.get(sink) ?? 0);
      }
    }
    this.#reorder();
    if (!listing.active) this.#logMissingOnce();
    this.#scheduleSave();
  }

  async #adoptFromCheckpoint(
    entry: FileCheckpoint,
    item: OpenedCandidate,
    scanId: number,
    seq?: number,
  ): Promise<void> {
    const { candidate, handle, head } = item;
    const size = head.compressed
      ? ((await readGzipTrailerSize(handle, candidate.size)) ?? entry.size)
      : candidate.size;
    const state: TrackedState =
      entry.state === 'finished' ? 'finished' : candidate.isActivePath ? 'active' : 'rotated';
    const file = this.#newTracked(candidate, head, state, entry.key, seq);
    file.size = size;
    file.sizeIsExact = !head.compressed;
    file.markSeen(scanId);
    for (const sink of this.#options.sinks) {
      let offset = entry.offsets[sink];
      if (offset === undefined) {
        // A sink added since the checkpoint was written: it starts like a first run.
        offset = this.#options.startAt === 'end' ? size : 0;
      } else if (offset > size && file.sizeIsExact) {
        // The file lost its tail since (e.g. a crash of the node before the page cache was written
        // back): those bytes were delivered; continue with what is written next.
        this.#anomaly({
          kind: 'offset-beyond-size',
          path: candidate.path,
          key: entry.key,
          detail: { sink, checkpointOffset: offset, size },
        });
        offset = size;
      }
      file.acked.set(sink, offset);
    }
    if (state === 'finished') await handle.close();
    else file.handle = handle;
    this.#persist(file);
    for (const [sink, offset] of file.acked) this.#store.setOffset(file.key, sink, offset);
  }

  async #adoptNew(
    item: OpenedCandidate,
    scanId: number,
    startAt: 'beginning' | 'end',
    seq?: number,
  ): Promise<void> {
    const { candidate, handle, head } = item;
    const state: TrackedState = candidate.isActivePath ? 'active' : 'rotated';
    let startOffset = 0;
    const file = this.#newTracked(candidate, head, state, undefined, seq);
    file.markSeen(scanId);
    if (head.compressed) {
      file.size = (await readGzipTrailerSize(handle, candidate.size)) ?? 0;
      file.sizeIsExact = false;
    }
    if (startAt === 'end') {
      if (state === 'active') startOffset = await lineAlignedEnd(handle, candidate.size);
      else {
        // First run with startAt "end": backups are history we were told to skip.
        file.state = 'finished';
        startOffset = file.size;
      }
    }
    file.startOffset = startOffset;
    for (const sink of this.#options.sinks) file.acked.set(sink, startOffset);
    if (file.state === 'finished') await handle.close();
    else file.handle = handle;
    this.#persist(file);
    for (const sink of this.#options.sinks) this.#store.setOffset(file.key, sink, startOffset);
  }

  #newTracked(
    candidate: Candidate,
    head: FileHead,
    state: TrackedState,
    key?: string,
    seq?: number,
  ): TrackedFile {
    const bytes = Buffer.from(head.bytes.subarray(0, FINGERPRINT_MAX_BYTES));
    const file = new TrackedFile({
      key: key ?? newFileKey(candidate.dev, candidate.ino),
      seq: seq ?? this.#nextSeq++,
      path: candidate.path,
      dev: candidate.dev,
      ino: candidate.ino,
      head: bytes,
      fingerprint: sha256Hex(bytes),
      compressed: head.compressed,
      size: candidate.size,
      sizeIsExact: !head.compressed,
      mtimeMs: candidate.mtimeMs,
      state,
      startOffset: 0,
    });
    this.#files.set(file.key, file);
    this.#byDevIno.set(file.devIno, file);
    return file;
  }

  // ---- the periodic scan: the truth -------------------------------------------------------------

  #onHint(hint: WatchHint, path: string | undefined): void {
    if (hint === 'change' && path === this.#options.path) {
      // Appends to the active file: cursors pread through their descriptor, no scan needed.
      this.#bump();
      return;
    }
    this.requestScan();
  }

  async #runScans(): Promise<void> {
    do {
      this.#rescan = false;
      try {
        await this.#scan();
      } catch (error) {
        this.#log.warn({ err: error, path: this.#options.path }, 'Scanning the audit log directory failed.');
      }
    } while (this.#isRescanWanted());
  }

  /** Set by requestScan() while a scan ran (TS cannot see that across the await). */
  #isRescanWanted(): boolean {
    return this.#rescan && !this.#closed;
  }

  async #scan(): Promise<void> {
    if (this.#closed) return;
    const scanId = ++this.#scanId;
    const listing = await this.#list();
    let changed = false;
    const byDevIno = new Map<string, Candidate>();
    const unknown: Candidate[] = [];
    for (const candidate of listing.backups) {
      byDevIno.set(devInoOf(candidate), candidate);
      const file = this.#byDevIno.get(devInoOf(candidate));
      if (file && (file.handle !== undefined || (await this.#isStillSameFile(file, candidate)))) {
        file.markSeen(scanId);
        if (file.path !== candidate.path) {
          file.setPath(candidate.path);
          if (file.state === 'active') this.#markRotated(file, 'rename');
          this.#persist(file);
          changed = true;
        }
        continue;
      }
      const lostCopy = this.#lostCopies.get(devInoOf(candidate));
      if (lostCopy?.size === candidate.size && lostCopy.mtimeMs === candidate.mtimeMs) {
        lostCopy.lastSeenScan = scanId;
        continue;
      }
      const alias = this.#aliases.get(devInoOf(candidate));
      if (alias) {
        alias.lastSeenScan = scanId;
        alias.path = candidate.path;
        const owner = this.#files.get(alias.key);
        owner?.markSeen(scanId);
        // A finished file now only present as its copy (the .gz): show where it is.
        if (owner?.state === 'finished' && owner.path !== candidate.path) {
          owner.setPath(candidate.path);
          this.#persist(owner);
        }
        continue;
      }
      unknown.push(candidate);
    }
    // Also when nothing is unknown: a file rotated between two scans was never widened at the active path.
    await this.#widenYoungHeads();
    // Oldest first: the order they are adopted in is the order they are read in.
    for (const candidate of sortBackups(unknown)) {
      if (await this.#inspectUnknownBackup(candidate, scanId)) changed = true;
    }
    if (listing.active) byDevIno.set(devInoOf(listing.active), listing.active);
    if (await this.#checkActivePath(listing.active, byDevIno, scanId)) changed = true;
    if (this.#refreshHeldFiles()) changed = true;
    if (await this.#finishAndPrune(scanId)) changed = true;
    if (changed) {
      this.#reorder();
      this.#bump();
    }
  }

  /** A file we hold no descriptor for (finished): its inode may have been recycled. */
  async #isStillSameFile(file: TrackedFile, candidate: Candidate): Promise<boolean> {
    if (file.size === candidate.size && file.mtimeMs === candidate.mtimeMs) return true;
    const opened = await openCandidate(candidate);
    if (!opened) return false;
    await opened.handle.close();
    const same =
      opened.head.bytes.length >= file.head.length &&
      file.head.equals(opened.head.bytes.subarray(0, file.head.length));
    if (!same) this.#byDevIno.delete(file.devIno);
    return same;
  }

  /** A backup we have not seen: a copy or .gz of a file we know, one still being written, or new. */
  async #inspectUnknownBackup(candidate: Candidate, scanId: number): Promise<boolean> {
    const opened = await openCandidate(candidate);
    if (!opened) return false;
    const { handle, head } = opened;
    const owner = this.#findByContent(head.bytes);
    if (owner?.awaitingCopySinceMs !== undefined && head.complete) {
      await this.#moveToCopy(owner, opened, scanId);
      return true;
    }
    if (owner) {
      this.#aliases.set(devInoOf(candidate), {
        key: owner.key,
        path: candidate.path,
        compressed: head.compressed,
        lastSeenScan: scanId,
      });
      owner.markSeen(scanId);
      await handle.close();
      return false;
    }
    if (this.#lost.some((lost) => holdsContentOf(head.bytes, lost))) {
      this.#lostCopies.set(devInoOf(candidate), {
        size: candidate.size,
        mtimeMs: candidate.mtimeMs,
        lastSeenScan: scanId,
      });
      await handle.close();
      return false;
    }
    if (!head.complete || this.#isPrefixOfKnownHead(head.bytes)) {
      this.#noteIncompleteBackup(candidate.path, head.bytes);
      await handle.close();
      return false;
    }
    this.#incompleteBackups.delete(candidate.path);
    const stored = this.#matchPendingStored(candidate, head);
    if (stored) {
      this.#pendingStored.delete(stored.key);
      await this.#adoptFromCheckpoint(stored, opened, scanId);
      this.#log.info({ path: candidate.path, key: stored.key }, 'Found a file from the checkpoint again.');
      return true;
    }
    // Rotated before we ever saw it at the active path (two rotations between two scans).
    await this.#adoptNew(opened, scanId, 'beginning');
    this.#log.info({ path: candidate.path }, 'Found a rotated audit log file not seen before; reading it.');
    return true;
  }

  async #checkActivePath(
    candidate: Candidate | undefined,
    listed: ReadonlyMap<string, Candidate>,
    scanId: number,
  ): Promise<boolean> {
    const active = this.#activeFile();
    let next: PathStat | undefined;
    let headNow: Buffer | undefined;
    if (candidate) {
      next = { dev: candidate.dev, ino: candidate.ino, size: candidate.size };
      if (active?.handle && active.dev === candidate.dev && active.ino === candidate.ino) {
        headNow = await readPlainHead(active.handle);
        next = { ...next, headMatches: startsWith(headNow, active.head) };
      }
    }
    const previous = active ? { dev: active.dev, ino: active.ino, size: active.size } : undefined;
    const kind = classifyRotation(previous, next);
    switch (kind) {
      case 'absent':
        this.#logMissingOnce();
        return false;
      case 'created':
        if (candidate === undefined) return false;
        this.#missingLogged = false;
        await this.#adoptBackupsMissedByListing(scanId);
        return this.#trackNewActive(candidate, scanId);
      case 'same':
      case 'grown': {
        if (active === undefined || candidate === undefined) return false;
        active.markSeen(scanId);
        let changed = kind === 'grown';
        active.size = candidate.size;
        active.mtimeMs = candidate.mtimeMs;
        if (headNow && headNow.length > active.head.length) {
          // Young file: widen the fingerprint as it grows (up to FINGERPRINT_MAX_BYTES).
          active.head = Buffer.from(headNow);
          active.fingerprint = sha256Hex(active.head);
          changed = true;
        }
        if (changed) this.#persist(active);
        return changed;
      }
      case 'gone': {
        if (active === undefined) return false;
        const stats = await active.handle?.stat();
        if (stats && stats.nlink === 0) {
          this.#reportUnlinkedOnce(active, stats.size);
          if (stats.size === active.size) return false;
          active.size = stats.size;
          return true;
        }
        this.#markRotated(active, 'rename');
        return true;
      }
      case 'rotated': {
        if (active === undefined || candidate === undefined) return false;
        const stats = await active.handle?.stat();
        if (stats) active.size = stats.size;
        if (stats?.nlink === 0) active.setPath(`${active.path} (deleted)`);
        this.#markRotated(active, stats?.nlink === 0 ? 'recreate' : 'rename');
        await this.#adoptBackupsMissedByListing(scanId);
        await this.#trackNewActive(candidate, scanId);
        return true;
      }
      case 'truncated':
        if (active === undefined || candidate === undefined) return false;
        await this.#handleTruncation(active, candidate, listed, scanId);
        return true;
    }
  }

  /**
   * A new active file: a file rotated between our readdir and our stat (two rotations between
   * scans) is older than it and must be adopted first, to be read before it.
   */
  async #adoptBackupsMissedByListing(scanId: number): Promise<void> {
    const fresh = await this.#list();
    const unknown = fresh.backups.filter(
      (backup) => !this.#byDevIno.has(devInoOf(backup)) && !this.#aliases.has(devInoOf(backup)),
    );
    for (const backup of sortBackups(unknown)) await this.#inspectUnknownBackup(backup, scanId);
  }

  async #trackNewActive(candidate: Candidate, scanId: number): Promise<boolean> {
    const opened = await openCandidate(candidate);
    if (!opened) return false;
    await this.#adoptNew(
      { ...opened, head: { bytes: opened.head.bytes, compressed: false, complete: true } },
      scanId,
      'beginning',
    );
    return true;
  }

  /**
   * The active file shrank or its head changed: truncated in place. With copytruncate its content
   * is in a copy (same head, other inode), which may show up a little later (logrotate's compress
   * replaces it with a .gz): the file waits for it, then continues there from each sink's offset.
   * The truncated file is new content on the same inode: a new identity, read from 0.
   */
  async #handleTruncation(
    active: TrackedFile,
    candidate: Candidate,
    listedBefore: ReadonlyMap<string, Candidate>,
    scanId: number,
  ): Promise<void> {
    const truncatedHandle = active.handle;
    // Its true size is only known from the copy (lanes may have read past the last size we saw).
    active.size = Math.max(active.size, candidate.size);
    active.sizeIsExact = false;
    active.handle = undefined;
    active.generation++;
    active.awaitingCopySinceMs = Date.now();
    if (this.#byDevIno.get(active.devIno) === active) this.#byDevIno.delete(active.devIno);
    this.#markRotated(active, 'copytruncate');
    let listed = listedBefore;
    let copies = this.#copiesOf(active, listed);
    if (copies.length === 0) {
      // The listing may predate the copy (logrotate copied between our readdir and our stat), or
      // have caught it half-written: look again, now that the truncation is done.
      const fresh = await this.#list();
      listed = new Map(fresh.backups.map((backup) => [devInoOf(backup), backup]));
      for (const backup of fresh.backups) {
        const devIno = devInoOf(backup);
        if (!this.#byDevIno.has(devIno) && !this.#aliases.has(devIno)) {
          await this.#inspectUnknownBackup(backup, scanId);
        }
      }
      copies = this.#copiesOf(active, listed);
    }
    for (const [devIno] of copies) {
      const copy = listed.get(devIno);
      const opened = copy && (await openCandidate(copy));
      if (opened) {
        await this.#moveToCopy(active, opened, scanId);
        break;
      }
    }
    if (truncatedHandle === undefined) {
      await this.#trackNewActive(candidate, scanId);
      return;
    }
    const stats = await truncatedHandle.stat();
    const head = await readPlainHead(truncatedHandle);
    const fresh = { ...candidate, size: stats.size, mtimeMs: stats.mtimeMs };
    await this.#adoptNew(
      { candidate: fresh, handle: truncatedHandle, head: { bytes: head, compressed: false, complete: true } },
      scanId,
      'beginning',
    );
  }

  /** A truncated file's content found in a copy (plain or .gz): reading continues there. */
  async #moveToCopy(file: TrackedFile, opened: OpenedCandidate, scanId: number): Promise<void> {
    const { candidate: copy, handle, head } = opened;
    this.#aliases.delete(devInoOf(copy));
    file.dev = copy.dev;
    file.ino = copy.ino;
    file.setPath(copy.path);
    file.compressed = head.compressed;
    file.handle = handle;
    file.generation++;
    file.size = head.compressed ? ((await readGzipTrailerSize(handle, copy.size)) ?? file.size) : copy.size;
    file.sizeIsExact = !head.compressed;
    file.mtimeMs = copy.mtimeMs;
    file.awaitingCopySinceMs = undefined;
    file.markSeen(scanId);
    this.#byDevIno.set(file.devIno, file);
    this.#persist(file);
    this.#reorder();
    this.#bump();
    this.#log.info({ key: file.key, path: copy.path }, 'Continuing a truncated audit log file in its copy.');
  }

  /** A truncated file whose copy never showed up: what no sink read is lost. */
  #expireAwaitingCopy(file: TrackedFile, now: number): void {
    const since = file.awaitingCopySinceMs;
    const graceMs = this.#options.missingFileGraceMs ?? DEFAULT_MISSING_FILE_GRACE_MS;
    if (since === undefined || now - since < graceMs) return;
    this.#anomaly({
      kind: 'truncated',
      path: this.#options.path,
      key: file.key,
      detail: { size: file.size },
    });
    this.#recordLoss(file, 'truncated-before-read', true);
    this.#markLost(file);
  }

  /** A backup whose content is not readable yet and is no copy of a file we know: it may be older. */
  #noteIncompleteBackup(path: string, headBytes: Buffer): void {
    // A prefix of a known head is that file's copy (the usual .gz). With nothing decompressed yet, the
    // .gz of a file we track under its plain name is that file's copy too; anything else may be older.
    if (headBytes.length > 0 && this.#isPrefixOfKnownHead(headBytes)) return;
    if (headBytes.length === 0 && path.endsWith('.gz') && this.#isKnownPath(path.slice(0, -3))) return;
    if (!this.#incompleteBackups.has(path) && !this.#waitedForBackups.has(path)) {
      this.#incompleteBackups.set(path, Date.now());
    }
  }

  #isKnownPath(path: string): boolean {
    for (const file of this.#files.values()) if (file.path === path) return true;
    for (const alias of this.#aliases.values()) if (alias.path === path) return true;
    return false;
  }

  #matchPendingStored(candidate: Candidate, head: FileHead): FileCheckpoint | undefined {
    for (const { entry } of this.#pendingStored.values()) {
      const sameInode = !head.compressed && entry.dev === candidate.dev && entry.ino === candidate.ino;
      if (sameInode ? headMatches(entry, head.bytes) : contentMatches(entry, head.bytes)) return entry;
    }
    return undefined;
  }

  /** Checkpoint entries still not found: record the loss of what was unread, forget finished ones. */
  #expirePendingStored(now: number): void {
    const graceMs = this.#options.missingFileGraceMs ?? DEFAULT_MISSING_FILE_GRACE_MS;
    for (const [key, { entry, sinceMs }] of this.#pendingStored) {
      const waitedMs = now - sinceMs;
      if (entry.state === 'finished' ? waitedMs < this.#finishedRetentionMs : waitedMs < graceMs) continue;
      this.#pendingStored.delete(key);
      if (entry.state !== 'finished') this.#recordLossOfStored(entry);
      this.#store.removeFile(key);
      this.#scheduleSave();
    }
  }

  /**
   * A file rotated while still young has a short head: widen it from its descriptor before
   * comparing other files with it, or its .gz (a longer head) would not be recognised.
   */
  async #widenYoungHeads(): Promise<void> {
    for (const file of this.#files.values()) {
      if (file.head.length >= FINGERPRINT_MAX_BYTES || file.compressed || file.handle === undefined) continue;
      if (file.state === 'active') continue; // done by the active-path check, which also detects truncation
      let head: Buffer;
      try {
        head = await readPlainHead(file.handle);
      } catch {
        continue;
      }
      if (head.length > file.head.length && startsWith(head, file.head)) {
        file.head = Buffer.from(head);
        file.fingerprint = sha256Hex(file.head);
        this.#persist(file);
      }
    }
  }

  /** Copies (plain first) of `file`'s content found in the listing: copytruncate candidates. */
  #copiesOf(file: TrackedFile, listed: ReadonlyMap<string, Candidate>): [string, AliasEntry][] {
    return [...this.#aliases.entries()]
      .filter(([devIno, alias]) => alias.key === file.key && listed.has(devIno))
      .sort(([, a], [, b]) => Number(a.compressed) - Number(b.compressed));
  }

  /**
   * Sizes of rotated files still held (a writer that kept its descriptor can still append, and logrotate's
   * copy grows while it is made). Asked just before #finishAndPrune, which finishes a file read to this size:
   * an older size (the listing's, taken before this scan's awaits) finished files that were still growing
   * (the copytruncate torture). fstatSync: a stat() promise per held file per scan, with a hundred backups
   * behind during an outage, was hundreds of promises a second that outlived young collections.
   */
  #refreshHeldFiles(): boolean {
    let changed = false;
    for (const file of this.#files.values()) {
      if (file.state !== 'rotated' || file.compressed || file.handle === undefined) continue;
      let stats: Stats;
      try {
        stats = fstatSync(file.handle.fd);
      } catch {
        continue; // Closed by a concurrent finish.
      }
      if (stats.size !== file.size) {
        file.size = stats.size;
        file.mtimeMs = stats.mtimeMs;
        this.#persist(file);
        changed = true;
      }
    }
    return changed;
  }

  /** Closes files every sink has finished; forgets finished files that are gone from the directory. */
  async #finishAndPrune(scanId: number): Promise<boolean> {
    let changed = false;
    for (const file of [...this.#files.values()]) {
      if (file.state === 'rotated' && file.sizeIsExact && this.#isAckedToEnd(file)) {
        file.state = 'finished';
        file.awaitingCopySinceMs = undefined;
        await closeQuietly(file);
        this.#skipReportedUpTo.delete(file.key);
        this.#persist(file);
        this.#log.debug({ path: file.path, key: file.key }, 'Audit log file finished by every sink.');
        changed = true;
      }
      if (file.state === 'rotated') this.#expireAwaitingCopy(file, Date.now());
      if (
        file.state === 'finished' &&
        file.lastSeenScan !== scanId &&
        Date.now() - file.lastSeenAtMs > this.#finishedRetentionMs
      ) {
        this.#files.delete(file.key);
        if (this.#byDevIno.get(file.devIno) === file) this.#byDevIno.delete(file.devIno);
        this.#store.removeFile(file.key);
        this.#scheduleSave();
      }
    }
    for (const [devIno, alias] of this.#aliases) {
      if (alias.lastSeenScan !== scanId || !this.#files.has(alias.key)) this.#aliases.delete(devIno);
    }
    for (const [devIno, copy] of this.#lostCopies)
      if (copy.lastSeenScan !== scanId) this.#lostCopies.delete(devIno);
    this.#expirePendingStored(Date.now());
    return changed;
  }

  #isAckedToEnd(file: TrackedFile): boolean {
    return this.#options.sinks.every((sink) => (file.acked.get(sink) ?? file.startOffset) >= file.size);
  }

  // ---- state changes ----------------------------------------------------------------------------

  #markRotated(file: TrackedFile, kind: RotationInfo['kind'], rotatedPath?: string): void {
    file.state = 'rotated';
    file.rotatedAtMs = Date.now();
    this.#persist(file);
    this.#reorder();
    const info: RotationInfo = {
      kind,
      path: this.#options.path,
      key: file.key,
      rotatedPath: rotatedPath ?? file.path,
    };
    this.#log.info(info, 'Audit log rotated.');
    this.#observer.onRotation?.(info);
  }

  #markLost(file: TrackedFile): void {
    file.state = 'lost';
    void closeQuietly(file);
    this.#files.delete(file.key);
    if (this.#byDevIno.get(file.devIno) === file) this.#byDevIno.delete(file.devIno);
    this.#store.removeFile(file.key);
    this.#lost.push(file);
    if (this.#lost.length > MAX_LOST_SHOWN) this.#lost = this.#lost.slice(-MAX_LOST_SHOWN);
    this.#reorder();
    this.#bump();
    this.#scheduleSave();
  }

  /** Records the bytes of `file` that some sink never received. */
  #recordLoss(file: TrackedFile, reason: string, isLowerBound: boolean): void {
    const bySink: Record<string, number> = {};
    let unreadBytes = 0;
    for (const sink of this.#options.sinks) {
      const read = this.#emittedOffset(sink, file);
      const unread = Math.max(0, file.size - read);
      bySink[sink] = unread;
      unreadBytes = Math.max(unreadBytes, unread);
    }
    if (unreadBytes === 0) return;
    this.#addLoss({
      path: file.path,
      key: file.key,
      dev: file.dev,
      ino: file.ino,
      unreadBytes,
      unreadBytesBySink: bySink,
      unreadBytesIsLowerBound: isLowerBound,
      detectedAt: new Date().toISOString(),
      reason,
    });
  }

  #recordLossOfStored(entry: FileCheckpoint): void {
    const bySink: Record<string, number> = {};
    let unreadBytes = 0;
    for (const sink of this.#options.sinks) {
      const unread = Math.max(0, entry.size - (entry.offsets[sink] ?? 0));
      bySink[sink] = unread;
      unreadBytes = Math.max(unreadBytes, unread);
    }
    if (unreadBytes === 0) {
      this.#log.info(
        { path: entry.path, key: entry.key },
        'A fully read audit log file is gone; forgetting it.',
      );
      return;
    }
    this.#addLoss({
      path: entry.path,
      key: entry.key,
      dev: entry.dev,
      ino: entry.ino,
      unreadBytes,
      unreadBytesBySink: bySink,
      // A file that was still active may have grown after the checkpoint was written.
      unreadBytesIsLowerBound: entry.state === 'active',
      detectedAt: new Date().toISOString(),
      reason: 'deleted-before-read',
    });
  }

  #addLoss(record: DataLossRecord): void {
    this.#store.addDataLoss(record);
    this.#scheduleSave();
    this.#log.error(record, 'Audit events lost: a file was removed before every sink read it.');
    this.#observer.onDataLoss?.(record);
  }

  #anomaly(anomaly: SourceAnomaly): void {
    this.#log.warn(anomaly, 'Audit log anomaly detected.');
    this.#observer.onAnomaly?.(anomaly);
  }

  #reportUnlinkedOnce(file: TrackedFile, size: number): void {
    if (file.unlinkReported) return;
    file.unlinkReported = true;
    const anomaly: SourceAnomaly = {
      kind: 'active-unlinked',
      path: file.path,
      key: file.key,
      detail: { size },
    };
    // An operator must act: the API server writes into a file nobody else can see, filling the disk.
    this.#log.error(
      anomaly,
      'The active audit log file was deleted while still open; reading it through its descriptor.',
    );
    this.#observer.onAnomaly?.(anomaly);
  }

  #persist(file: TrackedFile): void {
    if (file.state === 'lost') return;
    this.#store.putFile({
      key: file.key,
      path: file.path,
      dev: file.dev,
      ino: file.ino,
      fingerprint: file.fingerprint,
      fingerprintBytes: file.fingerprintBytes,
      size: file.size,
      state: file.state,
    });
    this.#scheduleSave();
  }

  #reorder(): void {
    this.#readable = [...this.#files.values()]
      .filter((file) => file.state === 'active' || file.state === 'rotated')
      .sort((a, b) => Number(a.state === 'active') - Number(b.state === 'active') || a.seq - b.seq);
  }

  #bump(): void {
    this.#changeSeq++;
    for (const waiter of [...this.#waiters]) waiter();
  }

  #activeFile(): TrackedFile | undefined {
    for (const file of this.#files.values()) if (file.state === 'active') return file;
    return undefined;
  }

  #emittedOffset(sink: string, file: TrackedFile): number {
    let offset: number | undefined;
    for (const cursor of this.#cursors) {
      if (cursor.sink !== sink) continue;
      const emitted = cursor.emittedOffset(file);
      if (emitted !== undefined) offset = Math.max(offset ?? 0, emitted);
    }
    return offset ?? file.acked.get(sink) ?? file.startOffset;
  }

  #readOffset(sink: string, file: TrackedFile): number {
    let offset: number | undefined;
    for (const cursor of this.#cursors) {
      if (cursor.sink !== sink) continue;
      const read = cursor.readOffset(file);
      if (read !== undefined) offset = Math.max(offset ?? 0, read);
    }
    return offset ?? file.acked.get(sink) ?? file.startOffset;
  }

  #findByContent(head: Buffer): TrackedFile | undefined {
    for (const file of this.#files.values()) {
      if (holdsContentOf(head, file)) return file;
    }
    return undefined;
  }

  /** True when `head` could still become a known file's head (a copy or .gz being written). */
  #isPrefixOfKnownHead(head: Buffer): boolean {
    if (head.length === 0) return true;
    for (const file of this.#files.values()) {
      if (head.length < file.head.length && startsWith(file.head, head)) return true;
    }
    return false;
  }

  #statusOf(file: TrackedFile): FileStatus {
    const sinks: Record<string, SinkFileStatus> = {};
    const readOffsets = new Map<string, number>();
    // Lanes read the active file between scans: what they read exists, whatever the last scan saw.
    let size = file.size;
    for (const sink of this.#options.sinks) {
      const readOffset = file.state === 'finished' ? file.size : this.#readOffset(sink, file);
      readOffsets.set(sink, readOffset);
      size = Math.max(size, readOffset);
    }
    let bytesUnread = 0;
    for (const sink of this.#options.sinks) {
      const ackedOffset = file.acked.get(sink) ?? file.startOffset;
      const readOffset = readOffsets.get(sink) ?? ackedOffset;
      sinks[sink] = { ackedOffset, readOffset, unackedBytes: Math.max(0, size - ackedOffset) };
      bytesUnread = Math.max(bytesUnread, size - readOffset);
    }
    return {
      key: file.key,
      path: file.path,
      state: file.state,
      compressed: file.compressed,
      size,
      bytesUnread: Math.max(0, bytesUnread),
      modifiedAt: new Date(file.mtimeMs).toISOString(),
      sinks,
    };
  }

  #logMissingOnce(): void {
    if (this.#missingLogged) return;
    this.#missingLogged = true;
    this.#log.info({ path: this.#options.path }, 'Waiting for the audit log file to appear.');
  }

  // ---- checkpoint saving (optional; the pipeline may save instead) -------------------------------

  #scheduleSave(): void {
    const intervalMs = this.#options.checkpointIntervalMs;
    if (intervalMs === undefined || this.#saveTimer !== undefined || this.#closed) return;
    const sinceLastMs = Date.now() - (this.#store.lastSavedAt?.getTime() ?? 0);
    this.#saveTimer = setTimeout(
      () => {
        this.#saveTimer = undefined;
        void this.#saveNow();
      },
      Math.max(0, intervalMs - sinceLastMs),
    );
  }

  async #saveNow(): Promise<void> {
    try {
      await this.#store.save();
    } catch (error) {
      this.#log.error({ err: error, path: this.#store.path }, 'Cannot write the checkpoint; retrying.');
      this.#scheduleSave();
    }
  }

  // ---- directory listing ------------------------------------------------------------------------

  async #list(): Promise<Listing> {
    let names: string[];
    try {
      names = await readdir(this.#dir);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR')
        return { dirExists: false, active: undefined, backups: [] };
      throw error;
    }
    const activeName = basename(this.#options.path);
    const wanted = names.filter((name) => name === activeName || this.#isBackup(name));
    if (this.#candidateOf.size > 2 * wanted.length + 16) this.#candidateOf.clear();
    // statSync rather than a stat() promise per file, and the last scan's candidate object while a file's
    // stat is unchanged. On the local directory the API server writes, a stat takes microseconds, whereas a
    // hundred promises queued on libuv's thread pool behind the file reads outlived young-generation
    // collections at every scan (4 a second), and so did candidates (V8 then allocated them in the old
    // generation directly). During a catch-up over 115 backups that was ~45 % of what the main thread
    // tenured, and its old generation grew by ~15 MB between full collections (sampling heap profiles).
    const stats = wanted.map((name): Candidate | undefined => {
      const known = this.#candidateOf.get(name);
      const path = known?.path ?? join(this.#dir, name);
      try {
        const s = statSync(path, { throwIfNoEntry: false });
        if (s?.isFile() !== true) return undefined;
        if (
          known !== undefined &&
          known.dev === s.dev &&
          known.ino === s.ino &&
          known.size === s.size &&
          known.mtimeMs === s.mtimeMs
        )
          return known;
        const candidate: Candidate = {
          path,
          name,
          dev: s.dev,
          ino: s.ino,
          size: s.size,
          mtimeMs: s.mtimeMs,
          isActivePath: name === activeName,
        };
        this.#candidateOf.set(name, candidate);
        return candidate;
      } catch {
        return undefined;
      }
    });
    let active: Candidate | undefined;
    const backups: Candidate[] = [];
    for (const candidate of stats) {
      if (candidate === undefined) continue;
      if (candidate.isActivePath) active = candidate;
      else backups.push(candidate);
    }
    return { dirExists: true, active, backups };
  }
}

function devInoOf(candidate: Candidate): string {
  return `${candidate.dev}:${candidate.ino}`;
}

/** True when content starting with `head` is a copy (plain or .gz) of `file`'s. */
function holdsContentOf(head: Buffer, file: TrackedFile): boolean {
  return file.head.length >= MIN_CONTENT_MATCH_BYTES && startsWith(head, file.head);
}

function startsWith(data: Buffer, prefix: Buffer): boolean {
  return data.length >= prefix.length && data.subarray(0, prefix.length).equals(prefix);
}

/** Oldest first: by the lumberjack timestamp in the name, else by mtime (logrotate keeps it on rename). */
function sortBackups(backups: readonly Candidate[]): Candidate[] {
  return [...backups].sort((a, b) => {
    const ta = backupTimestampMs(a.name);
    const tb = backupTimestampMs(b.name);
    if (ta !== undefined && tb !== undefined && ta !== tb) return ta - tb;
    const na = logrotateNumber(a.name);
    const nb = logrotateNumber(b.name);
    if (na !== undefined && nb !== undefined && na !== nb) return nb - na;
    return a.mtimeMs - b.mtimeMs || a.name.localeCompare(b.name);
  });
}

/** logrotate's numbered copies: audit.log.3.gz is older than audit.log.1. */
function logrotateNumber(name: string): number | undefined {
  const match = /\.(\d+)(?:\.gz)?$/.exec(name);
  return match ? Number(match[1]) : undefined;
}

/** Opens a candidate and reads its head; undefined when it vanished or was replaced meanwhile. */
async function openCandidate(candidate: Candidate): Promise<OpenedCandidate | undefined> {
  let handle: FileHandle;
  try {
    handle = await open(candidate.path, 'r');
  } catch {
    return undefined;
  }
  try {
    const stats = await handle.stat();
    if (stats.dev !== candidate.dev || stats.ino !== candidate.ino) {
      await handle.close();
      return undefined;
    }
    const head = await readHead(handle);
    return { candidate: { ...candidate, size: stats.size, mtimeMs: stats.mtimeMs }, handle, head };
  } catch {
    await handle.close().catch(() => undefined);
    return undefined;
  }
}

async function closeQuietly(file: TrackedFile): Promise<void> {
  const handle = file.handle;
  file.handle = undefined;
  await handle?.close().catch(() => undefined);
}
