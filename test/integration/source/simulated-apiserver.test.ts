// The tailer against the simulated API server (lumberjack rotation by size, gzip mill), checking
// every written auditID+stage arrives exactly once and in write order.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SimulatedApiServer } from '../../../src/simulator/apiserver.ts';
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
    expect(rig.lines('a').map(idOf)).toEqual(expected);
    expect(rig.lines('b').map(idOf)).toEqual(expected);
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
    server.writeNow(500);
    rig = await startTailer(h, tailerOptions);
    const first = rig;
    await waitFor(() => first.lines('a').length >= 500 && first.lines('b').length >= 500);
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
