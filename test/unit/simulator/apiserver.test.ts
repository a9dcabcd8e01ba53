import { once } from 'node:events';
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SimulatedApiServer, type SimulatedApiServerOptions } from '../../../src/simulator/apiserver.ts';
import { readManifest } from '../../../src/simulator/manifest.ts';
import { readAuditFiles, splitLines } from '../../../src/simulator/read-back.ts';

const BACKUP_NAME = /^audit-\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}\.\d{3}\.log(\.gz)?$/;
const WAIT = { signal: AbortSignal.timeout(5000) };

let dir: string;
let path: string;
const servers: SimulatedApiServer[] = [];

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kaf-sim-'));
  path = join(dir, 'logs', 'audit.log');
});

afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => server.stop()));
  await rm(dir, { recursive: true, force: true });
});

function server(options: Partial<SimulatedApiServerOptions> = {}): SimulatedApiServer {
  const created = new SimulatedApiServer({
    path,
    seed: 11,
    generator: { largeEventRatio: 0 },
    maxSizeBytes: 64 * 1024,
    record: true,
    ...options,
  });
  servers.push(created);
  return created;
}

/** auditID/stage of every line on disk, backups oldest first, then the active file. */
async function linesOnDisk(): Promise<{ keys: string[]; partials: string[]; sizes: number[] }> {
  const files = await readAuditFiles(path);
  const keys: string[] = [];
  const partials: string[] = [];
  for (const file of files) {
    const { lines, partial } = splitLines(file.data);
    partials.push(partial);
    for (const line of lines) {
      const event = JSON.parse(line) as { auditID: string; stage: string };
      keys.push(`${event.auditID}/${event.stage}`);
    }
  }
  return { keys, partials, sizes: files.map((file) => file.data.length) };
}

