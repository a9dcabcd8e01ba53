// Offline access to checkpoint.json for the `checkpoint` commands: read it (telling missing from
// corrupt), look at the files it names, and write a changed copy through the store's atomic write.
// The format and its parser stay in checkpoint/store.ts; nothing here guesses at it.
import { lineAlignedEnd } from '../source/line-aligned-end.ts';
import { copyFile, type FileHandle, open, readdir, readFile, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { CHECKPOINT_FILE, parseCheckpoint, writeFileAtomically } from '../checkpoint/store.ts';
import { backupMatcher } from '../source/backups.ts';
import { fingerprintOf, newFileKey, readGzipTrailerSize, readHead } from '../source/identity.ts';

/** checkpoint.json as the store parses it (the format is owned by checkpoint/store.ts). */
export type CheckpointDocument = Extract<ReturnType<typeof parseCheckpoint>, { ok: true }>['document'];
export type CheckpointEntry = CheckpointDocument['files'][number];

/** What is in the state directory: no checkpoint yet, an unreadable one, or a valid one. */
export type CheckpointRead =
  | { readonly kind: 'missing'; readonly path: string }
  | { readonly kind: 'corrupt'; readonly path: string; readonly reason: string }
  | { readonly kind: 'ok'; readonly path: string; readonly document: CheckpointDocument };

/** Where the daemon keeps its checkpoint inside the state directory. */
export function checkpointPath(stateDir: string): string {
  return join(stateDir, CHECKPOINT_FILE);
}

/** Reads and validates checkpoint.json with the store's own parser. */
export async function readCheckpoint(stateDir: string): Promise<CheckpointRead> {
  const path = checkpointPath(stateDir);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return { kind: 'missing', path };
    return { kind: 'corrupt', path, reason: `cannot read it (${code ?? String(error)})` };
  }
  const parsed = parseCheckpoint(text);
  return parsed.ok
    ? { kind: 'ok', path, document: parsed.document }
    : { kind: 'corrupt', path, reason: parsed.reason };
}

/** Copies set aside earlier (by the daemon's onCorrupt policy or by `reset`), oldest first. */
export async function listSetAsideCopies(stateDir: string): Promise<string[]> {
  const names = await readdir(stateDir).catch(() => []);
  return names
    .filter(
      (name) =>
        name.startsWith(`${CHECKPOINT_FILE}.corrupt-`) || name.startsWith(`${CHECKPOINT_FILE}.before-`),
    )
    .sort()
    .map((name) => join(stateDir, name));
}

function stamp(now: Date): string {
  return now.toISOString().replaceAll(':', '-');
}

/** Keeps the current checkpoint as checkpoint.json.before-<action>-<time>, then writes the new one atomically. */
export async function replaceCheckpoint(
  stateDir: string,
  document: CheckpointDocument,
  action: string,
  now: Date,
): Promise<{ backup: string }> {
  const path = checkpointPath(stateDir);
  const backup = `${path}.before-${action}-${stamp(now)}`;
  await copyFile(path, backup);
  await writeFileAtomically(path, `${JSON.stringify({ ...document, writtenAt: now.toISOString() })}\n`);
  return { backup };
}

/**
 * Keeps a copy of an unreadable checkpoint under the daemon's naming (checkpoint.json.corrupt-<time>).
 * A copy, not a rename: the path must never be missing, or a daemon retrying to open it would take a
 * missing file for a first run (source.startAt) before the new checkpoint replaces it.
 */
export async function keepCorruptCopy(stateDir: string, now: Date): Promise<string> {
  const aside = `${checkpointPath(stateDir)}.corrupt-${stamp(now)}`;
  await copyFile(checkpointPath(stateDir), aside);
  return aside;
}

/** Writes a new checkpoint (atomically) holding `files` and no data-loss records. */
export async function writeFreshCheckpoint(
  stateDir: string,
  files: readonly CheckpointEntry[],
  now: Date,
): Promise<void> {
  const document: CheckpointDocument = {
    version: 1,
    writtenAt: now.toISOString(),
    files: [...files],
    dataLoss: [],
  };
  await writeFileAtomically(checkpointPath(stateDir), `${JSON.stringify(document)}\n`);
}

