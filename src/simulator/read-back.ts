// Reads an audit log directory back the way a catch-up reader would: backups oldest first by the
// timestamp in their names (gunzipped when compressed), then the active file. For tests that
// compare what is on disk with what the simulator says it wrote.
import { readFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { gunzip } from 'node:zlib';
import { listBackups } from './mill.ts';

const gunzipAsync = promisify(gunzip);

/** One file's content. */
export interface FileContent {
  readonly path: string;
  readonly compressed: boolean;
  /** The uncompressed bytes. */
  readonly data: Buffer;
}

/** All backups of `activePath`, oldest first, then the active file (if it exists). */
export async function readAuditFiles(activePath: string): Promise<FileContent[]> {
  const backups = (await listBackups(activePath)).reverse();
  const files: FileContent[] = [];
  for (const backup of backups) {
    const raw = await readFile(backup.path);
    files.push({
      path: backup.path,
      compressed: backup.compressed,
      data: backup.compressed ? await gunzipAsync(raw) : raw,
    });
  }
  try {
    files.push({ path: activePath, compressed: false, data: await readFile(activePath) });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  return files;
}

/** Splits file content into lines without their '\n'; a trailing partial line is returned as `partial`. */
export function splitLines(data: Buffer): { lines: string[]; partial: string } {
  const text = data.toString('utf8');
  const lines = text.split('\n');
  const partial = lines.pop() ?? '';
  return { lines, partial };
}
