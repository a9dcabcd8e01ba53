// copytruncate with the real logrotate binary: logrotate copies audit.log to audit.log.1, then
// truncates audit.log in place; the writer goes on appending at 0 (O_APPEND) or, without
// O_APPEND, at its old offset (leaving a run of NUL bytes).
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { open, readdir, readFile, writeFile, type FileHandle } from 'node:fs/promises';
import { promisify } from 'node:util';
import { gunzipSync } from 'node:zlib';
import { Harness, auditLine, startTailer, waitFor, type TailerRig } from '../../helpers/harness.ts';

const run = promisify(execFile);
const LOGROTATE = '/usr/sbin/logrotate';

let h: Harness;
let rig: TailerRig | undefined;

beforeEach(async () => {
  h = await Harness.create();
});

afterEach(async () => {
  await rig?.stop();
  rig = undefined;
  await h.cleanup();
});

async function logrotate(options: string): Promise<void> {
  const conf = h.path('logrotate.conf');
  await writeFile(
    conf,
    `${h.path('audit.log')} {\n  copytruncate\n  rotate 20\n  missingok\n${options}\n}\n`,
  );
  await run(LOGROTATE, ['-f', '-s', h.path('logrotate.state'), conf]);
}

/** Every line still present in audit.log and its copies (plain or gzipped). */
async function linesOnDisk(): Promise<Set<string>> {
  const present = new Set<string>();
  for (const name of await readdir(h.dir)) {
    if (!name.startsWith('audit.log')) continue;
    const raw = await readFile(h.path(name));
    const text = name.endsWith('.gz') ? gunzipSync(raw).toString() : raw.toString();
    for (const line of text.split('\n')) if (line.startsWith('{')) present.add(line);
  }
  return present;
}

/** Appends numbered lines, one write each, until stopped; like the API server between rotations. */
class BackgroundWriter {
  written = 0;
  readonly #handle: FileHandle;
  #stopped = false;
  readonly #done: Promise<void>;

  constructor(handle: FileHandle) {
    this.#handle = handle;
    this.#done = (async () => {
      while (!this.#stopped) {
        await handle.write(`${auditLine(this.written)}\n`);
        this.written++;
        if (this.written % 50 === 0) await new Promise((resolve) => setImmediate(resolve));
      }
    })();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    await this.#done;
    await this.#handle.close();
  }
}

function expectInOrderWithoutDuplicates(lines: readonly string[]): void {
  const ids = lines.map((line) => Number((JSON.parse(line) as { auditID: string }).auditID));
  for (let i = 1; i < ids.length; i++) expect(ids[i]).toBeGreaterThan(ids[i - 1] ?? -1);
}

describe('copytruncate by logrotate', () => {
  it('continues in the copy from our offset, then the truncated file from 0 (writer paused: nothing lost)', async () => {
    const writer = await open(h.path('audit.log'), 'a');
    const write = async (from: number, to: number): Promise<void> => {
      for (let n = from; n < to; n++) await writer.write(`${auditLine(n)}\n`);
    };
    await write(0, 300);
    rig = await startTailer(h, { noCursors: true, backupGlob: 'audit.log.*' });
    const r = rig;
    await write(300, 600);
    // Behind: the lanes start only after the rotation, so they read the rest from the copy.
    await waitFor(() => r.tailer.files()[0]?.size === 600 * (auditLine(0).length + 1));
    await logrotate('  nocompress');
    await write(600, 700);
    rig.attach('a');
    rig.attach('b');
    await write(700, 800);
    await writer.close();
    await waitFor(() => r.lines('a').length >= 800 && r.lines('b').length >= 800, { message: '800 lines' });
    expect(rig.lines('a')).toEqual(Array.from({ length: 800 }, (_, n) => auditLine(n)));
    expect(rig.lines('b')).toEqual(rig.lines('a'));
    expect(rig.rotations).toContainEqual(expect.objectContaining({ kind: 'copytruncate' }));
    expect(rig.losses).toEqual([]);
  });

  it('loses nothing outside the copy window and duplicates nothing, with the writer running, three rotations', async () => {
    const writer = new BackgroundWriter(await open(h.path('audit.log'), 'a'));
    rig = await startTailer(h, { backupGlob: 'audit.log.*' });
    const r = rig;
    for (let rotation = 0; rotation < 3; rotation++) {
      const target = writer.written + 2000;
      await waitFor(() => writer.written >= target && r.lines('a').length > 0);
      await logrotate(rotation === 2 ? '  compress' : '  compress\n  delaycompress');
    }
    await writer.stop();
    const present = await linesOnDisk();
    const missing = (sink: string): string[] => {
      const got = new Set(r.lines(sink));
      return [...present].filter((line) => !got.has(line));
    };
    await waitFor(() => missing('a').length === 0 && missing('b').length === 0, {
      timeoutMs: 20_000,
      message: 'every line on disk delivered',
    });
    for (const sink of ['a', 'b']) {
      const got = rig.lines(sink);
      expectInOrderWithoutDuplicates(got);
      // Whatever is on disk arrived; anything else arrived only if it was written (the copy window).
      const gotSet = new Set(got);
      for (const line of present) expect(gotSet.has(line)).toBe(true);
      expect(got.length).toBeLessThanOrEqual(writer.written);
    }
    expect(rig.rotations.filter((rotation) => rotation.kind === 'copytruncate')).toHaveLength(3);
  });

  it('skips the NUL run left when the writer does not use O_APPEND, and reports it', async () => {
    // lumberjack's own file is opened without O_APPEND: after an outside truncate it writes at its old offset.
    const writer = await open(h.path('audit.log'), 'w');
    let position = 0;
    const write = async (from: number, to: number): Promise<void> => {
      for (let n = from; n < to; n++) {
        const { bytesWritten } = await writer.write(`${auditLine(n)}\n`, position);
        position += bytesWritten;
      }
    };
    await write(0, 100);
    rig = await startTailer(h, { backupGlob: 'audit.log.*' });
    const r = rig;
    await waitFor(() => r.lines('a').length >= 100 && r.lines('b').length >= 100);
    const holeBytes = position;
    await logrotate('  nocompress');
    await write(100, 150);
    await writer.close();
    await waitFor(() => r.lines('a').length >= 150 && r.lines('b').length >= 150);
    expect(rig.lines('a')).toEqual(Array.from({ length: 150 }, (_, n) => auditLine(n)));
    expect(rig.anomalies).toContainEqual(
      expect.objectContaining({ kind: 'nul-bytes', detail: { start: 0, end: holeBytes, bytes: holeBytes } }),
    );
    expect(rig.losses).toEqual([]);
  });
});
