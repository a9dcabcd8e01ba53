// lumberjack's backup file names: <dir>/<name-without-ext>-<2006-01-02T15-04-05.000 UTC><ext>
// (shared/reference/audit-format.md §5.3). Pure functions, so tests and the mill agree on them.
import { basename, dirname, join } from 'node:path';

/** The gzip suffix lumberjack appends to compressed backups. */
export const COMPRESS_SUFFIX = '.gz';

/** A backup found next to the active file. */
export interface BackupFile {
  readonly path: string;
  readonly name: string;
  /** Milliseconds since the epoch, from the name (not mtime). */
  readonly timestampMs: number;
  readonly compressed: boolean;
}

/** Go's filepath.Ext: from the last dot of the final element, "" when there is none. */
export function goExt(fileName: string): string {
  for (let i = fileName.length - 1; i >= 0 && fileName[i] !== '/'; i--) {
    if (fileName[i] === '.') return fileName.slice(i);
  }
  return '';
}

/** `2006-01-02T15-04-05.000` in UTC. */
export function formatBackupTimestamp(epochMs: number): string {
  return new Date(epochMs).toISOString().slice(0, 23).replaceAll(':', '-');
}

/** The name lumberjack renames `activePath` to when it rotates at `epochMs`. */
export function backupPath(activePath: string, epochMs: number): string {
  const name = basename(activePath);
  const ext = goExt(name);
  return join(
    dirname(activePath),
    `${name.slice(0, name.length - ext.length)}-${formatBackupTimestamp(epochMs)}${ext}`,
  );
}

const TIMESTAMP = /^(\d{4})-(\d{2})-(\d{2})T(\d{2})-(\d{2})-(\d{2})\.(\d{3})$/;

/** Parses a directory entry as a backup of `activePath`, or returns undefined if it is not one. */
export function parseBackupName(activePath: string, fileName: string): BackupFile | undefined {
  const active = basename(activePath);
  const ext = goExt(active);
  const prefix = `${active.slice(0, active.length - ext.length)}-`;
  for (const suffix of [ext, `${ext}${COMPRESS_SUFFIX}`]) {
    if (!fileName.startsWith(prefix) || !fileName.endsWith(suffix)) continue;
    if (fileName.length < prefix.length + suffix.length) continue;
    const match = TIMESTAMP.exec(fileName.slice(prefix.length, fileName.length - suffix.length));
    if (match === null) continue;
    const [, year, month, day, hour, minute, second, millis] = match.map(Number);
    if (year === undefined || month === undefined || day === undefined) continue;
    const timestampMs = Date.UTC(year, month - 1, day, hour ?? 0, minute ?? 0, second ?? 0, millis ?? 0);
    // Reject dates that Date.UTC silently normalizes (Go's time.Parse rejects them too).
    if (formatBackupTimestamp(timestampMs) !== fileName.slice(prefix.length, fileName.length - suffix.length))
      continue;
    return {
      path: join(dirname(activePath), fileName),
      name: fileName,
      timestampMs,
      compressed: suffix !== ext,
    };
  }
  return undefined;
}
