// The simulator's record of what it wrote, as JSON lines, so tests can compare what a forwarder
// delivered with what was written even after backups were compressed or deleted. Records are
// buffered and written at batch ends, rotations and stop: exact after stop(), and behind by at most
// one batch if the simulator itself is SIGKILLed.
import { closeSync, openSync, writeSync } from 'node:fs';
import { readFile } from 'node:fs/promises';

/** One record of the manifest. `file` numbers the active files of a run: 0, 1, 2... */
export type ManifestRecord =
  | {
      readonly type: 'line';
      readonly file: number;
      /** Byte offset of the line in that file. */
      readonly offset: number;
      /** Bytes written, including the '\n'. */
      readonly bytes: number;
      readonly auditID: string;
      readonly stage: string;
    }
  | { readonly type: 'rotate'; readonly file: number; readonly backup: string }
  | { readonly type: 'drop'; readonly auditID: string; readonly stage: string; readonly bytes: number }
  | { readonly type: 'compress'; readonly from: string; readonly to: string }
  | { readonly type: 'remove'; readonly path: string };

/** A line record. */
export type ManifestLine = Extract<ManifestRecord, { type: 'line' }>;

/** Appends records to a manifest file (truncated on open: one manifest per run). */
export class ManifestWriter {
  readonly #fd: number;
  #pending: string[] = [];
  #closed = false;

  constructor(path: string) {
    this.#fd = openSync(path, 'w', 0o600);
  }

  /** Queues a line record; the hot path, so formatted by hand (auditID and stage need no escaping). */
  addLine(file: number, offset: number, bytes: number, auditID: string, stage: string): void {
    this.#pending.push(
      `{"type":"line","file":${file},"offset":${offset},"bytes":${bytes},"auditID":${JSON.stringify(auditID)},"stage":${JSON.stringify(stage)}}\n`,
    );
  }

  /** Queues any record. */
  add(record: ManifestRecord): void {
    this.#pending.push(`${JSON.stringify(record)}\n`);
  }

  /** Writes what is queued. */
  flush(): void {
    if (this.#pending.length === 0 || this.#closed) return;
    const text = this.#pending.join('');
    this.#pending = [];
    const buffer = Buffer.from(text);
    let written = 0;
    while (written < buffer.length) written += writeSync(this.#fd, buffer, written);
  }

  /** Flushes and closes; idempotent. */
  close(): void {
    if (this.#closed) return;
    this.flush();
    this.#closed = true;
    closeSync(this.#fd);
  }
}

/** A manifest, read back. */
export interface Manifest {
  /** Every line written, in write order. */
  readonly lines: readonly ManifestLine[];
  /** File number → the backup path it was renamed to (before any compression). */
  readonly backups: ReadonlyMap<number, string>;
  /** Backup paths that were compressed to `<path>.gz`. */
  readonly compressed: ReadonlySet<string>;
  /** Paths the mill deleted (maxBackups). */
  readonly removed: ReadonlySet<string>;
  /** Events not written because a single line exceeded the maximum file size. */
  readonly dropped: readonly Extract<ManifestRecord, { type: 'drop' }>[];
}

/** Parses a manifest file. */
export async function readManifest(path: string): Promise<Manifest> {
  const text = await readFile(path, 'utf8');
  const lines: ManifestLine[] = [];
  const backups = new Map<number, string>();
  const compressed = new Set<string>();
  const removed = new Set<string>();
  const dropped: Extract<ManifestRecord, { type: 'drop' }>[] = [];
  for (const row of text.split('\n')) {
    if (row === '') continue;
    const record = JSON.parse(row) as ManifestRecord;
    switch (record.type) {
      case 'line':
        lines.push(record);
        break;
      case 'rotate':
        backups.set(record.file, record.backup);
        break;
      case 'compress':
        compressed.add(record.from);
        break;
      case 'remove':
        removed.add(record.path);
        break;
      case 'drop':
        dropped.push(record);
        break;
    }
  }
  return { lines, backups, compressed, removed, dropped };
}
