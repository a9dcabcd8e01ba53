// The durable checkpoint: per file identity, the offset each sink has acknowledged.
// Written atomically (tmp file, fsync, rename, fsync of the directory), so a crash at any moment
// leaves either the previous or the new checkpoint, never a torn one.
import { randomBytes } from 'node:crypto';
import { mkdir, open, readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { CheckpointError, ForwarderError } from '../errors.ts';

export const CHECKPOINT_FILE = 'checkpoint.json';
const CHECKPOINT_VERSION = 1;

const offsetSchema = z.number().int().nonnegative();

const fileCheckpointSchema = z
  .object({
    key: z.string().min(1),
    path: z.string(),
    dev: z.number().int().nonnegative(),
    ino: z.number().int().nonnegative(),
    /** SHA-256 (hex) of the file's first fingerprintBytes bytes. */
    fingerprint: z.string(),
    fingerprintBytes: offsetSchema,
    /** Last size seen. */
    size: offsetSchema,
    state: z.enum(['active', 'rotated', 'finished']),
    /** Acknowledged offset per sink name: everything before it was delivered or dead-lettered. */
    offsets: z.record(z.string(), offsetSchema),
  })
  .strict();

const dataLossSchema = z
  .object({
    path: z.string(),
    key: z.string(),
    dev: z.number().int().nonnegative().optional(),
    ino: z.number().int().nonnegative().optional(),
    /** The most any sink missed: max over unreadBytesBySink. */
    unreadBytes: offsetSchema,
    /** Bytes each sink had not read when the file disappeared. */
    unreadBytesBySink: z.record(z.string(), offsetSchema).optional(),
    /** True when the file may have grown after its size was last recorded (the loss is at least this). */
    unreadBytesIsLowerBound: z.boolean().optional(),
    detectedAt: z.string(),
    reason: z.string(),
  })
  .strict();

const checkpointSchema = z
  .object({
    version: z.literal(CHECKPOINT_VERSION),
    writtenAt: z.string(),
    files: z.array(fileCheckpointSchema),
    dataLoss: z.array(dataLossSchema),
  })
  .strict();

export type FileCheckpoint = z.infer<typeof fileCheckpointSchema>;
export type DataLossRecord = z.infer<typeof dataLossSchema>;
type CheckpointDocument = z.infer<typeof checkpointSchema>;

/** What to do with a checkpoint that cannot be read: the configured checkpoint.onCorrupt. */
export type CorruptCheckpointPolicy = 'fail' | 'beginning' | 'end';

export interface OpenedCheckpoint {
  readonly store: CheckpointStore;
  /** Set when a corrupt checkpoint was set aside per policy: where every known file must restart. */
  readonly resetTo?: 'beginning' | 'end';
  /** Where the unreadable checkpoint was moved to, for the error log. */
  readonly corruptCopy?: string;
}

/** Most data-loss records kept in the checkpoint; older ones remain in the logs and metrics. */
const MAX_DATA_LOSS_RECORDS = 100;

export class CheckpointStore {
  readonly path: string;
  readonly #dir: string;
  readonly #files = new Map<string, FileCheckpoint>();
  #dataLoss: DataLossRecord[] = [];
  #dirty = false;
  #saving: Promise<void> | undefined;
  #lastSavedAt: Date | undefined;
  /**
   * The checkpoint's bytes, reused from save to save (one write at a time). A new Buffer per save was a new
   * ArrayBuffer each second (~30 KB with a hundred backups behind during an outage), memory outside the heap
   * that V8 frees only at a full collection, which a quiet main thread may not run for many minutes.
   */
  readonly #encoder = new ReusableText();

  private constructor(dir: string, document: CheckpointDocument | undefined) {
    this.#dir = dir;
    this.path = join(dir, CHECKPOINT_FILE);
    for (const file of document?.files ?? []) this.#files.set(file.key, file);
    this.#dataLoss = [...(document?.dataLoss ?? [])];
    if (document) this.#lastSavedAt = new Date(document.writtenAt);
  }

  /**
   * Opens (or creates) the checkpoint in `dir`. Checks that the directory is writable, so that a
   * misconfigured volume is reported at start rather than at the first save.
   */
  static async open(dir: string, onCorrupt: CorruptCheckpointPolicy): Promise<OpenedCheckpoint> {
    await ensureWritableDir(dir);
    const path = join(dir, CHECKPOINT_FILE);
    let text: string | undefined;
    try {
      text = await readFile(path, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') {
        throw new CheckpointError('KAF_CHECKPOINT_CORRUPT', path, 'Cannot read the checkpoint', error);
      }
    }
    if (text === undefined) return { store: new CheckpointStore(dir, undefined) };
    const parsed = parseCheckpoint(text);
    if (parsed.ok) return { store: new CheckpointStore(dir, parsed.document) };
    if (onCorrupt === 'fail') {
      throw new CheckpointError(
        'KAF_CHECKPOINT_CORRUPT',
        path,
        `The checkpoint is corrupt (${parsed.reason}); fix or reset it (k8s-audit-forwarder checkpoint reset), or set checkpoint.onCorrupt to "beginning" or "end"`,
      );
    }
    const corruptCopy = `${path}.corrupt-${new Date().toISOString().replaceAll(':', '-')}`;
    await rename(path, corruptCopy);
    const store = new CheckpointStore(dir, undefined);
    store.#dirty = true;
    return { store, resetTo: onCorrupt, corruptCopy };
  }

  get files(): readonly FileCheckpoint[] {
    return [...this.#files.values()];
  }

  get dataLoss(): readonly DataLossRecord[] {
    return this.#dataLoss;
  }

  get lastSavedAt(): Date | undefined {
    return this.#lastSavedAt;
  }

  get isDirty(): boolean {
    return this.#dirty;
  }

  /** A write is in flight: what it carries is not durable yet. */
  get isSaving(): boolean {
    return this.#saving !== undefined;
  }

  getFile(key: string): FileCheckpoint | undefined {
    return this.#files.get(key);
  }

  /** Creates or updates a file's identity and state; keeps the offsets already recorded. */
  putFile(file: Omit<FileCheckpoint, 'offsets'> & { offsets?: Readonly<Record<string, number>> }): void {
    const previous = this.#files.get(file.key);
    const offsets = { ...previous?.offsets, ...file.offsets };
    this.#files.set(file.key, { ...file, offsets });
    this.#dirty = true;
  }

  /** Records that `sink` has acknowledged everything before `offset` in file `key`. */
  setOffset(key: string, sink: string, offset: number): void {
    const file = this.#files.get(key);
    if (!file) return;
    if (file.offsets[sink] === offset) return;
    file.offsets[sink] = offset;
    this.#dirty = true;
  }

  removeFile(key: string): void {
    if (this.#files.delete(key)) this.#dirty = true;
  }

  addDataLoss(record: DataLossRecord): void {
    this.#dataLoss.push(record);
    if (this.#dataLoss.length > MAX_DATA_LOSS_RECORDS)
      this.#dataLoss = this.#dataLoss.slice(-MAX_DATA_LOSS_RECORDS);
    this.#dirty = true;
  }

  /** Writes the checkpoint if anything changed; concurrent calls share one write. */
  async save(): Promise<void> {
    while (this.#saving) await this.#saving;
    if (!this.#dirty) return;
    this.#saving = this.#write().finally(() => {
      this.#saving = undefined;
    });
    await this.#saving;
  }

  async #write(): Promise<void> {
    const writtenAt = new Date();
    const document: CheckpointDocument = {
      version: CHECKPOINT_VERSION,
      writtenAt: writtenAt.toISOString(),
      files: [...this.#files.values()],
      dataLoss: this.#dataLoss,
    };
    // Cleared before the write: changes made while it runs mark the store dirty again.
    this.#dirty = false;
    try {
      await writeFileAtomically(this.path, this.#encoder.encode(`${JSON.stringify(document)}\n`));
      this.#lastSavedAt = writtenAt;
    } catch (error) {
      this.#dirty = true;
      throw new CheckpointError('KAF_CHECKPOINT_WRITE', this.path, 'Cannot write the checkpoint', error);
    }
  }

  /** Directory holding the checkpoint (and the dead-letter file). */
  get dir(): string {
    return this.#dir;
  }
}

type ParseResult = { ok: true; document: CheckpointDocument } | { ok: false; reason: string };

export function parseCheckpoint(text: string): ParseResult {
  if (text.trim() === '') return { ok: false, reason: 'the file is empty' };
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    return { ok: false, reason: `not valid JSON: ${(error as Error).message}` };
  }
  const result = checkpointSchema.safeParse(json);
  if (!result.success) {
    const issue = result.error.issues[0];
    return {
      ok: false,
      reason: `unexpected content at ${issue?.path.join('.') ?? '?'}: ${issue?.message ?? ''}`,
    };
  }
  return { ok: true, document: result.data };
}

/** UTF-8 bytes of a text, in a buffer kept for the next text (grown when one does not fit). */
class ReusableText {
  #bytes = Buffer.alloc(0);

  /** A view valid until the next call. */
  encode(text: string): Uint8Array {
    const length = Buffer.byteLength(text, 'utf8');
    if (length > this.#bytes.length)
      this.#bytes = Buffer.allocUnsafeSlow(Math.max(length, 2 * this.#bytes.length));
    this.#bytes.write(text, 0, 'utf8');
    return this.#bytes.subarray(0, length);
  }
}

/** tmp file + fsync + rename + fsync(dir): the rename is the commit point. */
export async function writeFileAtomically(path: string, content: string | Uint8Array): Promise<void> {
  const tmp = `${path}.tmp-${randomBytes(4).toString('hex')}`;
  const handle = await open(tmp, 'w', 0o600);
  try {
    await handle.writeFile(content);
    await handle.sync();
  } finally {
    await handle.close();
  }
  try {
    await rename(tmp, path);
  } catch (error) {
    await rm(tmp, { force: true });
    throw error;
  }
  const dir = await open(join(path, '..'), 'r');
  try {
    await dir.sync();
  } finally {
    await dir.close();
  }
}

async function ensureWritableDir(dir: string): Promise<void> {
  try {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const probe = join(dir, `.write-probe-${randomBytes(4).toString('hex')}`);
    const handle = await open(probe, 'w', 0o600);
    await handle.close();
    await rm(probe);
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code ?? String(error);
    throw new ForwarderError('KAF_STATE_DIR', `The state directory ${dir} is not writable (${reason})`, {
      cause: error,
    });
  }
}
