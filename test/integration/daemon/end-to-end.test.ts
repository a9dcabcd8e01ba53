// The data path end to end through the real CLI in a child process: file in, file sink out.
import { appendFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type DaemonHandle, fetchJson, startDaemon, writeConfig } from '../../helpers/daemon.ts';
import { FIXTURES_PRESENT, FIXTURES_SKIP_REASON, fixtureLines } from '../../helpers/fixtures.ts';
import { waitFor } from '../../helpers/wait.ts';
import { AuditEventGenerator } from '../../../src/simulator/generator.ts';

let dir: string;
let daemons: DaemonHandle[] = [];

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kaf-e2e-'));
  await mkdir(join(dir, 'audit'));
});

afterEach(async () => {
  await Promise.all(daemons.map((daemon) => daemon.stop('SIGKILL')));
  daemons = [];
  await rm(dir, { recursive: true, force: true });
});

function baseConfig(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    cluster: 'e2e-cluster',
    node: 'cp-test-1',
    logLevel: 'info',
    source: { path: join(dir, 'audit', 'audit.log'), pollIntervalMs: 50 },
    state: { dir: join(dir, 'state') },
    checkpoint: { intervalMs: 100 },
    batch: { maxEvents: 200, maxWaitMs: 50 },
    sinks: [{ name: 'local', type: 'file', path: join(dir, 'out', 'events.jsonl') }],
    ...overrides,
  };
}

async function start(config: Record<string, unknown>): Promise<DaemonHandle> {
  const daemon = await startDaemon(await writeConfig(dir, config));
  daemons.push(daemon);
  return daemon;
}