/** What is at an entry's recorded path now, as far as a reset needs to know. */
export interface FileOnDisk {
  /** Same device and inode as the entry: the recorded path still names this file. */
  readonly isSameFile: boolean;
  /** gzip content: offsets are in the uncompressed stream and cannot be checked cheaply. */
  readonly isCompressed: boolean;
  /** Current size when it is the same plain file. */
  readonly size?: number;
  /** The end of the last complete line when it is the same plain file. */
  readonly lineAlignedEnd?: number;
  /** For a requested offset in the same plain file: whether a line starts there, and where the next one does. */
  readonly boundary?: { readonly isLineStart: boolean; readonly nextLineStart?: number };
}

/** Looks at an entry's recorded path: same file?, size, last line end, and whether `offset` starts a line. */
export async function inspectEntryFile(entry: CheckpointEntry, offset?: number): Promise<FileOnDisk> {
  let handle;
  try {
    handle = await open(entry.path, 'r');
  } catch {
    return { isSameFile: false, isCompressed: false };
  }
  try {
    const stats = await handle.stat();
    if (stats.dev !== entry.dev || stats.ino !== entry.ino) return { isSameFile: false, isCompressed: false };
    const head = await readHead(handle, 2);
    if (head.compressed) return { isSameFile: true, isCompressed: true };
    const alignedEnd = await lineAlignedEnd(handle, stats.size);
    const boundary =
      offset === undefined || offset > stats.size
        ? undefined
        : await lineBoundary(handle, offset, stats.size);
    return {
      isSameFile: true,
      isCompressed: false,
      size: stats.size,
      lineAlignedEnd: alignedEnd,
      ...(boundary && { boundary }),
    };
  } finally {
    await handle.close();
  }
}

async function lineBoundary(
  handle: FileHandle,
  offset: number,
  size: number,
): Promise<{ isLineStart: boolean; nextLineStart?: number }> {
  if (offset === 0 || offset === size) return { isLineStart: true };
  const previous = Buffer.alloc(1);
  await handle.read(previous, 0, 1, offset - 1);
  if (previous[0] === 0x0a) return { isLineStart: true };
  const buffer = Buffer.alloc(64 * 1024);
  for (let position = offset; position < size; position += buffer.length) {
    const { bytesRead } = await handle.read(buffer, 0, Math.min(buffer.length, size - position), position);
    const newline = buffer.subarray(0, bytesRead).indexOf(0x0a);
    if (newline !== -1) return { isLineStart: false, nextLineStart: position + newline + 1 };
    if (bytesRead === 0) break;
  }
  return { isLineStart: false };
}

/**
 * Checkpoint entries that start every file found next to `sourcePath` at its end, for every sink:
 * the active file at the end of its last complete line, each backup as finished. Keys and
 * fingerprints are made as the tailer makes them (source/identity.ts), so it adopts these files.
 */
export async function entriesAtEnd(
  sourcePath: string,
  sinks: readonly string[],
  backupGlob?: string,
): Promise<CheckpointEntry[]> {
  const dir = dirname(sourcePath);
  const activeName = basename(sourcePath);
  const isBackup = backupMatcher(sourcePath, backupGlob);
  const names = (await readdir(dir)).filter((name) => name === activeName || isBackup(name)).sort();
  const entries: CheckpointEntry[] = [];
  for (const name of names) {
    const path = join(dir, name);
    const stats = await stat(path);
    if (!stats.isFile()) continue;
    const handle = await open(path, 'r');
    try {
      const head = await readHead(handle);
      const isActive = name === activeName;
      let size = stats.size;
      if (head.compressed) size = (await readGzipTrailerSize(handle, stats.size)) ?? 0;
      const offset = isActive ? await lineAlignedEnd(handle, stats.size) : size;
      entries.push({
        key: newFileKey(stats.dev, stats.ino),
        path,
        dev: stats.dev,
        ino: stats.ino,
        ...fingerprintOf(head.bytes),
        size,
        state: isActive ? 'active' : 'finished',
        offsets: Object.fromEntries(sinks.map((sink) => [sink, offset])),
      });
    } finally {
      await handle.close();
    }
  }
  return entries;
}
