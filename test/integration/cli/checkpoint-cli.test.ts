// `k8s-audit-forwarder checkpoint` with real daemons: show what was persisted, refuse to change a
// checkpoint a running daemon holds, rewind a sink so the daemon sends again, and repair a corrupt
// checkpoint so that a daemon waiting on it starts.
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { waitFor } from '../../helpers/wait.ts';
import { ForwarderFixture, getText, runCli, waitForStatus } from '../status/forwarder-fixture.ts';

let fixture: ForwarderFixture;

beforeEach(async () => {
  fixture = await ForwarderFixture.create();
});

afterEach(async () => {
  await fixture.cleanup();
});

describe('the checkpoint command', () => {
  it('shows the persisted offsets, refuses a reset while the daemon runs, and rewinds a sink once it stopped', async () => {
    await fixture.append(60);
    const daemon = await fixture.start(fixture.config());
    await fixture.waitForDelivered(60);
    const status = await waitForStatus(
      daemon,
      (s) => s.sinks[0]?.lagBytes === 0 && !s.checkpoint.pendingChanges,
      'saved',
    );
    const size = status.files[0]?.size ?? -1;

    const whileRunning = await runCli([
      'checkpoint',
      'reset',
      '--state-dir',
      fixture.stateDir,
      '--file',
      fixture.auditPath,
      '--to',
      'beginning',
      '--yes',
      '--url',
      daemon.statusUrl,
    ]);
    expect(whileRunning.code).toBe(1);
    expect(whileRunning.stderr).toContain('Refusing: a running forwarder uses this state directory');
    expect(await daemon.stop()).toBe(0);

    const shown = await runCli(['checkpoint', 'show', '--state-dir', fixture.stateDir]);
    expect(shown.code).toBe(0);
    expect(shown.stdout).toContain(fixture.auditPath);
    expect(shown.stdout).toMatch(new RegExp(`\\n  local +${size} +caught up\\n`));
    const json = JSON.parse(
      (await runCli(['checkpoint', 'show', '--state-dir', fixture.stateDir, '--json'])).stdout,
    ) as {
      files: { offsets: Record<string, number> }[];
    };
    expect(json.files[0]?.offsets).toEqual({ local: size });

    const withoutYes = await runCli([
      'checkpoint',
      'reset',
      '--state-dir',
      fixture.stateDir,
      '--file',
      fixture.auditPath,
      '--to',
      'beginning',
    ]);
    expect(withoutYes.code).toBe(1);
    expect(withoutYes.stdout).toContain(`local: ${size} → 0`);
    expect(withoutYes.stderr).toContain('Nothing was changed: add --yes to apply this.');

    const applied = await runCli([
      'checkpoint',
      'reset',
      '--state-dir',
      fixture.stateDir,
      '--file',
      fixture.auditPath,
      '--to',
      'beginning',
      '--yes',
    ]);
    expect(applied.code).toBe(0);
    const restarted = await fixture.start(fixture.config());
    await fixture.waitForDelivered(120);
    await waitForStatus(restarted, (s) => s.sinks[0]?.lagBytes === 0, 'caught up again');
    expect(await fixture.delivered()).toBe(120);
  });

  it('repairs a corrupt checkpoint: the waiting daemon becomes ready and reads every file from the beginning', async () => {
    await fixture.append(30);
    const daemon = await fixture.start(fixture.config());
    await fixture.waitForDelivered(30);
    expect(await daemon.stop()).toBe(0);
    await writeFile(join(fixture.stateDir, 'checkpoint.json'), '{"version":1,"files":[{"key":');

    const waiting = await fixture.start(fixture.config());
    const broken = await waitForStatus(
      waiting,
      (s) => s.checkpoint.error !== undefined,
      'the checkpoint error',
    );
    expect(broken.ready).toBe(false);
    expect(broken.notReadyReasons[0]).toMatch(/^checkpoint: .*corrupt/);
    const readyz = await getText(`${waiting.statusUrl}/readyz`);
    expect(readyz.status).toBe(503);
    expect(readyz.body).toMatch(/\[-\]checkpoint failed: .*corrupt/);
    const probe = await runCli(['status', '--url', waiting.statusUrl]);
    expect(probe.code).toBe(1);
    expect(probe.stdout).toContain('the checkpoint cannot be used');
    const shown = await runCli(['checkpoint', 'show', '--state-dir', fixture.stateDir]);
    expect(shown.code).toBe(1);
    expect(shown.stderr).toContain('--all --to beginning --yes');

    // The daemon has not opened the checkpoint (it retries), so it holds nothing it could write back.
    const repaired = await runCli([
      'checkpoint',
      'reset',
      '--state-dir',
      fixture.stateDir,
      '--all',
      '--to',
      'beginning',
      '--yes',
      '--url',
      waiting.statusUrl,
    ]);
    expect(repaired.code).toBe(0);
    expect(repaired.stderr).toContain('could not open');
    expect(repaired.stdout).toContain('The corrupt checkpoint is kept as');
    expect(
      (await readdir(fixture.stateDir)).some((name) => name.startsWith('checkpoint.json.corrupt-')),
    ).toBe(true);

    await waitForStatus(waiting, (s) => s.ready, 'ready after the repair', 60_000);
    await fixture.waitForDelivered(60);
    await waitForStatus(waiting, (s) => s.sinks[0]?.lagBytes === 0, 'caught up');
    expect(await fixture.delivered()).toBe(60);
    // The daemon found the file again as new and wrote it into the repaired checkpoint.
    await waitFor(
      async () => {
        const text = await readFile(join(fixture.stateDir, 'checkpoint.json'), 'utf8');
        return (JSON.parse(text) as { files: unknown[] }).files.length === 1;
      },
      { what: 'the file in the repaired checkpoint' },
    );
  });
});