async function outputLines(): Promise<Record<string, unknown>[]> {
  const text = await readFile(join(dir, 'out', 'events.jsonl'), 'utf8').catch(() => '');
  // The sink may be mid-append: only complete lines count.
  return text
    .slice(0, text.lastIndexOf('\n') + 1)
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

async function waitForOutput(count: number, timeoutMs = 30_000): Promise<Record<string, unknown>[]> {
  let lines: Record<string, unknown>[] = [];
  await waitFor(
    async () => {
      lines = await outputLines();
      return lines.length >= count;
    },
    { timeoutMs, what: `${count} events in the file sink` },
  );
  return lines;
}

/** The output event without what the forwarder added. */
function withoutEnrichment(event: Record<string, unknown>): Record<string, unknown> {
  const { '@timestamp': _t, cluster: _c, node: _n, eventId: _e, ...rest } = event;
  return rest;
}

describe('the forwarder end to end', () => {
  it.skipIf(!FIXTURES_PRESENT)(
    `delivers every real fixture event once, in order, enriched${FIXTURES_SKIP_REASON}`,
    async () => {
      const lines = fixtureLines();
      await writeFile(join(dir, 'audit', 'audit.log'), `${lines.join('\n')}\n`);
      const daemon = await start(baseConfig());
      const output = await waitForOutput(lines.length);
      expect(output.map(withoutEnrichment)).toEqual(lines.map((line) => JSON.parse(line) as unknown));
      for (const [index, event] of output.entries()) {
        const source = JSON.parse(lines[index] ?? '{}') as Record<string, unknown>;
        expect(event.cluster).toBe('e2e-cluster');
        expect(event.node).toBe('cp-test-1');
        expect(event['@timestamp']).toBe(
          source.stageTimestamp ?? source.requestReceivedTimestamp ?? source.timestamp,
        );
      }
      expect(await daemon.stop()).toBe(0);
    },
  );

  it('delivers generated events, sends invalid lines to dead-letter, and reports both in /status', async () => {
    const generator = new AuditEventGenerator({ seed: 7 });
    const good = Array.from({ length: 3000 }, () => generator.nextLine());
    const withBad = [...good.slice(0, 1000), '{"truncated": ', ...good.slice(1000), 'plain text line'];
    await writeFile(join(dir, 'audit', 'audit.log'), `${withBad.join('\n')}\n`);
    const daemon = await start(baseConfig());
    const output = await waitForOutput(good.length);
    expect(output.map(withoutEnrichment)).toEqual(good.map((line) => JSON.parse(line) as unknown));
    await waitFor(
      async () => {
        const status = await fetchJson<{
          deadLetter: { count: number };
          files: { acknowledgedOffset: number; size: number }[];
        }>(`${daemon.statusUrl}/status`);
        const file = status.files[0];
        return status.deadLetter.count === 2 && file !== undefined && file.acknowledgedOffset === file.size;
      },
      { what: 'two dead-letter records and the whole file acknowledged in /status' },
    );
    const status = await fetchJson<{
      files: { path: string; acknowledgedOffset: number; size: number }[];
      sinks: { name: string; delivered: number }[];
    }>(`${daemon.statusUrl}/status`);
    expect(status.sinks).toMatchObject([{ name: 'local', delivered: good.length }]);
    expect(status.files[0]).toMatchObject({ path: join(dir, 'audit', 'audit.log') });
    expect(status.files[0]?.acknowledgedOffset).toBe(status.files[0]?.size);
    const deadLetters = (await readFile(join(dir, 'state', 'dead-letter.jsonl'), 'utf8')).trim().split('\n');
    expect(deadLetters.map((line) => (JSON.parse(line) as { reason: string; line: string }).line)).toEqual([
      '{"truncated": ',
      'plain text line',
    ]);
    expect((await fetch(`${daemon.statusUrl}/healthz`)).status).toBe(200);
    expect(await daemon.stop()).toBe(0);
  });

  it('resumes from the checkpoint after a clean restart without re-delivering anything', async () => {
    const generator = new AuditEventGenerator({ seed: 11 });
    const first = Array.from({ length: 500 }, () => generator.nextLine());
    const second = Array.from({ length: 500 }, () => generator.nextLine());
    const log = join(dir, 'audit', 'audit.log');
    await writeFile(log, `${first.join('\n')}\n`);
    const daemon = await start(baseConfig());
    await waitForOutput(first.length);
    expect(await daemon.stop()).toBe(0);
    await appendFile(log, `${second.join('\n')}\n`);
    const restarted = await start(baseConfig());
    const output = await waitForOutput(first.length + second.length);
    expect(await restarted.stop()).toBe(0);
    const ids = (await outputLines()).map((event) => `${String(event.auditID)}/${String(event.stage)}`);
    expect(new Set(ids).size).toBe(ids.length);
    expect(output.map(withoutEnrichment)).toEqual(
      [...first, ...second].map((line) => JSON.parse(line) as unknown),
    );
  });

  it('flushes what it holds on SIGTERM, persists the checkpoint and exits 0', async () => {
    const generator = new AuditEventGenerator({ seed: 3 });
    const lines = Array.from({ length: 50 }, () => generator.nextLine());
    await writeFile(join(dir, 'audit', 'audit.log'), `${lines.join('\n')}\n`);
    // A batch that would wait a minute: only the shutdown flush can deliver it in time.
    const daemon = await start(baseConfig({ batch: { maxEvents: 10_000, maxWaitMs: 60_000 } }));
    await waitFor(
      async () => {
        const status = await fetchJson<{
          sinks: { inFlightBytes: number; oldestUnackedEventTime?: string }[];
        }>(`${daemon.statusUrl}/status`);
        return status.sinks[0]?.oldestUnackedEventTime !== undefined;
      },
      { what: 'events read and held in a batch' },
    );
    expect(await outputLines()).toEqual([]);
    expect(await daemon.stop('SIGTERM')).toBe(0);
    expect(await outputLines()).toHaveLength(lines.length);
    const checkpoint = JSON.parse(await readFile(join(dir, 'state', 'checkpoint.json'), 'utf8')) as {
      files: { offsets: Record<string, number>; size: number }[];
    };
    const size = Buffer.byteLength(`${lines.join('\n')}\n`);
    expect(checkpoint.files[0]?.offsets.local).toBe(size);
  });
});
