// .gz backups that are not (yet) whole: one still being written (lumberjack and logrotate write the
// .gz in place, so a reader can meet a partial one) and one cut short for good (a damaged disk, a
// mill killed mid-write). Neither may be read twice; only the second loses anything.
import { appendFile } from 'node:fs/promises';
import { gzipSync } from 'node:zlib';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  Harness,
  auditLine,
  auditLines,
  startTailer,
  waitFor,
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

const BACKUP = 'audit-2026-12-03T10-00-00.000.log.gz';

function gzipOf(lines: readonly string[]): Buffer {
  // Level 0 (stored blocks): what has been written decompresses at once, as with a slow writer.
  return gzipSync(`${lines.join('\n')}\n`, { level: 0 });
}

const settle = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

describe('gzip backups that are not whole', () => {
  it('reads a .gz still being written once it is complete: nothing lost, nothing twice', async () => {
    const compressed = gzipOf(auditLines(0, 2000));
    const cut = Math.floor(compressed.length * 0.4);
    await h.write(BACKUP, compressed.subarray(0, cut));
    await h.write('audit.log', `${auditLine(2000)}\n`);
    rig = await startTailer(h, { missingFileGraceMs: 2000 });
    const r = rig;
    // Scans and reads meet the partial .gz several times (poll interval 50 ms).
    await settle(400);
    await appendFile(h.path(BACKUP), compressed.subarray(cut));
    await waitFor(() => r.lines('a').length >= 2001 && r.lines('b').length >= 2001, {
      message: 'every line in both sinks',
    });
    await settle(300);
    expect(rig.lines('a')).toEqual(auditLines(0, 2001));
    expect(rig.lines('b')).toEqual(auditLines(0, 2001));
    expect(rig.losses).toEqual([]);
  });

  it('reads the whole lines of a .gz cut short for good once, and reports the rest lost once', async () => {
    const lines = auditLines(0, 2000);
    const compressed = gzipOf(lines);
    await h.write(BACKUP, compressed.subarray(0, Math.floor(compressed.length * 0.5)));
    await h.write('audit.log', `${auditLine(2000)}\n`);
    rig = await startTailer(h, { missingFileGraceMs: 300 });
    const r = rig;
    await waitFor(() => r.losses.length > 0, { message: 'a data loss record' });
    // Many scans later, the damaged file has not been read again.
    await settle(600);
    const delivered = rig.lines('a');
    expect(delivered).toEqual(rig.lines('b'));
    const fromBackup = delivered.slice(0, -1);
    expect(fromBackup.length).toBeGreaterThan(500);
    expect(fromBackup).toEqual(lines.slice(0, fromBackup.length));
    expect(delivered.at(-1)).toBe(auditLine(2000));
    expect(rig.losses).toEqual([
      expect.objectContaining({ path: h.path(BACKUP), reason: 'unreadable', unreadBytesIsLowerBound: true }),
    ]);
  });
});
