import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { appendFile, open, readdir, rename, stat, truncate, writeFile, unlink } from 'node:fs/promises';
import {
  Harness,
  auditLine,
  auditLines,
  lumberjackBackupName,
  recordingLogger,
  startTailer,
  waitFor,
  type AuditWriter,
  type TailerRig,
} from '../../helpers/harness.ts';

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

async function writeLines(writer: AuditWriter, from: number, to: number): Promise<void> {
  for (let n = from; n < to; n++) await writer.writeLine(auditLine(n));
}

async function waitForLines(
  r: TailerRig,
  count: number,
  sinks: readonly string[] = ['a', 'b'],
): Promise<void> {
  await waitFor(() => sinks.every((sink) => r.lines(sink).length >= count), {
    message: `${count} lines in ${sinks.join(', ')} (have ${sinks.map((s) => r.lines(s).length).join(', ')})`,
  });
}

describe('rename + create (the API server rotation)', () => {
  it('reads the renamed file to its end, then the new one, with a writer running', async () => {
    const writer = await h.openWriter('audit.log');
    rig = await startTailer(h);
    for (let round = 0; round < 10; round++) {
      await writeLines(writer, round * 300, round * 300 + 300);
      await writer.rotate();
    }
    await writeLines(writer, 3000, 3100);
    await writer.close();
    await waitForLines(rig, 3100);
    expect(rig.lines('a')).toEqual(auditLines(0, 3100));
    expect(rig.lines('b')).toEqual(auditLines(0, 3100));
    expect(rig.losses).toEqual([]);
    expect(rig.rotations.length).toBeGreaterThanOrEqual(1);
  });

  it('loses nothing when several rotations happen in a burst while the sinks are behind', async () => {
    const writer = await h.openWriter('audit.log');
    rig = await startTailer(h, { noCursors: true });
    for (let round = 0; round < 4; round++) {
      await writeLines(writer, round * 500, round * 500 + 500);
      await writer.rotate();
    }
    await writeLines(writer, 2000, 2100);
    const r = rig;
    // Let the scans see every file (the descriptors are held from then on).
    await waitFor(() => r.tailer.files().length === 5, { message: '5 files' });
    rig.attach('a');
    rig.attach('b');
    await writeLines(writer, 2100, 2200);
    await writer.close();
    await waitForLines(rig, 2200);
    expect(rig.lines('a')).toEqual(auditLines(0, 2200));
    expect(rig.lines('b')).toEqual(auditLines(0, 2200));
    // Finished backups are closed, the active one is still followed.
    await waitFor(() => r.tailer.files().filter((f) => f.state === 'rotated').length === 0);
    expect(rig.tailer.files().filter((f) => f.state === 'active')).toHaveLength(1);
  });

  it('follows a backup its writer still appends to, renamed and then deleted, while the sinks are behind', async () => {
    // A writer that keeps its descriptor across the rename (logrotate without copytruncate, before the
    // process reopens): the backup grows under its new name, and after it is deleted, through our descriptor.
    const late = await open(h.path('audit.log'), 'a');
    for (let n = 0; n < 100; n++) await late.write(`${auditLine(n)}\n`);
    rig = await startTailer(h, { noCursors: true });
    const r = rig;
    await waitFor(() => r.tailer.files().length === 1, { message: 'the active file' });
    const backup = lumberjackBackupName(h.path('audit.log'), new Date());
    await rename(h.path('audit.log'), h.path(backup));
    await h.append('audit.log', auditLines(1000, 1010));
    for (let n = 100; n < 200; n++) await late.write(`${auditLine(n)}\n`);
    const sizeOf = (path: string): number | undefined => r.tailer.files().find((f) => f.path === path)?.size;
    const grown = (await stat(h.path(backup))).size;
    await waitFor(() => sizeOf(h.path(backup)) === grown, { message: `the backup's size ${grown}` });

    await unlink(h.path(backup));
    for (let n = 200; n < 250; n++) await late.write(`${auditLine(n)}\n`);
    const { size: deletedSize } = await late.stat();
    await late.close();
    await waitFor(() => r.tailer.files().some((f) => f.state === 'rotated' && f.size === deletedSize), {
      message: `the deleted backup's size ${deletedSize}`,
    });
    rig.attach('a');
    await waitForLines(rig, 260, ['a']);
    expect(rig.lines('a')).toEqual([...auditLines(0, 250), ...auditLines(1000, 1010)]);
    expect(rig.losses).toEqual([]);
  });

  it('fingerprints a file that was empty when found and rotated before any scan saw it grow, before acknowledging it', async () => {
    await h.write('audit.log', '');
    rig = await startTailer(h, { noCursors: true });
    const r = rig;
    await waitFor(() => r.tailer.files().length === 1, { message: 'the empty active file' });
    // Filled and rotated at once (a busy API server fills a file between two scans).
    await h.append('audit.log', auditLines(0, 1));
    await appendFile(
      h.path('audit.log'),
      auditLines(1, 300)
        .map((line) => `${line}\n`)
        .join(''),
    );
    await rename(h.path('audit.log'), h.path('audit-2026-12-03T10-00-00.000.log'));
    await h.write('audit.log', '');
    await waitFor(() => r.tailer.files().length === 2, { message: 'the rotation seen' });
    rig.attach('a');
    rig.attach('b');
    await waitForLines(rig, 300);
    await waitFor(() => r.tailer.files().every((f) => f.state !== 'rotated'), { message: 'backup finished' });
    const backup = r.store.files.find((entry) => entry.path.endsWith('.000.log'));
    expect(Object.keys(backup?.offsets ?? {}).sort()).toEqual(['a', 'b']);
    // Offsets past the fingerprint would let any other content on a recycled inode pass for this file.
    expect(backup?.fingerprintBytes).toBe(1024);
  });

  it('reads a backup gzipped and deleted while the plain file is held open, and does not read the .gz again', async () => {
    const writer = await h.openWriter('audit.log');
    rig = await startTailer(h, { noCursors: true });
    await writeLines(writer, 0, 1000);
    const backup = await writer.rotate();
    const r = rig;
    await waitFor(() => r.tailer.files().some((f) => f.state === 'rotated'), { message: 'rotation seen' });
    await h.gzip(backup);
    await writeLines(writer, 1000, 1100);
    rig.attach('a');
    rig.attach('b');
    await writeLines(writer, 1100, 1200);
    await writer.close();
    await waitForLines(rig, 1200);
    // The .gz must be taken for a copy of what we read, not a new file: nothing is read twice.
    await waitFor(() => r.tailer.files().every((f) => f.state !== 'rotated'), { message: 'backup finished' });
    expect((await readdir(h.dir)).some((name) => name.endsWith('.gz'))).toBe(true);
    await h.append('audit.log', [auditLine(1200)]);
    await waitForLines(rig, 1201);
    expect(rig.lines('a')).toEqual(auditLines(0, 1201));
    expect(rig.lines('b')).toEqual(auditLines(0, 1201));
    expect(rig.losses).toEqual([]);
  });
});

