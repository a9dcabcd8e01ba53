import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { unlink } from 'node:fs/promises';
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

describe('tailing the active file', () => {
  it('delivers every line once, in order, to every sink while a writer appends', async () => {
    const writer = await h.openWriter('audit.log');
    for (const line of auditLines(0, 100)) await writer.writeLine(line);
    rig = await startTailer(h, { sinks: ['es', 'file'] });
    for (const line of auditLines(100, 2000)) await writer.writeLine(line);
    await writer.close();
    const r = rig;
    await waitFor(() => r.lines('es').length >= 2000 && r.lines('file').length >= 2000, {
      message: '2000 lines',
    });
    expect(rig.lines('es')).toEqual(auditLines(0, 2000));
    expect(rig.lines('file')).toEqual(auditLines(0, 2000));
    const [status] = rig.tailer.files();
    expect(status?.state).toBe('active');
  });

  it('reads a write within 250 ms when idle', async () => {
    await h.write('audit.log', '');
    rig = await startTailer(h, { sinks: ['es'], pollIntervalMs: 1000 });
    const r = rig;
    const latencies: number[] = [];
    for (let i = 0; i < 5; i++) {
      await new Promise((resolve) => setTimeout(resolve, 100)); // let the tailer go idle
      const writtenAt = performance.now();
      await h.append('audit.log', [auditLine(i)]);
      await waitFor(() => r.lines('es').length === i + 1, { intervalMs: 1, message: `line ${i}` });
      latencies.push(performance.now() - writtenAt);
    }
    expect(Math.max(...latencies)).toBeLessThan(250);
  });

  it('never emits a partial line when a line is written one byte at a time', async () => {
    await h.write('audit.log', `${auditLine(0)}\n`);
    rig = await startTailer(h, { sinks: ['es'] });
    const writer = await h.openWriter('audit.log');
    const slow = `${auditLine(1, 20)}\n`;
    for (const char of slow) await writer.writeRaw(char);
    await writer.writeLine(auditLine(2));
    await writer.close();
    const r = rig;
    await waitFor(() => r.lines('es').length >= 3);
    expect(rig.lines('es')).toEqual([auditLine(0), auditLine(1, 20), auditLine(2)]);
  });

  it('reports a 10 MB line as oversize with its length and offset, then reads on', async () => {
    const big = 'y'.repeat(10 * 1024 * 1024);
    await h.append('audit.log', [auditLine(0)]);
    rig = await startTailer(h, { sinks: ['es'], maxLineBytes: 4 * 1024 * 1024 });
    await h.append('audit.log', [big, auditLine(1)]);
    const r = rig;
    await waitFor(() => r.lines('es').length >= 2);
    expect(rig.lines('es')).toEqual([auditLine(0), auditLine(1)]);
    const oversize = rig.collectors.get('es')?.items.find((item) => item.kind === 'oversize');
    const start = auditLine(0).length + 1;
    expect(oversize).toMatchObject({
      kind: 'oversize',
      start,
      end: start + big.length + 1,
      length: big.length,
    });
  });

  it('delivers a 10 MB line whole when maxLineBytes allows it', async () => {
    const big = JSON.stringify({ auditID: 'big', pad: 'z'.repeat(10 * 1024 * 1024) });
    rig = await startTailer(h, { sinks: ['es'], maxLineBytes: 16 * 1024 * 1024 });
    await h.append('audit.log', [auditLine(0), big, auditLine(1)]);
    const r = rig;
    await waitFor(() => r.lines('es').length >= 3);
    expect(rig.lines('es')).toEqual([auditLine(0), big, auditLine(1)]);
  });

  it('waits for a file missing at start, logging once, and reads it from 0 when it appears', async () => {
    rig = await startTailer(h, { sinks: ['es'], startAt: 'end' });
    expect(rig.tailer.files()).toEqual([]);
    await h.append('audit.log', auditLines(0, 10));
    const r = rig;
    await waitFor(() => r.lines('es').length >= 10);
    expect(rig.lines('es')).toEqual(auditLines(0, 10));
  });

  it('waits when even the directory is missing', async () => {
    rig = await startTailer(h, { sinks: ['es'], path: h.path('later/audit.log') });
    const { mkdir, appendFile } = await import('node:fs/promises');
    await mkdir(h.path('later'));
    await appendFile(h.path('later/audit.log'), `${auditLine(0)}\n`);
    const r = rig;
    await waitFor(() => r.lines('es').length >= 1);
    expect(rig.lines('es')).toEqual([auditLine(0)]);
  });

  it('starts at the end of the last complete line with startAt "end" on a first run', async () => {
    await h.write('audit.log', `${auditLine(0)}\n${auditLine(1)}\n{"partial":`);
    rig = await startTailer(h, { sinks: ['es'], startAt: 'end' });
    await h.append('audit.log', ['1}', auditLine(2)]);
    const r = rig;
    await waitFor(() => r.lines('es').length >= 2);
    expect(rig.lines('es')).toEqual(['{"partial":1}', auditLine(2)]);
  });

  it('skips and reports runs of NUL bytes (left by an outside truncate) and reads on', async () => {
    const writer = await h.openWriter('audit.log');
    await writer.writeLine(auditLine(0));
    rig = await startTailer(h, { sinks: ['es', 'file'] });
    const nulStart = auditLine(0).length + 1;
    await writer.writeRaw(Buffer.alloc(5000));
    await writer.writeLine(auditLine(1));
    await writer.close();
    const r = rig;
    await waitFor(() => r.lines('es').length >= 2 && r.lines('file').length >= 2);
    expect(rig.lines('es')).toEqual([auditLine(0), auditLine(1)]);
    const skipped = rig.collectors.get('es')?.items.filter((item) => item.kind === 'skipped');
    expect(skipped).toEqual([
      expect.objectContaining({ start: nulStart, end: nulStart + 5000, reason: 'nul-bytes' }),
    ]);
    // Both lanes met the run: reported once.
    expect(rig.anomalies.filter((a) => a.kind === 'nul-bytes')).toEqual([
      expect.objectContaining({ detail: { start: nulStart, end: nulStart + 5000, bytes: 5000 } }),
    ]);
  });

  it('reports an active file unlinked while the writer keeps writing, and keeps reading it', async () => {
    const writer = await h.openWriter('audit.log');
    await writer.writeLine(auditLine(0));
    rig = await startTailer(h, { sinks: ['es'] });
    const r = rig;
    await waitFor(() => r.lines('es').length >= 1);
    await unlink(h.path('audit.log'));
    await writer.writeLine(auditLine(1));
    await waitFor(() => r.anomalies.some((a) => a.kind === 'active-unlinked'), { message: 'unlink anomaly' });
    await writer.writeLine(auditLine(2));
    await writer.close();
    await waitFor(() => r.lines('es').length >= 3);
    expect(rig.lines('es')).toEqual(auditLines(0, 3));
    // Then the writer (like lumberjack at its next rotation) creates the file anew.
    await h.append('audit.log', [auditLine(3)]);
    await waitFor(() => r.lines('es').length >= 4);
    expect(rig.lines('es')).toEqual(auditLines(0, 4));
    expect(rig.losses).toEqual([]);
  });
});

describe('truncation without a copy', () => {
  it('waits briefly for a copy, then reports the truncation and reads the file anew from 0', async () => {
    await h.append('audit.log', auditLines(0, 50));
    rig = await startTailer(h, { sinks: ['es'], missingFileGraceMs: 200 });
    const r = rig;
    await waitFor(() => r.lines('es').length >= 50);
    await h.truncate('audit.log');
    await h.append('audit.log', auditLines(50, 55));
    await waitFor(() => r.lines('es').length >= 55, { message: 'lines after the truncation' });
    expect(rig.lines('es')).toEqual(auditLines(0, 55));
    expect(rig.anomalies).toContainEqual(expect.objectContaining({ kind: 'truncated' }));
    // Everything had been read before the truncation: nothing lost.
    expect(rig.losses).toEqual([]);
  });
});
