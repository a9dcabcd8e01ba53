import { mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runCheckpointCommand } from '../../../src/cli/checkpoint-command.ts';
import { captureIo, fakeFetch, refusedFetch } from './cli-fakes.ts';

let dir: string;
let stateDir: string;
let auditPath: string;
const NOW = new Date('2026-03-01T12:00:00.000Z');
const LINE = '{"kind":"Event","auditID":"xy"}\n';

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kaf-cli-checkpoint-'));
  stateDir = join(dir, 'state');
  auditPath = join(dir, 'audit.log');
  await writeFile(auditPath, LINE.repeat(10));
});

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function writeCheckpoint(offsets: Record<string, number>, dataLoss: unknown[] = []): Promise<void> {
  const { mkdir, stat } = await import('node:fs/promises');
  await mkdir(stateDir, { recursive: true });
  const stats = await stat(auditPath);
  const document = {
    version: 1,
    writtenAt: '2026-03-01T11:00:00.000Z',
    files: [
      {
        key: `${stats.dev}:${stats.ino}:abcdef`,
        path: auditPath,
        dev: stats.dev,
        ino: stats.ino,
        fingerprint: 'f'.repeat(64),
        fingerprintBytes: 64,
        size: stats.size,
        state: 'active',
        offsets,
      },
    ],
    dataLoss,
  };
  await writeFile(join(stateDir, 'checkpoint.json'), `${JSON.stringify(document)}\n`);
}

async function readDocument(): Promise<{
  files: { offsets: Record<string, number>; state: string }[];
  dataLoss: unknown[];
}> {
  return JSON.parse(await readFile(join(stateDir, 'checkpoint.json'), 'utf8')) as never;
}

function run(args: string[], fetchImpl: typeof fetch = refusedFetch, procDir?: string) {
  const io = captureIo();
  return runCheckpointCommand(args, io, {
    fetch: fetchImpl,
    now: () => NOW,
    ...(procDir !== undefined && { procDir }),
    selfPid: 1,
  }).then((code) => ({ code, io }));
}

/** A fake /proc with one forwarder daemon process, started from `cwd` with a relative --config. */
async function fakeProc(configStateDir: string | undefined): Promise<string> {
  const proc = join(dir, 'proc');
  const cwd = join(dir, 'daemon-cwd');
  await mkdir(join(proc, '4242'), { recursive: true });
  await mkdir(cwd, { recursive: true });
  await writeFile(
    join(cwd, 'forwarder.yaml'),
    // An unresolved ${VAR} makes the state directory unknown to the probe.
    `state:\n  dir: ${configStateDir ?? '$' + '{STATE_DIR}'}\n`,
  );
  await writeFile(
    join(proc, '4242', 'cmdline'),
    ['node', '/opt/kaf/dist/main.js', 'run', '--config', 'forwarder.yaml', ''].join('\0'),
  );
  await symlink(cwd, join(proc, '4242', 'cwd'));
  await mkdir(join(proc, '77'), { recursive: true });
  await writeFile(join(proc, '77', 'cmdline'), ['bash', '-c', 'run things', ''].join('\0'));
  return proc;
}

describe('checkpoint show', () => {
  it("prints every file with each sink's offset and how far behind it is", async () => {
    await writeCheckpoint({ es: 96, local: 320 });

    const { code, io } = await run(['show', '--state-dir', stateDir]);

    expect(code).toBe(0);
    expect(io.out()).toContain(
      `checkpoint ${join(stateDir, 'checkpoint.json')} · written 2026-03-01T11:00:00.000Z (1h00m ago) · 1 file`,
    );
    expect(io.out()).toContain(auditPath);
    expect(io.out()).toContain('\n  es     96      224 B behind\n  local  320     caught up\n');
  });

  it('prints the document as JSON with --json', async () => {
    await writeCheckpoint({ es: 0 });

    const { code, io } = await run(['show', '--state-dir', stateDir, '--json']);

    expect(code).toBe(0);
    expect(JSON.parse(io.out())).toMatchObject({
      version: 1,
      files: [{ path: auditPath, offsets: { es: 0 } }],
    });
  });

  it('shows data-loss records', async () => {
    await writeCheckpoint({ es: 320 }, [
      {
        path: '/a/audit-x.log',
        key: 'k',
        unreadBytes: 1000,
        detectedAt: '2026-03-01T11:30:00.000Z',
        reason: 'deleted-before-read',
      },
    ]);

    const { io } = await run(['show', '--state-dir', stateDir]);

    expect(io.out()).toContain('DATA LOSS: 1 record');
    expect(io.out()).toContain('/a/audit-x.log (k): 1,000 bytes unread · deleted-before-read');
  });

  it('says when there is no checkpoint, and how to recover a corrupt one', async () => {
    const missing = await run(['show', '--state-dir', stateDir]);
    await writeCheckpoint({ es: 0 });
    await writeFile(join(stateDir, 'checkpoint.json'), '{"version":1,"files":[');
    const corrupt = await run(['show', '--state-dir', stateDir]);

    expect(missing.code).toBe(1);
    expect(missing.io.err()).toContain('No checkpoint at');
    expect(corrupt.code).toBe(1);
    expect(corrupt.io.err()).toContain('is corrupt: not valid JSON');
    expect(corrupt.io.err()).toContain(`checkpoint reset --state-dir ${stateDir} --all --to beginning --yes`);
  });

  it('needs --state-dir and a known subcommand', async () => {
    expect((await run(['show'])).code).toBe(2);
    expect((await run(['frobnicate', '--state-dir', stateDir])).code).toBe(2);
  });
});