describe('rotations while the forwarder was down', () => {
  it('continues inside a .gz backup from the checkpointed uncompressed offset', async () => {
    const writer = await h.openWriter('audit.log');
    await writeLines(writer, 0, 500);
    rig = await startTailer(h);
    await waitForLines(rig, 500);
    await rig.stop();
    rig = undefined;
    // Down: the API server writes on, rotates, and its mill compresses the backup.
    await writeLines(writer, 500, 1500);
    const backup = await writer.rotate();
    await h.gzip(backup);
    await writeLines(writer, 1500, 1600);
    rig = await startTailer(h);
    await writeLines(writer, 1600, 1700);
    await writer.close();
    await waitForLines(rig, 1200);
    expect(rig.lines('a')).toEqual(auditLines(500, 1700));
    expect(rig.lines('b')).toEqual(auditLines(500, 1700));
    expect(rig.losses).toEqual([]);
  });

  it('reads several backups (plain and .gz) oldest first from their checkpoints, then the active file', async () => {
    const writer = await h.openWriter('audit.log');
    await writeLines(writer, 0, 100);
    rig = await startTailer(h);
    await waitForLines(rig, 100);
    await rig.stop();
    rig = undefined;
    await writeLines(writer, 100, 200);
    const first = await writer.rotate();
    await writeLines(writer, 200, 300);
    const second = await writer.rotate();
    await writeLines(writer, 300, 400);
    await writer.rotate();
    await writeLines(writer, 400, 450);
    await h.gzip(first);
    await h.gzip(second);
    rig = await startTailer(h);
    await writeLines(writer, 450, 500);
    await writer.close();
    await waitForLines(rig, 400);
    expect(rig.lines('a')).toEqual(auditLines(100, 500));
    expect(rig.lines('b')).toEqual(auditLines(100, 500));
    expect(rig.losses).toEqual([]);
  });

  it('records a backup deleted before a sink read it as data loss with the exact unread bytes', async () => {
    const { log, records } = recordingLogger();
    const writer = await h.openWriter('audit.log');
    await writeLines(writer, 0, 100);
    // Sink "b" is down: it never reads.
    rig = await startTailer(h, { noCursors: true });
    rig.attach('a');
    await waitForLines(rig, 100, ['a']);
    const backup = await writer.rotate();
    await writeLines(writer, 100, 110);
    const r = rig;
    await waitForLines(r, 110, ['a']);
    const backupSize = (await stat(h.path(backup))).size;
    await waitFor(() => r.tailer.files().some((f) => f.state === 'rotated' && f.size === backupSize));
    await rig.stop();
    rig = undefined;
    // Down: maxbackup removes the backup.
    await h.remove(backup);
    rig = await startTailer(h, { log, missingFileGraceMs: 100 });
    const restarted = rig;
    await waitFor(() => restarted.losses.length > 0, { message: 'data loss record' });
    expect(rig.losses).toEqual([
      expect.objectContaining({
        path: h.path(backup),
        unreadBytes: backupSize,
        unreadBytesBySink: { a: 0, b: backupSize },
        unreadBytesIsLowerBound: false,
        reason: 'deleted-before-read',
      }),
    ]);
    expect(rig.store.dataLoss).toHaveLength(1);
    expect(records.some((rec) => rec.level === 50 && rec.unreadBytes === backupSize)).toBe(true);
    // "b" gets the active file from its start; "a" only what it had not read.
    await waitForLines(rig, 10, ['b']);
    expect(rig.lines('b')).toEqual(auditLines(100, 110));
    expect(rig.lines('a')).toEqual([]);
  });

  it('reads a new file on a recycled inode from 0 and takes nothing from the old checkpoint', async () => {
    await h.append('audit.log', auditLines(0, 200));
    rig = await startTailer(h);
    await waitForLines(rig, 200);
    const oldIno = (await stat(h.path('audit.log'))).ino;
    await rig.stop();
    rig = undefined;
    await unlink(h.path('audit.log'));
    let reused = false;
    for (let i = 0; i < 200 && !reused; i++) {
      const candidate = h.path(`probe-${i}`);
      await writeFile(candidate, '');
      if ((await stat(candidate)).ino === oldIno) {
        await writeFile(
          candidate,
          auditLines(1000, 1003)
            .map((l) => `${l}\n`)
            .join(''),
        );
        await rename(candidate, h.path('audit.log'));
        reused = true;
      } else await unlink(candidate);
    }
    if (!reused) await h.append('audit.log', auditLines(1000, 1003)); // the FS did not recycle: same expectations
    rig = await startTailer(h);
    await waitForLines(rig, 3);
    expect(rig.lines('a')).toEqual(auditLines(1000, 1003));
    expect(rig.losses).toEqual([]);
  });

  it('reports a checkpoint offset beyond the file size and continues from the end', async () => {
    await h.append('audit.log', auditLines(0, 100));
    rig = await startTailer(h);
    await waitForLines(rig, 100);
    await rig.stop();
    rig = undefined;
    // The node crashed before the page cache reached the disk: the file lost its tail.
    const keep = auditLines(0, 60).join('\n').length + 1;
    await truncate(h.path('audit.log'), keep);
    rig = await startTailer(h);
    await h.append('audit.log', auditLines(100, 110));
    await waitForLines(rig, 10);
    expect(rig.lines('a')).toEqual(auditLines(100, 110));
    expect(rig.anomalies).toContainEqual(
      expect.objectContaining({
        kind: 'offset-beyond-size',
        detail: expect.objectContaining({ size: keep }) as unknown,
      }),
    );
  });

  it('waits for the active file when it and its directory entry are missing at start, after a checkpoint', async () => {
    await h.append('audit.log', auditLines(0, 10));
    rig = await startTailer(h);
    await waitForLines(rig, 10);
    await rig.stop();
    rig = undefined;
    const backupName = 'audit-2024-01-01T00-00-00.000.log';
    await rename(h.path('audit.log'), h.path(backupName));
    rig = await startTailer(h);
    await h.append('audit.log', auditLines(10, 20));
    await waitForLines(rig, 10);
    expect(rig.lines('a')).toEqual(auditLines(10, 20));
    expect(rig.losses).toEqual([]);
  });
});

