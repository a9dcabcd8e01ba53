// lumberjack's background "mill" pass: remove backups beyond maxBackups (newest kept, by the
// timestamp in the name; a .gz and its plain twin count once), then gzip each plain backup to
// <backup>.gz and delete the plain file (shared/reference/audit-format.md §5.4–5.5).
import { createReadStream, createWriteStream } from 'node:fs';
import { readdir, rm, stat, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { type BackupFile, COMPRESS_SUFFIX, parseBackupName } from './backup-name.ts';

/** What one pass does. */
export interface MillPolicy {
  readonly activePath: string;
  /** Keep at most this many backups; 0 keeps all. */
  readonly maxBackups: number;
  readonly compress: boolean;
}

/** Told about each change a pass makes, and about failures (which do not stop the pass). */
export interface MillObserver {
  onRemove(path: string): void;
  onCompress(from: string, to: string): void;
  onError(error: Error): void;
}

/** Backups of `activePath`, newest first by name timestamp. */
export async function listBackups(activePath: string): Promise<BackupFile[]> {
  const entries = await readdir(dirname(activePath), { withFileTypes: true });
  const backups: BackupFile[] = [];
  for (const entry of entries) {
    if (!entry.isFile()) continue;
    const backup = parseBackupName(activePath, entry.name);
    if (backup !== undefined) backups.push(backup);
  }
  return backups.sort((a, b) => b.timestampMs - a.timestampMs || (a.name < b.name ? 1 : -1));
}

/** One mill pass. Like lumberjack, it never throws: failures go to `observer.onError`. */
export async function runMillOnce(policy: MillPolicy, observer: MillObserver): Promise<void> {
  let backups: BackupFile[];
  try {
    backups = await listBackups(policy.activePath);
  } catch (error) {
    observer.onError(asError(error));
    return;
  }
  let kept = backups;
  if (policy.maxBackups > 0) {
    const seen = new Set<string>();
    kept = [];
    for (const backup of backups) {
      seen.add(backup.compressed ? backup.name.slice(0, -COMPRESS_SUFFIX.length) : backup.name);
      if (seen.size > policy.maxBackups) {
        try {
          await unlink(backup.path);
          observer.onRemove(backup.path);
        } catch (error) {
          observer.onError(asError(error));
        }
      } else {
        kept.push(backup);
      }
    }
  }
  if (!policy.compress) return;
  for (const backup of kept) {
    if (backup.compressed) continue;
    const target = `${backup.path}${COMPRESS_SUFFIX}`;
    try {
      await gzipFile(backup.path, target);
      observer.onCompress(backup.path, target);
    } catch (error) {
      observer.onError(asError(error));
    }
  }
}

/** gzips `src` to `dst` (same mode; an existing `dst` is overwritten), then deletes `src`. */
export async function gzipFile(src: string, dst: string): Promise<void> {
  const { mode } = await stat(src);
  try {
    // Written in place, not via a tmp file: readers can see a partial .gz, as with lumberjack.
    await pipeline(createReadStream(src), createGzip(), createWriteStream(dst, { mode: mode & 0o7777 }));
  } catch (error) {
    await rm(dst, { force: true });
    throw error;
  }
  await unlink(src);
}

function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}
