// A kube-apiserver audit log backend writing through lumberjack v2.2.1, simulated: one write() per
// line, rotation by rename-then-create *before* a write that would exceed maxSizeBytes (so no line
// is ever split across files), and a background mill that deletes and gzips backups
// (shared/reference/audit-format.md §3–§6). It also records exactly what it wrote, for tests.
import { EventEmitter } from 'node:events';
import {
  closeSync,
  constants,
  fstatSync,
  mkdirSync,
  openSync,
  renameSync,
  statSync,
  writeSync,
} from 'node:fs';
import { dirname } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { ForwarderError } from '../errors.ts';
import { backupPath } from './backup-name.ts';
import { AuditEventGenerator, type AuditEventGeneratorOptions } from './generator.ts';
import { ManifestWriter } from './manifest.ts';
import { listBackups, runMillOnce } from './mill.ts';

/** lumberjack's default maximum size: 100 MiB. */
export const DEFAULT_MAX_SIZE_BYTES = 100 * 1024 * 1024;

/** Timer period of the rate loop; the token bucket makes the rate independent of it. */
const TICK_MS = 10;

/** Anything that yields lines; the default is an {@link AuditEventGenerator}. */
export interface LineSource {
  nextEvent(): { readonly line: string; readonly auditID: string; readonly stage: string };
}

/** Options of {@link SimulatedApiServer}. */
export interface SimulatedApiServerOptions {
  /** The --audit-log-path. Its directory is created (0700) if missing. */
  readonly path: string;
  /** Rotate before a write that would make the file larger than this (--audit-log-maxsize, in bytes). */
  readonly maxSizeBytes?: number;
  /** gzip backups in the background (--audit-log-compress). */
  readonly compress?: boolean;
  /** Keep at most this many backups, newest by name; 0 = all (--audit-log-maxbackup). */
  readonly maxBackups?: number;
  /**
   * Delay before each background mill pass (deletion, then compression). lumberjack runs it at once;
   * a delay lets tests observe the plain backup before it becomes `.gz`. Default 0.
   */
  readonly millDelayMs?: number;
  /** Lines per second for start(); Infinity writes as fast as possible. Default 1000. */
  readonly ratePerSec?: number;
  /** Most lines written in one tick when catching up (token-bucket size). Default: 100 ms worth. */
  readonly burstLines?: number;
  /** Stop (and resolve finished()) after this many events; undefined = until stop(). */
  readonly count?: number;
  /** Where lines come from; default a generator seeded with `seed`. */
  readonly source?: LineSource;
  /** Seed of the default generator. */
  readonly seed?: number;
  /** Options of the default generator; its startTime defaults to `clock()` here (events dated now). */
  readonly generator?: Omit<AuditEventGeneratorOptions, 'seed'>;
  /** Keep `{auditID, stage, file, offset, bytes}` of every line in memory (see written()). Default false. */
  readonly record?: boolean;
  /**
   * Also write those records, plus rotations, compressions and removals, to this JSON-lines file
   * (truncated when the simulator is constructed, closed by stop(); see manifest.ts for readManifest).
   */
  readonly manifestPath?: string;
  /** Wall clock for backup names (ms since epoch). Default Date.now. */
  readonly clock?: () => number;
}

/** A line as written. */
export interface WrittenLine {
  readonly auditID: string;
  readonly stage: string;
  /** Number of the active file it went to: 0 for the first, +1 per rotation. */
  readonly file: number;
  readonly offset: number;
  /** Bytes including the '\n'. */
  readonly bytes: number;
}

/** One active file of this run and what became of it. */
export interface WrittenFile {
  readonly file: number;
  /** Where it was renamed to on rotation; undefined while it is the active file. */
  readonly backupPath: string | undefined;
  readonly lines: number;
  readonly bytes: number;
}

/** Counters, for progress and assertions. */
export interface SimulatorStats {
  readonly linesWritten: number;
  readonly bytesWritten: number;
  readonly linesDropped: number;
  readonly rotations: number;
  /** Number of the current active file. */
  readonly file: number;
}

/** Events, for tests to wait on instead of sleeping. */
export interface SimulatedApiServerEvents {
  /** A file was renamed to `backupPath`; the active path is a new, empty file. */
  rotate: [info: { readonly backupPath: string; readonly file: number }];
  /** Only emitted when someone listens. */
  line: [line: WrittenLine];
  /** A line longer than maxSizeBytes: lumberjack refuses the write and the event is lost. */
  drop: [info: { readonly auditID: string; readonly stage: string; readonly bytes: number }];
  compress: [info: { readonly from: string; readonly to: string }];
  remove: [info: { readonly path: string }];
  /** A mill failure; like lumberjack, the simulator carries on. */
  millError: [error: Error];
  /** stop() completed (count reached or called). */
  finish: [];
}

