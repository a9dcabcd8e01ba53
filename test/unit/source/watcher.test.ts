import { appendFile, mkdir, mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DirectoryWatcher, type WatchHint } from '../../../src/source/watcher.ts';
import { delayFor } from '../../helpers/torture.ts';
import { waitFor } from '../../helpers/wait.ts';

interface Hint {
  readonly hint: WatchHint;
  readonly path: string | undefined;
}

let root: string;
let watcher: DirectoryWatcher | undefined;

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'kaf-watcher-'));
});

afterEach(async () => {
  watcher?.close();
  watcher = undefined;
  await rm(root, { recursive: true, force: true });
});

/** A watcher on `dir` that records its hints. A long poll interval leaves the events alone to be seen. */
function watchDir(dir: string, pollIntervalMs = 60_000): { hints: Hint[]; watcher: DirectoryWatcher } {
  const hints: Hint[] = [];
  watcher = new DirectoryWatcher({
    dir,
    pollIntervalMs,
    log: pino({ level: 'silent' }),
    onHint: (hint, path) => hints.push({ hint, path }),
  });
  watcher.start();
  return { hints, watcher };
}

const has = (hints: readonly Hint[], hint: WatchHint, path: string): boolean =>
  hints.some((seen) => seen.hint === hint && seen.path === path);

describe('DirectoryWatcher', () => {
  it('hints a change with the path of a file appended to, and a rename for names that come and go', async () => {
    const active = join(root, 'audit.log');
    await writeFile(active, 'first\n');
    const { hints } = watchDir(root);
    // Starting says "look now": what happened before the watch is found by a scan.
    expect(hints).toEqual([{ hint: 'rename', path: undefined }]);

    await appendFile(active, 'second\n');
    await waitFor(() => has(hints, 'change', active), { what: 'a change hint for the append' });

    const backup = join(root, 'audit-2026-12-07T10-00-00.000.log');
    await rename(active, backup);
    await waitFor(() => has(hints, 'rename', active) && has(hints, 'rename', backup), {
      what: 'rename hints for both names of the rotated file',
    });
    await writeFile(active, 'third\n');
    await waitFor(() => hints.filter((seen) => seen.hint === 'rename' && seen.path === active).length >= 2, {
      what: 'a rename hint for the new active file',
    });
    expect(hints.some((seen) => seen.hint === 'poll')).toBe(false);
  });

  it('polls at its interval and stops everything on close', async () => {
    const { hints, watcher: polling } = watchDir(root, 20);
    await waitFor(() => hints.filter((seen) => seen.hint === 'poll').length >= 3, { what: 'three polls' });
    polling.close();
    expect(polling.isWatching).toBe(false);
    const seen = hints.length;
    await appendFile(join(root, 'audit.log'), 'after close\n');
    // Five poll intervals and the event's delivery: nothing more may arrive.
    await delayFor(100);
    expect(hints.length).toBe(seen);
  });

  it('watches a directory that appears after start, and the new one when it is removed and made again', async () => {
    const dir = join(root, 'audit');
    const active = join(dir, 'audit.log');
    const { hints, watcher: watching } = watchDir(dir, 20);
    await waitFor(() => hints.filter((seen) => seen.hint === 'poll').length >= 2, {
      what: 'polls without a dir',
    });
    expect(watching.isWatching).toBe(false);

    await mkdir(dir);
    await waitFor(() => watching.isWatching, { what: 'the directory to be watched once it exists' });
    await writeFile(active, 'one\n');
    await appendFile(active, 'two\n');
    await waitFor(() => has(hints, 'change', active), { what: 'a change in the new directory' });

    // Removed and made anew (another inode): the old watch would hear nothing from the new directory.
    await rm(dir, { recursive: true });
    await mkdir(dir);
    hints.length = 0;
    await waitFor(
      async () => {
        await appendFile(active, 'again\n');
        return has(hints, 'change', active);
      },
      { what: 'a change in the directory made anew', intervalMs: 50 },
    );
  });
});