describe('checkpoint reset', () => {
  it('prints the plan and changes nothing without --yes', async () => {
    await writeCheckpoint({ es: 320, local: 320 });
    const before = await readFile(join(stateDir, 'checkpoint.json'), 'utf8');

    const { code, io } = await run([
      'reset',
      '--state-dir',
      stateDir,
      '--file',
      auditPath,
      '--to',
      'beginning',
    ]);

    expect(code).toBe(1);
    expect(io.out()).toContain('es: 320 → 0: 320 B will be sent again');
    expect(io.err()).toContain('Nothing was changed: add --yes to apply this.');
    expect(await readFile(join(stateDir, 'checkpoint.json'), 'utf8')).toBe(before);
  });

  it('writes the new offsets with --yes and keeps the previous checkpoint', async () => {
    await writeCheckpoint({ es: 320, local: 320 });

    const { code, io } = await run([
      'reset',
      '--state-dir',
      stateDir,
      '--file',
      auditPath,
      '--to',
      '64',
      '--sink',
      'es',
      '--yes',
    ]);

    expect(code).toBe(0);
    expect((await readDocument()).files[0]?.offsets).toEqual({ es: 64, local: 320 });
    const kept = (await readdir(stateDir)).filter((name) => name.startsWith('checkpoint.json.before-reset-'));
    expect(kept).toEqual(['checkpoint.json.before-reset-2026-03-01T12-00-00.000Z']);
    expect(io.out()).toContain('Done. The previous checkpoint is kept as');
  });

  it('refuses an offset that is not a line start, naming the next one', async () => {
    await writeCheckpoint({ es: 320 });

    const { code, io } = await run([
      'reset',
      '--state-dir',
      stateDir,
      '--file',
      auditPath,
      '--to',
      '40',
      '--yes',
    ]);

    expect(code).toBe(1);
    expect(io.err()).toContain('offset 40 is inside a line');
    expect(io.err()).toContain('use --to 64');
  });

  it('refuses while a forwarder using this state directory answers on its status address', async () => {
    await writeCheckpoint({ es: 320 });
    const daemon = fakeFetch({ version: '0.1.0', checkpoint: { path: join(stateDir, 'checkpoint.json') } });

    const refused = await run(
      ['reset', '--state-dir', stateDir, '--all', '--to', 'beginning', '--yes'],
      daemon,
    );
    const forced = await run(
      ['reset', '--state-dir', stateDir, '--all', '--to', 'beginning', '--yes', '--force'],
      daemon,
    );

    expect(refused.code).toBe(1);
    expect(refused.io.err()).toContain('Refusing: a running forwarder uses this state directory');
    expect(refused.io.err()).toContain('would overwrite this change at its next save');
    expect(forced.code).toBe(0);
    expect(forced.io.err()).toContain('--force given');
    expect((await readDocument()).files[0]?.offsets).toEqual({ es: 0 });
  });

  it('refuses when a forwarder process is found whose config uses this state directory', async () => {
    await writeCheckpoint({ es: 320 });

    const same = await run(
      ['reset', '--state-dir', stateDir, '--all', '--to', 'beginning', '--yes'],
      refusedFetch,
      await fakeProc(stateDir),
    );

    expect(same.code).toBe(1);
    expect(same.io.err()).toContain(
      'process 4242 (node /opt/kaf/dist/main.js run --config forwarder.yaml) uses this state directory',
    );
  });

  it('only warns about a forwarder process whose state directory is another one, or unknown', async () => {
    await writeCheckpoint({ es: 320 });

    const other = await run(
      ['reset', '--state-dir', stateDir, '--all', '--to', 'beginning', '--yes'],
      refusedFetch,
      await fakeProc('/elsewhere'),
    );
    await rm(join(dir, 'proc'), { recursive: true });
    const unknown = await run(
      ['reset', '--state-dir', stateDir, '--all', '--to', 'end', '--yes'],
      refusedFetch,
      await fakeProc(undefined),
    );

    expect(other.code).toBe(0);
    expect(other.io.err()).toBe('');
    expect(unknown.code).toBe(0);
    expect(unknown.io.err()).toContain('warning: process 4242');
    expect(unknown.io.err()).toContain('state directory could not be determined');
  });

  it('ignores a forwarder that uses another state directory', async () => {
    await writeCheckpoint({ es: 320 });
    const other = fakeFetch({ version: '0.1.0', checkpoint: { path: '/elsewhere/checkpoint.json' } });

    const { code } = await run(
      ['reset', '--state-dir', stateDir, '--all', '--to', 'beginning', '--yes'],
      other,
    );

    expect(code).toBe(0);
  });

  it('sets a corrupt checkpoint aside and starts every file from the beginning', async () => {
    await writeCheckpoint({ es: 0 });
    await writeFile(join(stateDir, 'checkpoint.json'), 'garbage');

    const byFile = await run([
      'reset',
      '--state-dir',
      stateDir,
      '--file',
      auditPath,
      '--to',
      'beginning',
      '--yes',
    ]);
    const whole = await run(['reset', '--state-dir', stateDir, '--all', '--to', 'beginning', '--yes']);

    expect(byFile.code).toBe(1);
    expect(byFile.io.err()).toContain('its entries cannot be changed one by one');
    expect(whole.code).toBe(0);
    expect(await readDocument()).toMatchObject({ files: [], dataLoss: [] });
    const names = await readdir(stateDir);
    expect(names).toContain('checkpoint.json.corrupt-2026-03-01T12-00-00.000Z');
    expect(await readFile(join(stateDir, 'checkpoint.json.corrupt-2026-03-01T12-00-00.000Z'), 'utf8')).toBe(
      'garbage',
    );
  });

  it('starts every file at its end after a corrupt checkpoint when given the source and the sinks', async () => {
    await writeCheckpoint({ es: 0 });
    await writeFile(join(stateDir, 'checkpoint.json'), '');
    await writeFile(join(dir, 'audit-2026-02-01T00-00-00.000.log'), LINE.repeat(3));
    await writeFile(auditPath, LINE.repeat(10) + '{"partial');

    const withoutSource = await run(['reset', '--state-dir', stateDir, '--all', '--to', 'end', '--yes']);
    const { code } = await run([
      'reset',
      '--state-dir',
      stateDir,
      '--all',
      '--to',
      'end',
      '--source',
      auditPath,
      '--sink',
      'es',
      '--sink',
      'local',
      '--yes',
    ]);

    expect(withoutSource.code).toBe(1);
    expect(withoutSource.io.err()).toContain('also give --source');
    expect(code).toBe(0);
    const files = (await readDocument()).files as {
      path: string;
      state: string;
      offsets: Record<string, number>;
    }[];
    expect(files.map((file) => [file.path, file.state, file.offsets])).toEqual([
      [join(dir, 'audit-2026-02-01T00-00-00.000.log'), 'finished', { es: 96, local: 96 }],
      [auditPath, 'active', { es: 320, local: 320 }],
    ]);
  });
});

describe('checkpoint clear-data-loss', () => {
  it('forgets data-loss records with --yes', async () => {
    await writeCheckpoint({ es: 320 }, [
      {
        path: '/a/audit-x.log',
        key: 'k',
        unreadBytes: 1000,
        detectedAt: '2026-03-01T11:30:00.000Z',
        reason: 'deleted-before-read',
      },
    ]);

    const dryRun = await run(['clear-data-loss', '--state-dir', stateDir]);
    const applied = await run(['clear-data-loss', '--state-dir', stateDir, '--yes']);

    expect(dryRun.code).toBe(1);
    expect(dryRun.io.out()).toContain('1 data-loss record will be forgotten');
    expect(applied.code).toBe(0);
    expect((await readDocument()).dataLoss).toEqual([]);
    expect((await readDocument()).files[0]?.offsets).toEqual({ es: 320 });
  });
});
