// `k8s-audit-forwarder status` against a real daemon: summary, JSON, exit codes 0/1/2.
import { createServer } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { StatusSnapshot } from '../../../src/status/snapshot.ts';
import { ForwarderFixture, getStatus, runCli, waitForStatus } from '../status/forwarder-fixture.ts';

let fixture: ForwarderFixture;

beforeEach(async () => {
  fixture = await ForwarderFixture.create();
});

afterEach(async () => {
  await fixture.cleanup();
});

describe('the status command', () => {
  it('prints a compact summary of a healthy daemon and exits 0', async () => {
    await fixture.append(100);
    const daemon = await fixture.start(fixture.config());
    await fixture.waitForDelivered(100);
    await waitForStatus(daemon, (s) => s.sinks[0]?.lagBytes === 0, 'caught up');

    const result = await runCli(['status', '--url', daemon.statusUrl]);

    expect(result.code).toBe(0);
    const lines = result.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(
      /^k8s-audit-forwarder \S+ · cluster status-test · node cp-status-1 · up \S+ · ready$/,
    );
    expect(result.stdout).toMatch(/\nlocal +file +ok +0 +0 +100 +0 +0 +\S+ ago\n/);
    expect(result.stdout).toContain(`${fixture.auditPath}  active`);
    expect(result.stdout).toContain('caught up');
    expect(lines.at(-1)).toBe('OK');
    expect(result.stdout).not.toContain('\u001b[');
  });

  it('prints the /status document with --json, and accepts the /status URL itself', async () => {
    const daemon = await fixture.start(fixture.config());
    await waitForStatus(daemon, (s) => s.ready, 'ready');

    const result = await runCli(['status', '--url', `${daemon.statusUrl}/status`, '--json']);

    expect(result.code).toBe(0);
    const printed = JSON.parse(result.stdout) as StatusSnapshot;
    const direct = await getStatus(daemon);
    expect(Object.keys(printed)).toEqual(Object.keys(direct));
    expect(printed.sinks.map((sink) => sink.name)).toEqual(['local']);
  });

  it('exits 1 and says why when a sink is failing', async () => {
    await fixture.append(5);
    const daemon = await fixture.start(
      fixture.config({
        sinks: [{ name: 'disk', type: 'file', path: '/dev/full' }],
        delivery: { retry: { initialBackoffMs: 50, maxBackoffMs: 100 }, shutdownTimeoutMs: 300 },
      }),
    );
    await waitForStatus(daemon, (s) => s.sinks[0]?.state === 'failing', 'failing');

    const result = await runCli(['status', '--url', daemon.statusUrl]);

    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(/\ndisk +file +failing +[\d.]+ \S*B \/ \S+ +\d+ batch(es)?, /);
    expect(result.stdout).toContain('  └ failing since');
    expect(result.stdout.trimEnd().split('\n').at(-1)).toMatch(
      /^PROBLEM: sink disk is failing: cannot write \/dev\/full: ENOSPC/,
    );
  });

  it('exits 2 when nothing answers, naming the address', async () => {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const address = server.address();
    const port = typeof address === 'object' && address !== null ? address.port : 0;
    await new Promise<void>((resolve) =>
      server.close(() => {
        resolve();
      }),
    );

    const result = await runCli(['status', '--url', `http://127.0.0.1:${port}`]);

    expect(result.code).toBe(2);
    expect(result.stderr).toContain(`cannot read http://127.0.0.1:${port}/status: connect ECONNREFUSED`);
    expect(result.stdout).toBe('');
  });
});