type State = 'active' | 'stopping' | 'stopped';

/** Writes audit lines to a file exactly as the API server's lumberjack-backed log backend does. */
export class SimulatedApiServer extends EventEmitter<SimulatedApiServerEvents> {
  /** The active file's path. */
  readonly path: string;
  readonly #maxSizeBytes: number;
  readonly #compress: boolean;
  readonly #maxBackups: number;
  readonly #millDelayMs: number;
  readonly #ratePerSec: number;
  readonly #burstLines: number;
  readonly #count: number | undefined;
  readonly #source: LineSource;
  readonly #clock: () => number;
  readonly #manifest: ManifestWriter | undefined;
  readonly #record: WrittenLine[] | undefined;
  readonly #files: { file: number; backupPath: string | undefined; lines: number; bytes: number }[] = [];
  readonly #finished = Promise.withResolvers<undefined>();
  // Mutable state, all here. Writes are synchronous, so no await can interleave with them.
  #state: State = 'active';
  #loopStarted = false;
  #fd: number | undefined;
  #size = 0;
  #file = 0;
  #generated = 0;
  #linesWritten = 0;
  #bytesWritten = 0;
  #linesDropped = 0;
  #lastBackupMs = 0;
  #tokens = 0;
  #lastTickMs = 0;
  #timeout: NodeJS.Timeout | undefined;
  #immediate: NodeJS.Immediate | undefined;
  #millPending = false;
  #millRun: Promise<void> | undefined;
  #millDelayAbort: AbortController | undefined;
  /** > 0 while someone waits for the mill: passes then skip their delay. */
  #millHurry = 0;
  #stopping: Promise<void> | undefined;

