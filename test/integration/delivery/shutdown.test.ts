// Shutdown with a sink down (issue 4): SIGTERM drains within shutdownTimeoutMs and exits 0; what the
// sink did not acknowledge is not checkpointed, so the next start sends it, and it is stored once.
import { appendFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { type DaemonHandle, fetchJson, startDaemon, writeConfig } from '../../helpers/daemon.ts';
import { eventKey, storedKeyCounts, TcpProxy } from '../../helpers/torture.ts';
import { waitFor } from '../../helpers/wait.ts';
import { FakeElasticsearch } from '../../fakes/es-bulk-server.ts';
import { AuditEventGenerator } from '../../../src/simulator/generator.ts';
import type { StatusSnapshot } from '../../../src/status/snapshot.ts';

const SHUTDOWN_TIMEOUT_MS = 1500;

let cleanup: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const step of cleanup.reverse()) await step().catch(() => undefined);
  cleanup = [];
});

async function esOffset(stateDir: string): Promise<number | undefined> {
  const checkpoint = JSON.parse(await readFile(join(stateDir, 'checkpoint.json'), 'utf8')) as {
    files: { offsets: Record<string, number> }[];
  };
  return checkpoint.files[0]?.offsets.es;
}

describe('shutdown while the sink is down', () => {
  it('exits 0 within the deadline without checkpointing undelivered events; the restart stores them once', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'kaf-shutdown-'));
    cleanup.push(() => rm(dir, { recursive: true, force: true }));
    const fake = await FakeElasticsearch.start();
    cleanup.push(() => fake.close());
    const proxy = await TcpProxy.start(fake.port);
    cleanup.push(() => proxy.down());
    await mkdir(join(dir, 'audit'));
    const log = join(dir, 'audit', 'audit.log');
    const generator = new AuditEventGenerator({ seed: 31 });
    const first = Array.from({ length: 300 }, () => generator.nextEvent());
    const second = Array.from({ length: 200 }, () => generator.nextEvent());
    const firstText = `${first.map((event) => event.line).join('\n')}\n`;
    await writeFile(log, firstText);
    const stateDir = join(dir, 'state');
    const configPath = await writeConfig(dir, {
      cluster: 'shutdown',
      node: 'cp-1',
      source: { path: log, pollIntervalMs: 50 },
      state: { dir: stateDir },
      checkpoint: { intervalMs: 100 },
      batch: { maxEvents: 100, maxWaitMs: 50 },
      delivery: {
        shutdownTimeoutMs: SHUTDOWN_TIMEOUT_MS,
        retry: { initialBackoffMs: 100, maxBackoffMs: 400 },
      },
      sinks: [{ name: 'es', type: 'elasticsearch', url: proxy.url }],
    });
    const daemon: DaemonHandle = await startDaemon(configPath);
    cleanup.push(() => daemon.stop('SIGKILL'));
    await waitFor(
      async () => (await esOffset(stateDir).catch(() => undefined)) === Buffer.byteLength(firstText),
      {
        timeoutMs: 20_000,
        what: 'the first events delivered and checkpointed',
      },
    );

    await proxy.down();
    await appendFile(log, `${second.map((event) => event.line).join('\n')}\n`);
    await waitFor(
      async () => {
        const status = await fetchJson<StatusSnapshot>(`${daemon.statusUrl}/status`);
        const sink = status.sinks[0];
        return sink !== undefined && sink.retried > 0 && sink.inFlightBatches > 0;
      },
      { timeoutMs: 20_000, what: 'the sink retrying with batches in flight' },
    );
    const stoppingAt = Date.now();
    expect(await daemon.stop('SIGTERM')).toBe(0);
    const stopMs = Date.now() - stoppingAt;
    expect(stopMs).toBeLessThan(SHUTDOWN_TIMEOUT_MS + 3000);
    expect(await esOffset(stateDir)).toBe(Buffer.byteLength(firstText));
    expect(fake.documents()).toHaveLength(first.length);

    await proxy.up();
    const restarted = await startDaemon(configPath);
    cleanup.push(() => restarted.stop('SIGKILL'));
    await waitFor(() => fake.documents().length >= first.length + second.length, {
      timeoutMs: 20_000,
      what: 'every event stored after the restart',
    });
    expect(await restarted.stop('SIGTERM')).toBe(0);
    const counts = storedKeyCounts(fake.documents());
    const keys = [...first, ...second].map((event) => eventKey(event.auditID, event.stage));
    expect(keys.filter((key) => counts.get(key) !== 1)).toEqual([]);
    expect(fake.documents()).toHaveLength(keys.length);
  });
});
