// The tailer against the simulated API server (lumberjack rotation by size, gzip mill), checking
// every written auditID+stage arrives exactly once and in write order.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SimulatedApiServer } from '../../../src/simulator/apiserver.ts';
import { linesOf } from '../../../src/source/source.ts';
import { Harness, startTailer, waitFor, type TailerRig } from '../../helpers/harness.ts';

let h: Harness;
let rig: TailerRig | undefined;
let server: SimulatedApiServer | undefined;

beforeEach(async () => {
  h = await Harness.create();
});

afterEach(async () => {
  await server?.stop();
  server = undefined;
  await rig?.stop();
  rig = undefined;
  await h.cleanup();
});

function idOf(line: string): string {
  const event = JSON.parse(line) as { auditID: string; stage: string };
  return `${event.auditID}/${event.stage}`;
}

function writtenIds(simulator: SimulatedApiServer): string[] {
  return simulator.written().map((line) => `${line.auditID}/${line.stage}`);
}

/**
 * Every event exactly once, and in write order within each file. (Across files the order can
 * differ when files rotate faster than the scan: a backup first seen after its successor was read.)
 */
function expectEveryEventOncePerFileInOrder(r: TailerRig, sink: string, expected: readonly string[]): void {
  const got = r.lines(sink).map(idOf);
  expect([...got].sort()).toEqual([...expected].sort());
  const indexOf = new Map(expected.map((id, index) => [id, index]));
  const lastIndexByFile = new Map<string, number>();
  for (const item of r.collectors.get(sink)?.items ?? []) {
    if (item.kind !== 'lines') continue;
    for (const line of linesOf(item)) {
      const index = indexOf.get(idOf(line.toString())) ?? -1;
      expect(index).toBeGreaterThan(lastIndexByFile.get(item.file.key) ?? -1);
      lastIndexByFile.set(item.file.key, index);
    }
  }
}

const tailerOptions = { maxLineBytes: 16 * 1024 * 1024 } as const;

describe('with the simulated API server', () => {
  it('delivers every event once, in order, across size rotations with compression, while it writes', async () => {
    server = new SimulatedApiServer({
      path: h.path('audit.log'),
      maxSizeBytes: 512 * 1024,
      compress: true,
      seed: 7,
      record: true,
      ratePerSec: 20_000,
      count: 6000,
    });
    await server.start();
    rig = await startTailer(h, tailerOptions);
    await server.finished();
    await server.flushMill();
    const expected = writtenIds(server);
    expect(server.stats().rotations).toBeGreaterThan(2);
    const r = rig;
    await waitFor(() => r.lines('a').length >= expected.length && r.lines('b').length >= expected.length, {
      timeoutMs: 30_000,
      message: `${expected.length} events`,
    });
    for (const sink of ['a', 'b']) expectEveryEventOncePerFileInOrder(rig, sink, expected);
    expect(rig.losses).toEqual([]);
  });

  it('catches up after being down through rotations and compression, without duplicates', async () => {
    server = new SimulatedApiServer({
      path: h.path('audit.log'),
      maxSizeBytes: 256 * 1024,
      compress: true,
      seed: 11,
      record: true,
    });
    const simulator = server;
    simulator.writeNow(500);
    rig = await startTailer(h, tailerOptions);
    const first = rig;
    // Lines longer than maxSizeBytes are refused by lumberjack: count what was written.
    const phaseOne = simulator.written().length;
    await waitFor(() => first.lines('a').length >= phaseOne && first.lines('b').length >= phaseOne);
    const before = { a: [...rig.lines('a')], b: [...rig.lines('b')] };
    await rig.stop();
    rig = undefined;
    // Down: the server writes on; several rotations; the mill gzips every backup.
    server.writeNow(4000);
    await server.flushMill();
    rig = await startTailer(h, tailerOptions);
    server.writeNow(200);
    const expected = writtenIds(server);
    const second = rig;
    const total = (sink: 'a' | 'b'): number => before[sink].length + second.lines(sink).length;
    await waitFor(() => total('a') >= expected.length && total('b') >= expected.length, {
      timeoutMs: 30_000,
      message: `${expected.length} events`,
    });
    expect([...before.a, ...rig.lines('a')].map(idOf)).toEqual(expected);
    expect([...before.b, ...rig.lines('b')].map(idOf)).toEqual(expected);
    expect(rig.losses).toEqual([]);
  });
});