describe('a corrupt checkpoint set aside by policy', () => {
  it.each([
    ['beginning', 0],
    ['end', 100],
  ] as const)('restarts every file from its %s', async (policy, firstLine) => {
    const writer = await h.openWriter('audit.log');
    await writeLines(writer, 0, 50);
    await writer.rotate();
    await writeLines(writer, 50, 100);
    rig = await startTailer(h);
    await waitForLines(rig, 100);
    await rig.stop();
    rig = undefined;
    await writeFile(h.path('state/checkpoint.json'), '{"version":1,"files":[{"ke');
    rig = await startTailer(h, { onCorrupt: policy });
    await writeLines(writer, 100, 110);
    await writer.close();
    await waitForLines(rig, 110 - firstLine);
    expect(rig.lines('a')).toEqual(auditLines(firstLine, 110));
  });
});

describe('pruning', () => {
  it('forgets a finished file once it and its copies are gone, and keeps it while its .gz is there', async () => {
    const writer = await h.openWriter('audit.log');
    await writeLines(writer, 0, 100);
    rig = await startTailer(h, { finishedRetentionMs: 300 });
    const backup = await writer.rotate();
    await writeLines(writer, 100, 110);
    const r = rig;
    await waitForLines(r, 110);
    await waitFor(() => r.store.files.some((f) => f.state === 'finished'), { message: 'backup finished' });
    const finishedKey = r.store.files.find((f) => f.state === 'finished')?.key ?? '';
    const gz = await h.gzip(backup);
    // Several scans with only the .gz: still known (nothing is read again).
    await waitFor(() => r.tailer.files().find((f) => f.key === finishedKey)?.path === h.path(gz), {
      message: 'the .gz taken for a copy of the finished file',
    });
    await writeLines(writer, 110, 120);
    await waitForLines(r, 120);
    expect(r.store.getFile(finishedKey)).toBeDefined();
    await h.remove(gz);
    await waitFor(() => r.store.getFile(finishedKey) === undefined, { message: 'entry pruned' });
    await writer.close();
    expect(rig.lines('a')).toEqual(auditLines(0, 120));
    expect(rig.losses).toEqual([]);
  });
});