  constructor(options: SimulatedApiServerOptions) {
    super();
    const maxSizeBytes = options.maxSizeBytes ?? DEFAULT_MAX_SIZE_BYTES;
    const ratePerSec = options.ratePerSec ?? 1000;
    const problems: string[] = [];
    if (!(Number.isInteger(maxSizeBytes) && maxSizeBytes > 0)) {
      problems.push('maxSizeBytes must be a positive integer');
    }
    if (!(ratePerSec > 0)) problems.push('ratePerSec must be positive (Infinity = as fast as possible)');
    if (options.count !== undefined && !(Number.isInteger(options.count) && options.count >= 0)) {
      problems.push('count must be a non-negative integer');
    }
    if ((options.maxBackups ?? 0) < 0) problems.push('maxBackups must be >= 0');
    if (options.source === undefined && options.seed === undefined) {
      problems.push('give either source or seed');
    }
    if (problems.length > 0) {
      throw new ForwarderError('KAF_USAGE', `Invalid simulator options: ${problems.join('; ')}.`);
    }
    this.path = options.path;
    this.#maxSizeBytes = maxSizeBytes;
    this.#compress = options.compress ?? false;
    this.#maxBackups = options.maxBackups ?? 0;
    this.#millDelayMs = options.millDelayMs ?? 0;
    this.#ratePerSec = ratePerSec;
    this.#burstLines =
      options.burstLines ?? Math.max(1, Math.ceil(Number.isFinite(ratePerSec) ? ratePerSec / 10 : 1000));
    this.#count = options.count;
    this.#clock = options.clock ?? Date.now;
    // Events dated "now" by default, as a live API server writes them; pass startTime to reproduce.
    this.#source =
      options.source ??
      new AuditEventGenerator({ startTime: this.#clock(), ...options.generator, seed: options.seed ?? 0 });
    this.#record = options.record === true ? [] : undefined;
    this.#manifest =
      options.manifestPath === undefined ? undefined : new ManifestWriter(options.manifestPath);
    // Callers that never await finished() must not get an unhandled rejection from it.
    this.#finished.promise.catch(() => undefined);
  }

  /**
   * Creates the directory and the file (as the API server does at startup) and starts writing at
   * the configured rate. Resolves once the file exists.
   */
  async start(): Promise<void> {
    if (this.#loopStarted || this.#state !== 'active') {
      throw new ForwarderError('KAF_USAGE', 'SimulatedApiServer.start() called twice or after stop().');
    }
    this.#loopStarted = true;
    this.#prepare();
    // Continue backup names after those already there, so name order stays write order across runs.
    const existing = await listBackups(this.path);
    this.#lastBackupMs = Math.max(this.#lastBackupMs, ...existing.map((backup) => backup.timestampMs));
    this.#lastTickMs = performance.now();
    this.#schedule();
  }

  /**
   * Writes `n` events now, synchronously (a burst), whether or not start() was called. Returns the
   * number of lines written (dropped oversize lines are not counted). Respects `count`.
   */
  writeNow(n: number): number {
    if (this.#state !== 'active') throw new ForwarderError('KAF_USAGE', 'SimulatedApiServer is stopped.');
    this.#prepare();
    const limit = this.#count === undefined ? n : Math.min(n, this.#count - this.#generated);
    const notify = this.listenerCount('line') > 0;
    let written = 0;
    for (let i = 0; i < limit; i++) {
      const { line, auditID, stage } = this.#source.nextEvent();
      this.#generated++;
      if (this.#writeLine(line, auditID, stage, notify)) written++;
    }
    this.#manifest?.flush();
    if (this.#count !== undefined && this.#generated >= this.#count) void this.stop();
    return written;
  }

  /** Rotates now, like lumberjack's Rotate() (kube-apiserver never calls it; tests may). */
  rotateNow(): void {
    if (this.#state !== 'active') return;
    this.#prepare();
    this.#rotate();
    this.#manifest?.flush();
  }

  /** Stops writing, closes the file, runs any pending mill pass now, flushes the manifest. Idempotent. */
  stop(): Promise<void> {
    this.#stopping ??= this.#stop();
    return this.#stopping;
  }

  /** Resolves when the run ends (count reached or stop()); rejects if writing failed. */
  finished(): Promise<void> {
    return this.#finished.promise;
  }

  /** Waits for the current and any pending mill pass, skipping their delay. */
  async flushMill(): Promise<void> {
    this.#millHurry++;
    try {
      this.#millDelayAbort?.abort();
      while (this.#millRun !== undefined) await this.#millRun;
    } finally {
      this.#millHurry--;
    }
  }

  /** Counters so far. */
  stats(): SimulatorStats {
    return {
      linesWritten: this.#linesWritten,
      bytesWritten: this.#bytesWritten,
      linesDropped: this.#linesDropped,
      rotations: this.#file,
      file: this.#file,
    };
  }

  /** Every line written, in order (only with `record: true`). */
  written(): readonly WrittenLine[] {
    if (this.#record === undefined)
      throw new ForwarderError('KAF_USAGE', 'written() needs the record option.');
    return this.#record;
  }

  /** The active files of this run, oldest first, with their backup paths. */
  files(): readonly WrittenFile[] {
    return this.#files.map((file) => ({ ...file }));
  }

  async #stop(): Promise<void> {
    this.#state = 'stopping';
    this.#clearTimer();
    if (this.#fd !== undefined) {
      closeSync(this.#fd);
      this.#fd = undefined;
    }
    await this.flushMill();
    this.#manifest?.close();
    this.#state = 'stopped';
    // A no-op if #fail() rejected it first.
    this.#finished.resolve(undefined);
    this.emit('finish');
  }

  #fail(error: Error): void {
    this.#finished.reject(error);
    void this.stop();
  }

  /** The API server's startup: directory 0700, file created 0600 with O_APPEND (not yet lumberjack). */
  #prepare(): void {
    if (this.#files.length > 0) return;
    mkdirSync(dirname(this.path), { recursive: true, mode: 0o700 });
    closeSync(openSync(this.path, constants.O_CREAT | constants.O_APPEND | constants.O_WRONLY, 0o600));
    this.#files.push({ file: 0, backupPath: undefined, lines: 0, bytes: 0 });
  }

  /** One lumberjack Write(p). Returns false when the line was refused as too large. */
  #writeLine(line: string, auditID: string, stage: string, notify: boolean): boolean {
    const buffer = Buffer.from(`${line}\n`);
    const bytes = buffer.length;
    if (bytes > this.#maxSizeBytes) {
      // lumberjack: "write length N exceeds maximum file size M"; the log backend drops the event.
      this.#linesDropped++;
      this.#manifest?.add({ type: 'drop', auditID, stage, bytes });
      this.emit('drop', { auditID, stage, bytes });
      return false;
    }
    if (this.#fd === undefined) this.#openExistingOrNew(bytes);
    else if (this.#size + bytes > this.#maxSizeBytes) this.#rotate();
    const fd = this.#fd;
    if (fd === undefined) throw new Error('unreachable: no open audit file');
    const offset = this.#size;
    let done = 0;
    while (done < bytes) done += writeSync(fd, buffer, done);
    this.#size += bytes;
    this.#linesWritten++;
    this.#bytesWritten += bytes;
    const current = this.#files[this.#file];
    if (current !== undefined) {
      current.lines++;
      current.bytes += bytes;
    }
    this.#manifest?.addLine(this.#file, offset, bytes, auditID, stage);
    if (this.#record !== undefined || notify) {
      const written: WrittenLine = { auditID, stage, file: this.#file, offset, bytes };
      this.#record?.push(written);
      if (notify) this.emit('line', written);
    }
    return true;
  }

  /** lumberjack's openExistingOrNew: append to the existing file unless this write would fill it. */
  #openExistingOrNew(firstWriteBytes: number): void {
    this.#requestMill();
    let size: number;
    try {
      size = statSync(this.path).size;
    } catch {
      this.#openNew();
      return;
    }
    // Note ">=" here but ">" on later writes: lumberjack's own asymmetry.
    if (size + firstWriteBytes >= this.#maxSizeBytes) {
      this.#rotate();
      return;
    }
    this.#fd = openSync(this.path, constants.O_APPEND | constants.O_WRONLY);
    this.#size = fstatSync(this.#fd).size;
  }

  /** close → rename to the backup name → create a new file with the old mode → mill. */
  #rotate(): void {
    if (this.#fd !== undefined) {
      closeSync(this.#fd);
      this.#fd = undefined;
    }
    const renamedTo = this.#openNew();
    if (renamedTo !== undefined) {
      const previous = this.#files[this.#file];
      if (previous !== undefined) previous.backupPath = renamedTo;
      this.#manifest?.add({ type: 'rotate', file: this.#file, backup: renamedTo });
      this.#file++;
      this.#files.push({ file: this.#file, backupPath: undefined, lines: 0, bytes: 0 });
      this.emit('rotate', { backupPath: renamedTo, file: this.#file - 1 });
    }
    this.#requestMill();
  }

  /** lumberjack's openNew. Returns the backup path if an existing file was renamed. */
  #openNew(): string | undefined {
    mkdirSync(dirname(this.path), { recursive: true, mode: 0o755 });
    let mode = 0o600;
    let renamedTo: string | undefined;
    let exists = true;
    try {
      mode = statSync(this.path).mode & 0o7777;
    } catch {
      exists = false;
    }
    if (exists) {
      // Real lumberjack takes time.Now() and would overwrite a backup rotated in the same
      // millisecond; bump instead, so names stay unique and sort in write order.
      const nowMs = Math.max(this.#clock(), this.#lastBackupMs + 1);
      this.#lastBackupMs = nowMs;
      renamedTo = backupPath(this.path, nowMs);
      renameSync(this.path, renamedTo);
    }
    this.#fd = openSync(this.path, constants.O_CREAT | constants.O_WRONLY | constants.O_TRUNC, mode);
    this.#size = 0;
    return renamedTo;
  }

  /** Signals the mill; like lumberjack's buffered channel, signals coalesce into one pending pass. */
  #requestMill(): void {
    if (!this.#compress && this.#maxBackups === 0) return;
    this.#millPending = true;
    this.#millRun ??= this.#millLoop();
  }

  async #millLoop(): Promise<void> {
    while (this.#millPending) {
      this.#millPending = false;
      if (this.#millDelayMs > 0 && this.#millHurry === 0) {
        const abort = new AbortController();
        this.#millDelayAbort = abort;
        await delay(this.#millDelayMs, undefined, { signal: abort.signal }).catch(() => undefined);
        this.#millDelayAbort = undefined;
      }
      await runMillOnce(
        { activePath: this.path, maxBackups: this.#maxBackups, compress: this.#compress },
        {
          onRemove: (path) => {
            this.#manifest?.add({ type: 'remove', path });
            this.#manifest?.flush();
            this.emit('remove', { path });
          },
          onCompress: (from, to) => {
            this.#manifest?.add({ type: 'compress', from, to });
            this.#manifest?.flush();
            this.emit('compress', { from, to });
          },
          onError: (error) => this.emit('millError', error),
        },
      );
    }
    this.#millRun = undefined;
  }

  #schedule(): void {
    if (this.#state !== 'active') return;
    if (Number.isFinite(this.#ratePerSec)) this.#timeout = setTimeout(this.#tick, TICK_MS);
    else this.#immediate = setImmediate(this.#tick);
  }

  #clearTimer(): void {
    clearTimeout(this.#timeout);
    if (this.#immediate !== undefined) clearImmediate(this.#immediate);
    this.#timeout = undefined;
    this.#immediate = undefined;
  }

  // An arrow property so the timer callback needs no per-tick closure.
  readonly #tick = (): void => {
    this.#timeout = undefined;
    this.#immediate = undefined;
    if (this.#state !== 'active') return;
    let lines: number;
    if (Number.isFinite(this.#ratePerSec)) {
      const nowMs = performance.now();
      this.#tokens = Math.min(
        this.#burstLines,
        this.#tokens + ((nowMs - this.#lastTickMs) * this.#ratePerSec) / 1000,
      );
      this.#lastTickMs = nowMs;
      lines = Math.floor(this.#tokens);
      this.#tokens -= lines;
    } else {
      lines = this.#burstLines;
    }
    try {
      if (lines > 0) this.writeNow(lines);
    } catch (error) {
      this.#fail(error instanceof Error ? error : new Error(String(error)));
      return;
    }
    this.#schedule();
  };
}
