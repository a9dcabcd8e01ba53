// The status endpoints of the real daemon (child process) in the states ops care about: healthy,
// a sink down at run time (retrying, then failing), a sink whose start-up check fails and then
// passes, and Elasticsearch refusing our credentials or going away.
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { SinkStatusView } from '../../../src/status/snapshot.ts';
import { FakeElasticsearch } from '../../fakes/es-bulk-server.ts';
import { ForwarderFixture, getText, metric, runCli, waitForStatus } from './forwarder-fixture.ts';

let fixture: ForwarderFixture;
let fakes: FakeElasticsearch[] = [];

beforeEach(async () => {
  fixture = await ForwarderFixture.create();
});

afterEach(async () => {
  await fixture.cleanup();
  await Promise.all(fakes.map((fake) => fake.close()));
  fakes = [];
});

function sink(status: { sinks: readonly SinkStatusView[] }, name: string): SinkStatusView {
  const found = status.sinks.find((candidate) => candidate.name === name);
  if (!found) throw new Error(`no sink ${name} in /status`);
  return found;
}

describe('status endpoints of a running forwarder', () => {
  it('healthy: 200s, a complete /status and metrics that agree with it', async () => {
    await fixture.append(300);
    const daemon = await fixture.start(fixture.config());
    await fixture.waitForDelivered(300);
    // pendingChanges turns false when a write starts (CheckpointStore), so also wait for the write itself.
    const status = await waitForStatus(
      daemon,
      (s) =>
        s.sinks[0]?.lagBytes === 0 &&
        !s.checkpoint.pendingChanges &&
        s.checkpoint.lastPersistedAt !== undefined,
      'caught up and saved',
    );

    expect(status).toMatchObject({
      version: expect.any(String) as string,
      ready: true,
      notReadyReasons: [],
      cluster: 'status-test',
      node: 'cp-status-1',
      source: { path: fixture.auditPath },
      checkpoint: { path: join(fixture.stateDir, 'checkpoint.json'), entries: 1, pendingChanges: false },
      dataLoss: [],
      deadLetter: { path: join(fixture.stateDir, 'dead-letter.jsonl'), count: 0, bySink: {} },
    });
    expect(status.uptimeSeconds).toBeGreaterThan(0);
    expect(status.checkpoint.lastPersistedAt).toBeDefined();
    const file = status.files[0];
    expect(file).toMatchObject({
      path: fixture.auditPath,
      state: 'active',
      compressed: false,
      lagBytes: 0,
      lagSeconds: 0,
    });
    expect(file?.identity?.fingerprint).toMatch(/^[0-9a-f]{64}$/);
    expect(file?.sinks.local).toEqual({
      acknowledgedOffset: file?.size,
      readOffset: file?.size,
      lagBytes: 0,
    });
    expect(sink(status, 'local')).toMatchObject({
      type: 'file',
      state: 'ok',
      delivered: 300,
      retried: 0,
      deadLettered: 0,
      inFlightBatches: 0,
      inFlightBytes: 0,
      lagBytes: 0,
      lagSeconds: 0,
    });
    expect(sink(status, 'local').lastSuccessAt).toBeDefined();

    const health = await getText(`${daemon.statusUrl}/healthz`);
    const ready = await getText(`${daemon.statusUrl}/readyz`);
    const metrics = await getText(`${daemon.statusUrl}/metrics`);
    expect([health.status, health.body]).toEqual([200, 'ok\n']);
    expect([ready.status, ready.body]).toEqual([
      200,
      '[+]config ok\n[+]checkpoint ok\n[+]sink/local ok\nreadyz check passed\n',
    ]);
    expect(metrics.status).toBe(200);
    expect(metric(metrics.body, 'audit_forwarder_events_read_total', 'sink="local"')).toBe(300);
    expect(metric(metrics.body, 'audit_forwarder_events_sent_total', 'sink="local"')).toBe(300);
    expect(metric(metrics.body, 'audit_forwarder_read_bytes_total', 'sink="local"')).toBe(file?.size);
    expect(metric(metrics.body, 'audit_forwarder_lag_bytes', 'sink="local"')).toBe(0);
    expect(metric(metrics.body, 'audit_forwarder_lag_seconds', 'sink="local"')).toBe(0);
    expect(metric(metrics.body, 'audit_forwarder_sink_state', 'sink="local",state="ok"')).toBe(1);
    expect(metric(metrics.body, 'audit_forwarder_ready')).toBe(1);
    expect(metric(metrics.body, 'audit_forwarder_data_loss_bytes_total')).toBe(0);
    expect(
      metric(metrics.body, 'audit_forwarder_batch_duration_seconds_count', 'sink="local"'),
    ).toBeGreaterThan(0);
    expect(metric(metrics.body, 'audit_forwarder_checkpoint_age_seconds')).toBeGreaterThanOrEqual(0);
    expect(metric(metrics.body, 'audit_forwarder_process_resident_memory_bytes')).toBeGreaterThan(0);
    // Never a file path or an auditID as a label value.
    expect(metrics.body).not.toContain(fixture.dir);
    expect((await getText(`${daemon.statusUrl}/nope`)).status).toBe(404);
    expect(await daemon.stop()).toBe(0);
  });

  it('a sink down at run time: retrying, then failing with the error and since when; the other sink flows', async () => {
    await fixture.append(50);
    // /dev/full opens fine (the start-up check passes) and every write fails with ENOSPC: a full disk.
    const daemon = await fixture.start(
      fixture.config({
        sinks: [
          { name: 'local', type: 'file', path: fixture.outPath },
          { name: 'full', type: 'file', path: '/dev/full' },
        ],
        delivery: { retry: { initialBackoffMs: 3000, maxBackoffMs: 6000 }, shutdownTimeoutMs: 500 },
      }),
    );

    const retrying = await waitForStatus(
      daemon,
      (s) => ['retrying', 'failing'].includes(sink(s, 'full').state),
      'the full sink to fail once',
    );
    expect(sink(retrying, 'full').state).toBe('retrying');
    // One batch, or two when a slow read split the lines across a batch timeout.
    expect(sink(retrying, 'full').inFlightBatches).toBeGreaterThanOrEqual(1);
    expect(sink(retrying, 'full').lastError).toContain('ENOSPC');
    expect(sink(retrying, 'full').failingSince).toBeDefined();
    expect((await getText(`${daemon.statusUrl}/readyz`)).status).toBe(200);
    expect((await runCli(['status', '--url', daemon.statusUrl])).code).toBe(0);

    const failing = await waitForStatus(
      daemon,
      (s) => sink(s, 'full').state === 'failing',
      'the full sink to be failing',
    );
    await fixture.waitForDelivered(50);
    const size = failing.files[0]?.size ?? 0;
    expect(sink(failing, 'full')).toMatchObject({ delivered: 0, lagBytes: size });
    expect(sink(failing, 'full').retried).toBeGreaterThanOrEqual(3);
    expect(sink(failing, 'full').lagSeconds).toBeGreaterThan(0);
    expect(failing.files[0]?.sinks.full).toMatchObject({
      acknowledgedOffset: 0,
      readOffset: size,
      lagBytes: size,
    });
    expect(failing.files[0]).toMatchObject({ acknowledgedOffset: 0, lagBytes: size });
    const local = await waitForStatus(daemon, (s) => sink(s, 'local').lagBytes === 0, 'local caught up');
    expect(sink(local, 'local')).toMatchObject({ state: 'ok', delivered: 50 });

    const metrics = (await getText(`${daemon.statusUrl}/metrics`)).body;
    expect(metric(metrics, 'audit_forwarder_sink_state', 'sink="full",state="failing"')).toBe(1);
    expect(metric(metrics, 'audit_forwarder_sink_state', 'sink="local",state="ok"')).toBe(1);
    expect(metric(metrics, 'audit_forwarder_send_retries_total', 'sink="full"')).toBeGreaterThanOrEqual(3);
    expect(metric(metrics, 'audit_forwarder_lag_bytes', 'sink="full"')).toBe(size);
    expect(metric(metrics, 'audit_forwarder_in_flight_batches', 'sink="full"')).toBe(
      sink(failing, 'full').inFlightBatches,
    );
    expect(metric(metrics, 'audit_forwarder_ready')).toBe(1);
    const cli = await runCli(['status', '--url', daemon.statusUrl]);
    expect(cli.code).toBe(1);
    expect(cli.stdout).toContain('PROBLEM: sink full is failing: cannot write /dev/full: ENOSPC');
  });

  it('readiness before and after the start-up checks: 503 with the reason, then 200 once fixed', async () => {
    await fixture.append(20);
    // The sink's directory cannot be created below a regular file (ENOTDIR), even as root.
    const blocker = join(fixture.dir, 'out');
    await writeFile(blocker, 'not a directory');
    const daemon = await fixture.start(fixture.config());

    const notReady = await waitForStatus(
      daemon,
      (s) => sink(s, 'local').lastError !== undefined,
      'the start-up check to fail',
    );
    expect(notReady.ready).toBe(false);
    expect(notReady.notReadyReasons).toEqual([
      expect.stringMatching(/^sink\/local: start-up check failed: .*cannot open/),
    ]);
    expect(sink(notReady, 'local')).toMatchObject({ state: 'failing', delivered: 0 });
    const readyz = await getText(`${daemon.statusUrl}/readyz`);
    expect(readyz.status).toBe(503);
    expect(readyz.body).toMatch(
      /^\[\+\]config ok\n\[\+\]checkpoint ok\n\[-\]sink\/local failed: start-up check failed: .*\nreadyz check failed\n$/,
    );
    expect((await getText(`${daemon.statusUrl}/healthz`)).status).toBe(200);
    expect(metric((await getText(`${daemon.statusUrl}/metrics`)).body, 'audit_forwarder_ready')).toBe(0);

    await rm(blocker);
    await mkdir(blocker);
    const ready = await waitForStatus(daemon, (s) => s.ready, 'the start-up check to pass', 60_000);
    expect(ready.notReadyReasons).toEqual([]);
    expect((await getText(`${daemon.statusUrl}/readyz`)).status).toBe(200);
    await fixture.waitForDelivered(20);
  });

  it('Elasticsearch refusing our credentials: not ready, sink failing with the 401, exit 1 from the CLI', async () => {
    const fake = await FakeElasticsearch.start({
      auth: { users: [{ username: 'elastic', password: 'right-password' }] },
    });
    fakes.push(fake);
    await fixture.append(10);
    const daemon = await fixture.start(
      fixture.config({
        sinks: [
          {
            name: 'es',
            type: 'elasticsearch',
            url: fake.url,
            auth: { username: 'elastic', password: '${ES_PASSWORD}' },
          },
        ],
      }),
      { ES_PASSWORD: 'wrong-password' },
    );

    const status = await waitForStatus(
      daemon,
      (s) => sink(s, 'es').lastError !== undefined,
      'the start-up check to fail',
    );
    expect(status.ready).toBe(false);
    expect(sink(status, 'es')).toMatchObject({ type: 'elasticsearch', state: 'failing', delivered: 0 });
    expect(sink(status, 'es').lastError).toMatch(/401|authenticat/i);
    expect(status.notReadyReasons[0]).toMatch(/^sink\/es: start-up check failed: .*(401|authenticat)/i);
    expect((await getText(`${daemon.statusUrl}/readyz`)).status).toBe(503);
    const cli = await runCli(['status', '--url', daemon.statusUrl]);
    expect(cli.code).toBe(1);
    expect(cli.stdout).toContain('not ready:');
  });

  it('Elasticsearch at a closed port: the start-up check fails with the connection error', async () => {
    const port = await closedPort();
    const daemon = await fixture.start(
      fixture.config({
        sinks: [
          { name: 'es', type: 'elasticsearch', url: `http://127.0.0.1:${port}`, requestTimeoutMs: 2000 },
        ],
      }),
    );

    const status = await waitForStatus(
      daemon,
      (s) => sink(s, 'es').lastError !== undefined,
      'the start-up check to fail',
    );

    expect(status.ready).toBe(false);
    expect(sink(status, 'es')).toMatchObject({ state: 'failing' });
    expect(sink(status, 'es').lastError).toMatch(/ECONNREFUSED|connect/i);
  });

  it('Elasticsearch overloaded at run time (503): retrying, then failing, then recovered with nothing lost', async () => {
    const fake = await FakeElasticsearch.start();
    fakes.push(fake);
    await fixture.append(10);
    const daemon = await fixture.start(
      fixture.config({
        sinks: [{ name: 'es', type: 'elasticsearch', url: fake.url }],
        // Long enough first backoffs that the short "retrying" phase is seen before "failing".
        delivery: { retry: { initialBackoffMs: 1000, maxBackoffMs: 2000 }, shutdownTimeoutMs: 500 },
      }),
    );
    await waitForStatus(
      daemon,
      (s) => sink(s, 'es').delivered === 10 && sink(s, 'es').lagBytes === 0,
      'first events in ES',
    );

    fake.failRequests({ type: 'status', status: 503 }, { times: 6 });
    await fixture.append(10);
    const retrying = await waitForStatus(
      daemon,
      (s) => sink(s, 'es').state === 'retrying',
      'the es sink to retry',
    );
    expect(sink(retrying, 'es').lagBytes).toBeGreaterThan(0);
    expect(sink(retrying, 'es').lastError).toMatch(/503/);
    const failing = await waitForStatus(
      daemon,
      (s) => sink(s, 'es').state === 'failing',
      'the es sink to be failing',
    );
    expect(failing.ready).toBe(true);
    expect(sink(failing, 'es').retried).toBeGreaterThanOrEqual(3);

    const recovered = await waitForStatus(
      daemon,
      (s) => sink(s, 'es').state === 'ok' && sink(s, 'es').lagBytes === 0,
      'recovery',
    );
    expect(sink(recovered, 'es')).toMatchObject({ delivered: 20, retried: 6 });
    expect(fake.documents()).toHaveLength(20);
    const metrics = (await getText(`${daemon.statusUrl}/metrics`)).body;
    expect(metric(metrics, 'audit_forwarder_send_retries_total', 'sink="es"')).toBe(6);
  });
});

async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) =>
    server.close(() => {
      resolve();
    }),
  );
  return typeof address === 'object' && address !== null ? address.port : 0;
}
