// Shared machinery of the crash-torture and delivery tests: seeded trial plans, a pausable writer
// around the simulated API server, a model of what was written (files, offsets) to map checkpoint
// offsets back to events, readers of the file sink, the checkpoint and the fake's requests, a TCP
// proxy that takes a sink "down" on a fixed address, the real logrotate, and /proc memory figures.
import { execFile } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { mkdir, mkdtemp, open, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server, type Socket, connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { gunzipSync } from 'node:zlib';
import { SimulatedApiServer, type WrittenLine } from '../../src/simulator/apiserver.ts';
import { Prng } from '../../src/simulator/prng.ts';
import { sha256Hex } from '../../src/source/identity.ts';
import type { RecordedRequest, StoredDocument } from '../fakes/es-bulk-server.ts';

const run = promisify(execFile);

export const LOGROTATE = '/usr/sbin/logrotate';

// ---------------------------------------------------------------------------------------------------------------
// Seeds and scheduling

/**
 * The seeds of this run's trials: KAF_TORTURE_SEED=N runs only trial N; otherwise KAF_TORTURE_TRIALS
 * (default `defaultTrials`) consecutive seeds from a random base, so every CI run explores new ones.
 */
export function trialSeeds(defaultTrials: number): number[] {
  const pinned = process.env.KAF_TORTURE_SEED;
  if (pinned !== undefined && pinned !== '') {
    const seed = Number(pinned);
    if (!Number.isSafeInteger(seed) || seed < 0) throw new Error(`KAF_TORTURE_SEED must be an integer >= 0`);
    return [seed];
  }
  const trials = Number(process.env.KAF_TORTURE_TRIALS ?? defaultTrials);
  if (!Number.isSafeInteger(trials) || trials < 1)
    throw new Error('KAF_TORTURE_TRIALS must be an integer >= 1');
  const base = randomInt(1, 2 ** 31 - trials);
  return Array.from({ length: trials }, (_, index) => base + index);
}

/**
 * Resolves after `ms`. Only for *scheduling* an action at a chosen moment (a kill, a rotation, the
 * length of an outage): waiting for a condition goes through waitFor.
 */
export function delayFor(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

// ---------------------------------------------------------------------------------------------------------------
// The writer

/**
 * Drives a SimulatedApiServer at `ratePerSec` through writeNow(), so that writing can be paused (around
 * a logrotate run: the copytruncate window is logrotate's own loss, not the forwarder's).
 */
export class RateWriter {
  readonly sim: SimulatedApiServer;
  readonly #ratePerSec: number;
  #timer: NodeJS.Timeout | undefined;
  #paused = false;
  #lastMs = 0;
  #tokens = 0;
  #error: unknown;

  constructor(sim: SimulatedApiServer, ratePerSec: number) {
    this.sim = sim;
    this.#ratePerSec = ratePerSec;
  }

  start(): void {
    this.#lastMs = performance.now();
    this.#timer = setInterval(() => {
      this.#tick();
    }, 10);
  }

  /** No write happens after this returns, until resume(). */
  pause(): void {
    this.#paused = true;
  }

  resume(): void {
    this.#paused = false;
    this.#lastMs = performance.now();
    this.#tokens = 0;
  }

  get linesWritten(): number {
    return this.sim.stats().linesWritten;
  }

  /** Stops writing, closes the file and waits for the simulator's pending compression. */
  async stop(): Promise<void> {
    clearInterval(this.#timer);
    this.#timer = undefined;
    await this.sim.stop();
    if (this.#error !== undefined) throw this.#error as Error;
  }

  #tick(): void {
    const now = performance.now();
    if (this.#paused) {
      this.#lastMs = now;
      return;
    }
    // Bounded catch-up: a long synchronous stretch in the test process must not turn into one huge burst.
    this.#tokens = Math.min(
      this.#tokens + ((now - this.#lastMs) * this.#ratePerSec) / 1000,
      this.#ratePerSec / 5,
    );
    this.#lastMs = now;
    const lines = Math.floor(this.#tokens);
    this.#tokens -= lines;
    if (lines === 0) return;
    try {
      this.sim.writeNow(lines);
    } catch (error) {
      this.#error ??= error;
      clearInterval(this.#timer);
    }
  }
}

// ---------------------------------------------------------------------------------------------------------------
// A torture trial: parameters from a seed, and the writer side (simulator, rotation) of one trial

/** rename: lumberjack rotation; gzip: the same plus compression of backups; copytruncate: the real logrotate. */
export type RotationVariant = 'rename' | 'gzip' | 'copytruncate';
export const VARIANTS: readonly RotationVariant[] = ['rename', 'gzip', 'copytruncate'];

export interface TortureParams {
  readonly seed: number;
  readonly variant: RotationVariant;
  readonly ratePerSec: number;
  readonly maxSizeBytes: number;
  readonly millDelayMs: number;
  /** Writing before the first daemon starts. */
  readonly preWriteMs: number;
  /** For each run that is killed: how long after "Forwarder started." the SIGKILL comes. */
  readonly killAfterMs: readonly number[];
  /** For each kill: how long the forwarder stays down (the writer goes on). */
  readonly downMs: readonly number[];
  readonly checkpointIntervalMs: number;
  readonly pollIntervalMs: number;
  readonly batchMaxEvents: number;
  readonly batchMaxWaitMs: number;
  readonly maxInFlightBatches: number;
  /** copytruncate: gap between two logrotate runs, and its compression directives. */
  readonly logrotateEveryMs: readonly [number, number];
  readonly logrotateDirectives: readonly string[];
}

/** Every random choice of a trial, from its seed; the variant cycles with the seed. */
export function tortureParams(
  seed: number,
  limits: {
    readonly kills?: readonly [number, number];
    readonly ratePerSec?: readonly [number, number];
  } = {},
): TortureParams {
  const rng = new Prng(seed);
  const variant = VARIANTS[seed % VARIANTS.length] ?? 'rename';
  const [minKills, maxKills] = limits.kills ?? [2, 4];
  const [minRate, maxRate] = limits.ratePerSec ?? [2000, 5000];
  const kills = rng.between(minKills, maxKills);
  return {
    seed,
    variant,
    ratePerSec: rng.between(minRate, maxRate),
    // copytruncate: the simulator must not rotate by itself.
    maxSizeBytes: variant === 'copytruncate' ? Number.MAX_SAFE_INTEGER : rng.between(200, 500) * 1024,
    millDelayMs: variant === 'gzip' ? rng.pick([0, 0, 50, 300]) : 0,
    preWriteMs: rng.between(0, 400),
    // One kill in five lands during start-up (checkpoint open, discovery, sink check).
    killAfterMs: Array.from({ length: kills }, () =>
      rng.chance(0.2) ? rng.between(0, 150) : rng.between(150, 1500),
    ),
    downMs: Array.from({ length: kills }, () => rng.between(0, 500)),
    checkpointIntervalMs: rng.between(100, 300),
    pollIntervalMs: rng.pick([50, 100, 250]),
    batchMaxEvents: rng.pick([50, 200, 1000]),
    batchMaxWaitMs: rng.pick([20, 100, 250]),
    maxInFlightBatches: rng.between(1, 3),
    logrotateEveryMs: [250, rng.between(400, 900)],
    logrotateDirectives: rng.pick([['nocompress'], ['compress'], ['compress', 'delaycompress']]),
  };
}

export function describeParams(params: TortureParams): string {
  const { seed, variant, logrotateEveryMs, logrotateDirectives, millDelayMs, ...rest } = params;
  const extra =
    variant === 'copytruncate'
      ? { logrotateEveryMs, logrotateDirectives }
      : variant === 'gzip'
        ? { millDelayMs }
        : {};
  return `seed=${seed} variant=${variant} ${JSON.stringify({ ...extra, ...rest })}`;
}

/** The writer side of a trial: a simulated API server writing and rotating in a temp directory. */
export class TortureRig {
  readonly params: TortureParams;
  readonly dir: string;
  readonly auditDir: string;
  readonly auditPath: string;
  readonly stateDir: string;
  readonly writer: RateWriter;
  /** copytruncate: global line indexes at which logrotate truncated audit.log. */
  readonly truncatedAt: number[] = [];
  #rotating = false;
  #rotator: Promise<void> | undefined;
  #rotateError: unknown;

  private constructor(params: TortureParams, dir: string) {
    this.params = params;
    this.dir = dir;
    this.auditDir = join(dir, 'audit');
    this.auditPath = join(this.auditDir, 'audit.log');
    this.stateDir = join(dir, 'state');
    const sim = new SimulatedApiServer({
      path: this.auditPath,
      maxSizeBytes: params.maxSizeBytes,
      compress: params.variant === 'gzip',
      millDelayMs: params.millDelayMs,
      seed: params.seed,
      record: true,
    });
    this.writer = new RateWriter(sim, params.ratePerSec);
  }

  static async create(params: TortureParams, prefix = 'kaf-torture-'): Promise<TortureRig> {
    const dir = await mkdtemp(join(tmpdir(), prefix));
    await mkdir(join(dir, 'audit'));
    return new TortureRig(params, dir);
  }

  /** The config keys every torture daemon shares; `sinks` is the test's. */
  config(sinks: readonly Record<string, unknown>[]): Record<string, unknown> {
    const p = this.params;
    return {
      cluster: 'torture',
      node: 'cp-1',
      logLevel: 'info',
      source: {
        path: this.auditPath,
        pollIntervalMs: p.pollIntervalMs,
        ...(p.variant === 'copytruncate' && { backupGlob: 'audit.log.*' }),
      },
      state: { dir: this.stateDir },
      checkpoint: { intervalMs: p.checkpointIntervalMs },
      batch: { maxEvents: p.batchMaxEvents, maxWaitMs: p.batchMaxWaitMs },
      delivery: { maxInFlightBatches: p.maxInFlightBatches },
      sinks,
    };
  }

  /** Starts writing (and, for copytruncate, running logrotate now and then). */
  startWriting(): void {
    this.writer.start();
    if (this.params.variant !== 'copytruncate') return;
    this.#rotating = true;
    const rng = new Prng(this.params.seed ^ 0x5eed);
    const [min, max] = this.params.logrotateEveryMs;
    this.#rotator = (async () => {
      while (this.#isRotating()) {
        await delayFor(rng.between(min, max));
        const before = this.writer.linesWritten;
        if (!this.#isRotating() || before === (this.truncatedAt.at(-1) ?? 0)) continue;
        this.writer.pause();
        try {
          await logrotateCopytruncate(this.dir, this.auditPath, this.params.logrotateDirectives);
          this.truncatedAt.push(before);
        } finally {
          this.writer.resume();
        }
      }
    })().catch((error: unknown) => {
      this.#rotateError = error;
    });
  }

  /** A method, so that the compiler does not narrow the flag across awaits. */
  #isRotating(): boolean {
    return this.#rotating;
  }

  /** Stops rotating and writing; resolves once every file is complete on disk. */
  async stopWriting(): Promise<void> {
    this.#rotating = false;
    await this.#rotator;
    await this.writer.stop();
    if (this.#rotateError !== undefined) throw this.#rotateError as Error;
  }

  /** What was written, as files and offsets (call after stopWriting). */
  model(): WrittenModel {
    return new WrittenModel(this.writer.sim.written(), this.truncatedAt);
  }

  async cleanup(): Promise<void> {
    await rm(this.dir, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------------------------------------------
// What was written

export function eventKey(auditID: unknown, stage: unknown): string {
  return `${String(auditID)}/${String(stage)}`;
}

/** A file as it held content: a simulator file (rename rotation) or a copytruncate generation of audit.log. */
export interface LogicalFile {
  readonly id: number;
  /** Global indexes of its lines, in order. */
  readonly indexes: readonly number[];
  /** Offset of the end of each line within this file (start of the next). */
  readonly ends: readonly number[];
  readonly bytes: number;
}

/**
 * Every written line in write order, each with its file and offsets. `truncatedAt` lists the global
 * line indexes at which a copytruncate happened (the file restarted at 0 there).
 */
export class WrittenModel {
  readonly lines: readonly WrittenLine[];
  readonly keys: readonly string[];
  readonly indexOf: ReadonlyMap<string, number>;
  readonly files: readonly LogicalFile[];
  /** Logical file id and offset of each line. */
  readonly fileOf: Int32Array;
  readonly startOf: Float64Array;

  constructor(lines: readonly WrittenLine[], truncatedAt: readonly number[] = []) {
    this.lines = lines;
    this.keys = lines.map((line) => eventKey(line.auditID, line.stage));
    const indexOf = new Map<string, number>();
    this.keys.forEach((key, index) => {
      if (indexOf.has(key))
        throw new Error(`the simulator wrote ${key} twice; the model needs unique events`);
      indexOf.set(key, index);
    });
    this.indexOf = indexOf;
    this.fileOf = new Int32Array(lines.length);
    this.startOf = new Float64Array(lines.length);
    const cuts = new Set(truncatedAt);
    const files: { id: number; indexes: number[]; ends: number[]; bytes: number }[] = [];
    let current: { id: number; indexes: number[]; ends: number[]; bytes: number } | undefined;
    let simFile = -1;
    let base = 0;
    lines.forEach((line, index) => {
      if (current === undefined || line.file !== simFile || cuts.has(index)) {
        current = { id: files.length, indexes: [], ends: [], bytes: 0 };
        files.push(current);
        simFile = line.file;
        base = line.offset;
      }
      const start = line.offset - base;
      if (start !== current.bytes) {
        throw new Error(`line ${index} starts at ${start} in file ${current.id}, expected ${current.bytes}`);
      }
      current.indexes.push(index);
      current.bytes = start + line.bytes;
      current.ends.push(current.bytes);
      this.fileOf[index] = current.id;
      this.startOf[index] = start;
    });
    this.files = files;
  }
}

/** The uncompressed content of every file in `dir` (gzip recognised by its magic bytes). */
export async function readDirContents(dir: string): Promise<{ name: string; data: Buffer }[]> {
  const out: { name: string; data: Buffer }[] = [];
  for (const name of (await readdir(dir)).sort()) {
    const raw = await readFile(join(dir, name));
    const data = raw.length >= 2 && raw[0] === 0x1f && raw[1] === 0x8b ? gunzipSync(raw) : raw;
    out.push({ name, data });
  }
  return out;
}

/**
 * The first KiB of each logical file, found on disk by its first line, after checking that each file
 * on disk holds exactly one logical file's bytes (nothing lost or added by the writer and rotation).
 */
export function headsOnDisk(
  model: WrittenModel,
  contents: readonly { name: string; data: Buffer }[],
): Map<number, Buffer> {
  const heads = new Map<number, Buffer>();
  for (const { name, data } of contents) {
    if (data.length === 0) continue;
    const newline = data.indexOf(0x0a);
    const first = JSON.parse(data.subarray(0, newline).toString('utf8')) as {
      auditID?: string;
      stage?: string;
    };
    const index = model.indexOf.get(eventKey(first.auditID, first.stage));
    if (index === undefined) throw new Error(`${name} starts with an event that was never written`);
    const file = model.files[model.fileOf[index] ?? -1];
    if (file === undefined || file.indexes[0] !== index)
      throw new Error(`${name} does not start a written file`);
    if (data.length !== file.bytes) {
      throw new Error(`${name} holds ${data.length} bytes, the writer wrote ${file.bytes} to that file`);
    }
    heads.set(file.id, data.subarray(0, 1024));
  }
  return heads;
}

// ---------------------------------------------------------------------------------------------------------------
// The checkpoint

export interface CheckpointFileEntry {
  readonly key: string;
  readonly path: string;
  readonly dev: number;
  readonly ino: number;
  readonly fingerprint: string;
  readonly fingerprintBytes: number;
  readonly size: number;
  readonly state: string;
  readonly offsets: Readonly<Record<string, number>>;
}

export interface CheckpointDoc {
  readonly version: number;
  readonly writtenAt: string;
  readonly files: readonly CheckpointFileEntry[];
  readonly dataLoss: readonly Record<string, unknown>[];
}

/** state.dir/checkpoint.json, or undefined before the first save. */
export async function readCheckpoint(stateDir: string): Promise<CheckpointDoc | undefined> {
  try {
    return JSON.parse(await readFile(join(stateDir, 'checkpoint.json'), 'utf8')) as CheckpointDoc;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

/**
 * The global indexes `sink` has acknowledged according to `checkpoint`: for each entry, the lines of
 * the logical file it fingerprints that end at or before its offset. Throws when an entry cannot be
 * mapped or its offset is not a line boundary (both would be product bugs).
 */
export function acknowledgedIndexes(
  checkpoint: CheckpointDoc | undefined,
  sink: string,
  model: WrittenModel,
  heads: ReadonlyMap<number, Buffer>,
): Set<number> {
  const acked = new Set<number>();
  for (const entry of checkpoint?.files ?? []) {
    const offset = entry.offsets[sink] ?? 0;
    if (offset === 0) continue;
    const matches = [...heads].filter(
      ([, head]) =>
        head.length >= entry.fingerprintBytes &&
        sha256Hex(head.subarray(0, entry.fingerprintBytes)) === entry.fingerprint,
    );
    if (matches.length !== 1) {
      throw new Error(
        `checkpoint entry ${entry.key} (${entry.path}, ${entry.fingerprintBytes} fingerprint bytes, ${sink} offset ${offset}) matches ${matches.length} written files`,
      );
    }
    const file = model.files[matches[0]?.[0] ?? -1];
    if (file === undefined) throw new Error('unreachable: unknown logical file');
    if (offset > file.bytes) {
      throw new Error(
        `checkpoint entry ${entry.key}: ${sink} offset ${offset} beyond the ${file.bytes} bytes written`,
      );
    }
    let count = 0;
    while (count < file.ends.length && (file.ends[count] ?? Infinity) <= offset) count++;
    if (offset !== (count === 0 ? 0 : file.ends[count - 1])) {
      throw new Error(`checkpoint entry ${entry.key}: ${sink} offset ${offset} is not a line boundary`);
    }
    for (let i = 0; i < count; i++) acked.add(file.indexes[i] ?? -1);
  }
  return acked;
}

// ---------------------------------------------------------------------------------------------------------------
// Sink output

/**
 * Follows the file sink's JSON-lines output: consumes only complete lines, so a torn last line left by
 * a SIGKILL (which the next run cuts off) is never taken for an event.
 */
export class OutputFollower {
  readonly path: string;
  /** Keys of the events delivered, in file order. */
  readonly keys: string[] = [];
  #position = 0;

  constructor(path: string) {
    this.path = path;
  }

  /** Byte length of the complete lines consumed. */
  get position(): number {
    return this.#position;
  }

  async poll(): Promise<number> {
    let handle;
    try {
      handle = await open(this.path, 'r');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return this.keys.length;
      throw error;
    }
    try {
      const { size } = await handle.stat();
      if (size <= this.#position) return this.keys.length;
      const buffer = Buffer.allocUnsafe(size - this.#position);
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, this.#position);
      const end = buffer.subarray(0, bytesRead).lastIndexOf(0x0a);
      if (end === -1) return this.keys.length;
      let start = 0;
      while (start <= end) {
        const newline = buffer.indexOf(0x0a, start);
        const event = JSON.parse(buffer.subarray(start, newline).toString('utf8')) as Record<string, unknown>;
        this.keys.push(eventKey(event.auditID, event.stage));
        start = newline + 1;
      }
      this.#position += end + 1;
      return this.keys.length;
    } finally {
      await handle.close();
    }
  }
}

/** Keys of the documents a fake Elasticsearch stored, with how many documents each has. */
export function storedKeyCounts(documents: readonly StoredDocument[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const document of documents) {
    const audit = (document.source.kubernetes as { audit?: { auditID?: string; stage?: string } } | undefined)
      ?.audit;
    const key = eventKey(audit?.auditID, audit?.stage);
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return counts;
}

/** Keys of every document sent in these bulk requests (create actions), in request order, repeats kept. */
export function bulkSentKeys(requests: readonly RecordedRequest[]): string[] {
  const keys: string[] = [];
  for (const request of requests) {
    if (!/(^|\/)_bulk$/.test(request.path) || request.body === '') continue;
    const lines = request.body.split('\n');
    for (let i = 1; i < lines.length; i += 2) {
      const line = lines[i];
      if (line === undefined || line === '') continue;
      const document = JSON.parse(line) as { kubernetes?: { audit?: { auditID?: string; stage?: string } } };
      keys.push(eventKey(document.kubernetes?.audit?.auditID, document.kubernetes?.audit?.stage));
    }
  }
  return keys;
}

/** The first position where `actual` is not `expected`'s start; undefined when it is a prefix. */
export function firstPrefixMismatch(
  actual: readonly number[],
  expected: readonly number[],
): number | undefined {
  for (let i = 0; i < actual.length; i++) if (actual[i] !== expected[i]) return i;
  return undefined;
}

// ---------------------------------------------------------------------------------------------------------------
// logrotate

/** Runs the real logrotate once, forced, with copytruncate and the given extra directives. */
export async function logrotateCopytruncate(
  workDir: string,
  activePath: string,
  directives: readonly string[],
): Promise<void> {
  const conf = join(workDir, 'logrotate.conf');
  const body = ['copytruncate', 'rotate 10000', 'missingok', ...directives]
    .map((line) => `  ${line}\n`)
    .join('');
  await writeFile(conf, `${activePath} {\n${body}}\n`);
  await run(LOGROTATE, ['-f', '-s', join(workDir, 'logrotate.state'), conf]);
}

// ---------------------------------------------------------------------------------------------------------------
// A sink outage on a fixed address

/**
 * A TCP proxy in front of a fake sink. down() closes the listener and every connection (clients then
 * get ECONNREFUSED, in-flight requests ECONNRESET); up() listens again on the same port. The fake
 * behind it keeps its state, so "no duplicate" is checked across the whole outage.
 */
export class TcpProxy {
  readonly #targetPort: number;
  readonly #sockets = new Set<Socket>();
  #server: Server | undefined;
  #port = 0;

  private constructor(targetPort: number) {
    this.#targetPort = targetPort;
  }

  static async start(targetPort: number): Promise<TcpProxy> {
    const proxy = new TcpProxy(targetPort);
    await proxy.up();
    return proxy;
  }

  get url(): string {
    return `http://127.0.0.1:${this.#port}`;
  }

  get isUp(): boolean {
    return this.#server !== undefined;
  }

  async up(): Promise<void> {
    if (this.#server) return;
    const server = createServer((client) => {
      const upstream = connect(this.#targetPort, '127.0.0.1');
      this.#track(client);
      this.#track(upstream);
      client.pipe(upstream).pipe(client);
      const drop = (): void => {
        client.destroy();
        upstream.destroy();
      };
      client.on('error', drop);
      upstream.on('error', drop);
      client.on('close', drop);
      upstream.on('close', drop);
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.#port, '127.0.0.1', () => {
        resolve();
      });
    });
    const address = server.address();
    if (address === null || typeof address === 'string') throw new Error('proxy has no TCP address');
    this.#port = address.port;
    this.#server = server;
  }

  async down(): Promise<void> {
    const server = this.#server;
    if (!server) return;
    this.#server = undefined;
    const closed = new Promise<void>((resolve) =>
      server.close(() => {
        resolve();
      }),
    );
    for (const socket of this.#sockets) socket.resetAndDestroy();
    this.#sockets.clear();
    await closed;
  }

  #track(socket: Socket): void {
    this.#sockets.add(socket);
    socket.on('close', () => this.#sockets.delete(socket));
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Memory of a process

export interface ProcMemory {
  /** Resident set size now, bytes. */
  readonly rssBytes: number;
  /** Peak resident set size since start or the last resetPeakRss(), bytes. */
  readonly hwmBytes: number;
}

export async function procMemory(pid: number): Promise<ProcMemory> {
  const text = await readFile(`/proc/${pid}/status`, 'utf8');
  const field = (name: string): number => {
    const match = new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(text);
    if (!match) throw new Error(`no ${name} in /proc/${pid}/status`);
    return Number(match[1]) * 1024;
  };
  return { rssBytes: field('VmRSS'), hwmBytes: field('VmHWM') };
}

/** Resets VmHWM to the current RSS (Linux >= 4.0: "5" to clear_refs), to measure one phase's peak. */
export async function resetPeakRss(pid: number): Promise<void> {
  await writeFile(`/proc/${pid}/clear_refs`, '5');
}

export function mb(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

/** Samples a process's VmRSS on an interval; `peakBytes` is the largest sample since the last reset(). */
export class RssSampler {
  readonly #pid: number;
  readonly #timer: NodeJS.Timeout;
  #peakBytes = 0;
  #samples = 0;

  constructor(pid: number, intervalMs = 250) {
    this.#pid = pid;
    this.#timer = setInterval(() => {
      procMemory(this.#pid).then(
        ({ rssBytes }) => {
          this.#peakBytes = Math.max(this.#peakBytes, rssBytes);
          this.#samples++;
        },
        () => undefined,
      );
    }, intervalMs);
  }

  get peakBytes(): number {
    return this.#peakBytes;
  }

  get samples(): number {
    return this.#samples;
  }

  reset(): void {
    this.#peakBytes = 0;
    this.#samples = 0;
  }

  stop(): void {
    clearInterval(this.#timer);
  }
}
