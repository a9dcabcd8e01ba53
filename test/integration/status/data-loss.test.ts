// Data loss end to end: a rotated backup that a sink had not read is deleted while the forwarder
// is down. The loss must show in /status, /metrics, the status CLI's exit code and `checkpoint
// show`, survive a restart, and go away only when an operator clears it.
import { readFile, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ForwarderFixture, getText, metric, runCli, waitForStatus } from './forwarder-fixture.ts';

let fixture: ForwarderFixture;

beforeEach(async () => {
  fixture = await ForwarderFixture.create();
});

afterEach(async () => {
  await fixture.cleanup();
});

describe('data loss', () => {
  it('a backup deleted before it was read appears in /status, /metrics, the CLI exit code and the checkpoint', async () => {
    const backupPath = join(fixture.dir, 'audit', 'audit-2026-01-01T00-00-00.000.log');
    await fixture.append(40);
    const lostBytes = (await stat(fixture.auditPath)).size;
    // 1. The sink cannot write (/dev/full), so nothing of audit.log is acknowledged; the API server rotates.
    const failingSink = fixture.config({
      sinks: [{ name: 'local', type: 'file', path: '/dev/full' }],
      delivery: { retry: { initialBackoffMs: 100, maxBackoffMs: 200 }, shutdownTimeoutMs: 300 },
    });
    const first = await fixture.start(failingSink);
    await waitForStatus(
      first,
      (s) => s.files.length === 1 && ['retrying', 'failing'].includes(s.sinks[0]?.state ?? ''),
      'the sink to fail',
    );
    await rename(fixture.auditPath, backupPath);
    const newLines = await fixture.append(5);
    const rotated = await waitForStatus(
      first,
      (s) =>
        s.files.some((file) => file.path === backupPath && file.state === 'rotated') &&
        !s.checkpoint.pendingChanges,
      'the rotation to be checkpointed',
    );
    const backupKey = rotated.files.find((file) => file.path === backupPath)?.key;
    await first.stop();

    // 2. While the forwarder is down, the API server's maxbackup deletes the unread backup.
    await rm(backupPath);
    const daemon = await fixture.start(fixture.config());
    await fixture.waitForDelivered(newLines.length);
    // Delivered events are acknowledged just after the file sink wrote them: wait for both.
    const status = await waitForStatus(
      daemon,
      (s) => s.dataLoss.length === 1 && s.sinks[0]?.lagBytes === 0,
      'the data-loss record, with the sink caught up',
    );

    expect(status.dataLoss).toEqual([
      {
        path: backupPath,
        key: backupKey,
        dev: expect.any(Number) as number,
        ino: expect.any(Number) as number,
        unreadBytes: lostBytes,
        unreadBytesBySink: { local: lostBytes },
        unreadBytesIsLowerBound: false,
        detectedAt: expect.any(String) as string,
        reason: 'deleted-before-read',
      },
    ]);
    expect(Date.parse(status.dataLoss[0]?.detectedAt ?? '')).not.toBeNaN();
    // Lost bytes are loss, not lag: the sink is caught up with what still exists.
    expect(status.sinks[0]).toMatchObject({ state: 'ok', lagBytes: 0 });
    expect(status.ready).toBe(true);

    const metrics = (await getText(`${daemon.statusUrl}/metrics`)).body;
    expect(metric(metrics, 'audit_forwarder_data_loss_bytes_total')).toBe(lostBytes);
    expect(metric(metrics, 'audit_forwarder_data_loss_files_total')).toBe(1);
    expect(metric(metrics, 'audit_forwarder_data_loss_records')).toBe(1);
    expect(metrics).not.toContain(backupPath);

    const cli = await runCli(['status', '--url', daemon.statusUrl]);
    expect(cli.code).toBe(1);
    expect(cli.stdout).toContain('DATA LOSS: 1 file removed before every sink read it');
    expect(cli.stdout).toContain(`${backupPath}: `);
    expect(cli.stdout).toContain('deleted-before-read');
    const lossLog = daemon.logs.find(
      (entry) => entry.msg === 'Audit events lost: a file was removed before every sink read it.',
    );
    expect(lossLog).toMatchObject({ level: 'error', path: backupPath, unreadBytes: lostBytes });
    expect(await daemon.stop()).toBe(0);

    // 3. Offline, the checkpoint shows it; after a restart it is still reported; clearing it ends that.
    const shown = await runCli(['checkpoint', 'show', '--state-dir', fixture.stateDir]);
    expect(shown.code).toBe(0);
    expect(shown.stdout).toContain('DATA LOSS: 1 record');
    expect(shown.stdout).toContain(
      `${backupPath} (${backupKey ?? ''}): ${lostBytes.toLocaleString('en-US')} bytes unread`,
    );
    const restarted = await fixture.start(fixture.config());
    // Records come from the checkpoint, so they are known once it is open (readiness says so).
    expect((await waitForStatus(restarted, (s) => s.ready, 'ready after restart')).dataLoss).toHaveLength(1);
    expect((await runCli(['status', '--url', restarted.statusUrl])).code).toBe(1);
    expect(await restarted.stop()).toBe(0);

    const cleared = await runCli(['checkpoint', 'clear-data-loss', '--state-dir', fixture.stateDir, '--yes']);
    expect(cleared.code).toBe(0);
    const checkpoint = JSON.parse(await readFile(join(fixture.stateDir, 'checkpoint.json'), 'utf8')) as {
      dataLoss: unknown[];
    };
    expect(checkpoint.dataLoss).toEqual([]);
    const afterClear = await fixture.start(fixture.config());
    await waitForStatus(afterClear, (s) => s.ready, 'ready');
    const healthy = await runCli(['status', '--url', afterClear.statusUrl]);
    expect(healthy.code).toBe(0);
    expect(healthy.stdout).not.toContain('DATA LOSS');
  });
});