describe('SimulatedApiServer', () => {
  it('creates the directory with mode 0700 and the file with mode 0600 at start', async () => {
    const sim = server();

    await sim.start();

    expect((await stat(join(dir, 'logs'))).mode & 0o777).toBe(0o700);
    expect((await stat(path)).mode & 0o777).toBe(0o600);
  });

  it('rotates before a write that would exceed maxSizeBytes, so files stay under it and no line is split', async () => {
    const sim = server();

    sim.writeNow(1500);

    const { partials, sizes, keys } = await linesOnDisk();
    expect(sim.stats().rotations).toBeGreaterThan(5);
    expect(Math.max(...sizes)).toBeLessThanOrEqual(64 * 1024);
    expect(partials.every((partial) => partial === '')).toBe(true);
    expect(keys).toHaveLength(1500);
  });

  it('names backups like lumberjack, in an order that sorts as they were written', () => {
    // A frozen clock: every rotation falls in the same millisecond, which must not collide.
    const sim = server({ clock: () => Date.UTC(2024, 4, 6, 7, 8, 9, 123) });

    sim.writeNow(800);

    const backups = sim
      .files()
      .flatMap((file) => (file.backupPath === undefined ? [] : [basename(file.backupPath)]));
    expect(backups.length).toBeGreaterThan(2);
    expect(backups.every((name) => BACKUP_NAME.test(name))).toBe(true);
    expect(backups.slice(0, 2)).toEqual([
      'audit-2024-05-06T07-08-09.123.log',
      'audit-2024-05-06T07-08-09.124.log',
    ]);
    expect([...backups].sort()).toEqual(backups);
    expect(new Set(backups).size).toBe(backups.length);
  });

  it('writes exactly the recorded lines: all files concatenated in rotation order equal the write sequence', async () => {
    const sim = server();

    sim.writeNow(1200);
    await sim.stop();

    const written = sim.written().map((line) => `${line.auditID}/${line.stage}`);
    expect((await linesOnDisk()).keys).toEqual(written);
  });

  it('records byte offsets that point at each line in its file', async () => {
    const sim = server();
    const seen: { offset: number; bytes: number; file: number; auditID: string }[] = [];
    sim.on('line', (line) => seen.push(line));

    sim.writeNow(300);

    const active = await readFile(path);
    const last = seen.filter((line) => line.file === sim.stats().file).at(-1)!;
    const text = active.subarray(last.offset, last.offset + last.bytes).toString('utf8');
    expect(text.endsWith('\n')).toBe(true);
    expect((JSON.parse(text) as { auditID: string }).auditID).toBe(last.auditID);
  });

  it('leaves a backup plain until the mill runs, then gzips it with the same mode and deletes the plain file', async () => {
    const sim = server({ compress: true, millDelayMs: 60_000 });
    const rotated = once(sim, 'rotate', WAIT);
    sim.writeNow(100);
    const [{ backupPath }] = (await rotated) as [{ backupPath: string }];
    expect((await readdir(join(dir, 'logs'))).sort()).toContain(basename(backupPath));

    const compressed = once(sim, 'compress', WAIT);
    await sim.flushMill();
    await compressed;

    const names = await readdir(join(dir, 'logs'));
    expect(names).not.toContain(basename(backupPath));
    expect(names).toContain(`${basename(backupPath)}.gz`);
    expect((await stat(`${backupPath}.gz`)).mode & 0o777).toBe(0o600);
    const written = sim.written().map((line) => `${line.auditID}/${line.stage}`);
    expect((await linesOnDisk()).keys).toEqual(written);
  });

  it('keeps only the newest maxBackups backups, by the timestamp in their names', async () => {
    const sim = server({ maxBackups: 2, compress: true });

    sim.writeNow(1000);
    await sim.flushMill();

    const expected = sim
      .files()
      .flatMap((file) => (file.backupPath === undefined ? [] : [`${basename(file.backupPath)}.gz`]))
      .slice(-2);
    const backups = (await readdir(join(dir, 'logs'))).filter((name) => name !== 'audit.log').sort();
    expect(backups).toEqual(expected);
  });

  it('drops a line longer than maxSizeBytes, as lumberjack refuses the write', async () => {
    const sim = server({ generator: { largeEventRatio: 0, hugeLine: { afterLines: 10, bytes: 100_000 } } });
    const dropped = once(sim, 'drop', WAIT);

    sim.writeNow(50);

    const [{ bytes }] = (await dropped) as [{ bytes: number }];
    expect(bytes).toBe(100_001);
    expect(sim.stats().linesDropped).toBe(1);
    expect(sim.stats().linesWritten).toBe(49);
  });

  it('appends to an existing file at startup, like lumberjack opening it O_APPEND', async () => {
    const first = server();
    first.writeNow(5);
    await first.stop();
    const before = await readFile(path);

    const second = server({ seed: 12 });
    second.writeNow(5);

    const after = await readFile(path);
    expect(after.subarray(0, before.length).equals(before)).toBe(true);
    expect(splitLines(after).lines).toHaveLength(10);
    expect(second.stats().rotations).toBe(0);
  });

  it('rotates an existing file at startup when the first write would fill it', async () => {
    const first = server();
    first.writeNow(5);
    await first.stop();
    const existing = (await stat(path)).size;

    const second = server({ seed: 12, maxSizeBytes: existing + 100 });
    second.writeNow(1);

    expect(second.stats().rotations).toBe(1);
    expect(basename(second.files()[0]?.backupPath ?? '')).toMatch(BACKUP_NAME);
    expect(splitLines(await readFile(path)).lines).toHaveLength(1);
  });

  it('writes a manifest of every line, rotation, compression and removal, matching the files that remain', async () => {
    const manifestPath = join(dir, 'manifest.jsonl');
    const sim = server({ manifestPath, compress: true, maxBackups: 2 });

    sim.writeNow(1000);
    await sim.stop();
    const manifest = await readManifest(manifestPath);

    expect(manifest.lines.map((l) => `${l.auditID}/${l.stage}`)).toEqual(
      sim.written().map((l) => `${l.auditID}/${l.stage}`),
    );
    expect(manifest.backups.size).toBe(sim.stats().rotations);
    expect(manifest.removed.size).toBe(sim.stats().rotations - 2);
    const isRemoved = (backup: string): boolean =>
      manifest.removed.has(backup) || manifest.removed.has(`${backup}.gz`);
    const survivors = new Set(
      [...manifest.backups].filter(([, backup]) => !isRemoved(backup)).map(([file]) => file),
    );
    survivors.add(sim.stats().file);
    const expected = manifest.lines
      .filter((l) => survivors.has(l.file))
      .map((l) => `${l.auditID}/${l.stage}`);
    expect((await linesOnDisk()).keys).toEqual(expected);
  });

  it('writes at the configured rate until count is reached, then finishes', async () => {
    const sim = server({ ratePerSec: 5000, count: 100 });

    await sim.start();
    await sim.finished();

    expect(sim.stats().linesWritten).toBe(100);
    expect((await linesOnDisk()).keys).toHaveLength(100);
  });

  it('writes as fast as possible with an infinite rate', async () => {
    const sim = server({ ratePerSec: Infinity, count: 3000, burstLines: 500 });

    await sim.start();
    await sim.finished();

    expect(sim.stats().linesWritten).toBe(3000);
  });

  it('stops idempotently and refuses writes afterwards', async () => {
    const sim = server();
    sim.writeNow(3);

    await Promise.all([sim.stop(), sim.stop()]);

    expect(() => sim.writeNow(1)).toThrow(/stopped/);
    await expect(sim.finished()).resolves.toBeUndefined();
  });

  it('rotates on demand like lumberjack Rotate()', async () => {
    const sim = server();
    sim.writeNow(3);

    sim.rotateNow();
    sim.writeNow(2);

    const files = await readAuditFiles(path);
    expect(files.map((file) => splitLines(file.data).lines.length)).toEqual([3, 2]);
  });

  it('writes lines given by a custom source verbatim', async () => {
    let n = 0;
    const sim = server({
      source: {
        nextEvent: () => ({ line: `{"n":${++n},"s":"&"}`, auditID: `id-${n}`, stage: 'ResponseComplete' }),
      },
    });

    sim.writeNow(2);

    expect(await readFile(path, 'utf8')).toBe('{"n":1,"s":"&"}\n{"n":2,"s":"&"}\n');
  });

  it('rejects inconsistent options all at once', () => {
    expect(() => new SimulatedApiServer({ path, maxSizeBytes: 0, ratePerSec: -1 })).toThrow(
      /maxSizeBytes.*ratePerSec.*source or seed/,
    );
  });

  it('writes huge lines whole, across files of the configured size', async () => {
    const sim = server({
      maxSizeBytes: 1024 * 1024,
      generator: { largeEventRatio: 0.05 },
    });

    sim.writeNow(400);

    const { partials, keys } = await linesOnDisk();
    expect(partials.every((p) => p === '')).toBe(true);
    expect(keys).toEqual(sim.written().map((l) => `${l.auditID}/${l.stage}`));
    expect(Math.max(...sim.written().map((l) => l.bytes))).toBeGreaterThan(100 * 1024);
  });
});
