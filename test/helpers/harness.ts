// Filebeat-style file harness for source tests: real files in a temp dir, a writer that behaves
// like the API server (one write() per line on a held descriptor, lumberjack rename+create
// rotation, gzip then delete of backups), and bounded waits instead of sleeps.
import { createReadStream, createWriteStream } from 'node:fs';
import {
  mkdtemp,
  open,
  rename,
  rm,
  truncate,
  unlink,
  writeFile,
  appendFile,
  type FileHandle,
} from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, extname, basename, dirname } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import pino, { type Logger } from 'pino';
import {
  CheckpointStore,
  type CorruptCheckpointPolicy,
  type DataLossRecord,
} from '../../src/checkpoint/store.ts';
import { type LineSource, linesOf, type SourceItem } from '../../src/source/source.ts';
import {
  AuditLogTailer,
  type AuditLogTailerOptions,
  type RotationInfo,
  type SourceAnomaly,
} from '../../src/source/tailer.ts';

export interface WaitOptions {
  readonly timeoutMs?: number;
  readonly intervalMs?: number;
  readonly message?: string;
}

/** Polls `predicate` until it holds; fails after timeoutMs with the message. */
export async function waitFor(
  predicate: () => boolean | Promise<boolean>,
  { timeoutMs = 10_000, intervalMs = 10, message = 'condition' }: WaitOptions = {},
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await predicate()) return;
    if (Date.now() > deadline) throw new Error(`Timed out after ${timeoutMs} ms waiting for ${message}`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

export class Harness {
  readonly dir: string;

  private constructor(dir: string) {
    this.dir = dir;
  }

  static async create(prefix = 'kaf-source-'): Promise<Harness> {
    return new Harness(await mkdtemp(join(tmpdir(), prefix)));
  }

  path(name: string): string {
    return join(this.dir, name);
  }

  async write(name: string, content: string | Buffer): Promise<void> {
    await writeFile(this.path(name), content);
  }

  /** Appends each line with its own write(), as the API server does. */
  async append(name: string, lines: readonly string[]): Promise<void> {
    for (const line of lines) await appendFile(this.path(name), `${line}\n`);
  }

  async rename(from: string, to: string): Promise<void> {
    await rename(this.path(from), this.path(to));
  }

  async truncate(name: string, size = 0): Promise<void> {
    await truncate(this.path(name), size);
  }

  async remove(name: string): Promise<void> {
    await unlink(this.path(name));
  }

  /** Compresses like lumberjack's mill: write `<name>.gz`, then delete the plain file. */
  async gzip(name: string): Promise<string> {
    const target = `${name}.gz`;
    await pipeline(createReadStream(this.path(name)), createGzip(), createWriteStream(this.path(target)));
    await unlink(this.path(name));
    return target;
  }

  async openWriter(name: string): Promise<AuditWriter> {
    return AuditWriter.open(this.path(name));
  }

  async cleanup(): Promise<void> {
    await rm(this.dir, { recursive: true, force: true });
  }
}

/** lumberjack's backup name: <stem>-<2006-01-02T15-04-05.000><ext>, UTC. */
export function lumberjackBackupName(activePath: string, at: Date): string {
  const ext = extname(activePath);
  const stem = basename(activePath, ext);
  const stamp = at.toISOString().replace('Z', '').replaceAll(':', '-');
  return `${stem}-${stamp}${ext}`;
}

/** A writer on a held descriptor: one write per line; rotates like lumberjack (rename, then create). */
export class AuditWriter {
  readonly path: string;
  #handle: FileHandle;
  #lastBackupMs = 0;

  private constructor(path: string, handle: FileHandle) {
    this.path = path;
    this.#handle = handle;
  }

  static async open(path: string): Promise<AuditWriter> {
    return new AuditWriter(path, await open(path, 'a', 0o600));
  }

  async writeLine(line: string): Promise<void> {
    await this.#handle.write(`${line}\n`);
  }

  async writeRaw(data: string | Buffer): Promise<void> {
    await this.#handle.write(typeof data === 'string' ? Buffer.from(data) : data);
  }

  /** Closes, renames to a lumberjack backup name, creates a new file; returns the backup's name. */
  async rotate(): Promise<string> {
    await this.#handle.close();
    // Distinct, increasing timestamps even for rotations within one millisecond.
    const ms = Math.max(Date.now(), this.#lastBackupMs + 1);
    this.#lastBackupMs = ms;
    const backup = lumberjackBackupName(this.path, new Date(ms));
    await rename(this.path, join(dirname(this.path), backup));
    this.#handle = await open(this.path, 'a', 0o600);
    return backup;
  }

  async close(): Promise<void> {
    await this.#handle.close();
  }
}

/** auditLine(from) … auditLine(to - 1). */
export function auditLines(from: number, to: number): string[] {
  return Array.from({ length: to - from }, (_, i) => auditLine(from + i));
}

/** Unique, recognisable audit-like lines: line(7) = {"auditID":"00000007",...}. */
export function auditLine(n: number, padBytes = 100): string {
  return JSON.stringify({
    kind: 'Event',
    auditID: String(n).padStart(8, '0'),
    stage: 'ResponseComplete',
    pad: 'x'.repeat(padBytes),
  });
}

/** Reads a cursor like a lane that acknowledges every item at once; records what it got. */
export class Collector {
  readonly lines: string[] = [];
  readonly items: SourceItem[] = [];
  readonly #abort = new AbortController();
  readonly #done: Promise<void>;
  error: unknown;

  constructor(cursor: LineSource, ack: (item: SourceItem) => void) {
    this.#done = (async () => {
      try {
        for (;;) {
          const item = await cursor.next(this.#abort.signal);
          this.items.push(item.kind === 'lines' ? { ...item, data: Buffer.from(item.data) } : item);
          if (item.kind === 'lines') for (const line of linesOf(item)) this.lines.push(line.toString('utf8'));
          ack(item);
        }
      } catch (error) {
        if (!this.#abort.signal.aborted) this.error = error;
      }
    })();
  }

  async stop(): Promise<void> {
    this.#abort.abort();
    await this.#done;
  }
}

export function quietLogger(): Logger {
  return pino({ level: process.env.KAF_TEST_LOG ?? 'silent' });
}

/** A logger that also keeps every record, to assert on error lines. */
export function recordingLogger(): { log: Logger; records: Record<string, unknown>[] } {
  const records: Record<string, unknown>[] = [];
  const stream = {
    write(line: string): void {
      records.push(JSON.parse(line) as Record<string, unknown>);
    },
  };
  return { log: pino({ level: 'debug' }, stream), records };
}

export interface TailerRig {
  readonly tailer: AuditLogTailer;
  readonly store: CheckpointStore;
  readonly collectors: ReadonlyMap<string, Collector>;
  readonly losses: DataLossRecord[];
  readonly rotations: RotationInfo[];
  readonly anomalies: SourceAnomaly[];
  /** Lines every sink got (asserted equal across sinks by the caller when it wants). */
  lines(sink?: string): string[];
  /** Opens a cursor for `sink` and starts reading it with an acking Collector. */
  attach(sink: string): Collector;
  /** Stops reading, closes the tailer and saves the checkpoint (a clean shutdown). */
  stop(): Promise<void>;
}

export interface RigOptions extends Partial<AuditLogTailerOptions> {
  readonly stateDir?: string;
  readonly onCorrupt?: CorruptCheckpointPolicy;
  readonly log?: Logger;
  /** Open no cursors (only discovery and the checkpoint). */
  readonly noCursors?: boolean;
}

/** A tailer on `<dir>/audit.log` with one acking Collector per sink. */
export async function startTailer(h: Harness, options: RigOptions = {}): Promise<TailerRig> {
  const { stateDir = 'state', onCorrupt = 'fail', log = quietLogger(), noCursors = false, ...rest } = options;
  const opened = await CheckpointStore.open(h.path(stateDir), onCorrupt);
  const losses: DataLossRecord[] = [];
  const rotations: RotationInfo[] = [];
  const anomalies: SourceAnomaly[] = [];
  const sinks = rest.sinks ?? ['a', 'b'];
  const tailer = new AuditLogTailer(
    {
      path: h.path('audit.log'),
      startAt: 'beginning',
      maxLineBytes: 1024 * 1024,
      pollIntervalMs: 50,
      readChunkBytes: 256 * 1024,
      resetTo: opened.resetTo,
      ...rest,
      sinks,
    },
    {
      store: opened.store,
      log,
      observer: {
        onDataLoss: (record) => losses.push(record),
        onRotation: (info) => rotations.push(info),
        onAnomaly: (anomaly) => anomalies.push(anomaly),
      },
    },
  );
  await tailer.start();
  const collectors = new Map<string, Collector>();
  const attach = (sink: string): Collector => {
    const collector = new Collector(tailer.openCursor(sink), (item) => {
      tailer.acknowledge(sink, item.file.key, item.end);
    });
    collectors.set(sink, collector);
    return collector;
  };
  if (!noCursors) for (const sink of sinks) attach(sink);
  return {
    tailer,
    store: opened.store,
    collectors,
    losses,
    rotations,
    anomalies,
    lines: (sink = sinks[0] ?? 'a') => collectors.get(sink)?.lines ?? [],
    attach,
    stop: async () => {
      for (const collector of collectors.values()) await collector.stop();
      await tailer.close();
      await opened.store.save();
      for (const collector of collectors.values())
        if (collector.error !== undefined) throw collector.error as Error;
    },
  };
}
