import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { readManifest } from '../../../src/simulator/manifest.ts';
import { readAuditFiles, splitLines } from '../../../src/simulator/read-back.ts';

const MAIN = fileURLToPath(new URL('../../../src/simulator/main.ts', import.meta.url));

interface Run {
  readonly child: ChildProcess;
  readonly events: Record<string, unknown>[];
  /** Resolves with the first reported event matching `predicate`. */
  waitForEvent(
    predicate: (event: Record<string, unknown>) => boolean,
    timeoutMs?: number,
  ): Promise<Record<string, unknown>>;
  /** Resolves with the exit code. */
  exited: Promise<number | null>;
  stderr(): string;
}

let dir: string;
const children: ChildProcess[] = [];

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kaf-sim-cli-'));
});

afterEach(async () => {
  for (const child of children.splice(0)) if (child.exitCode === null) child.kill('SIGKILL');
  await rm(dir, { recursive: true, force: true });
});

function run(args: readonly string[]): Run {
  const child = spawn(process.execPath, [MAIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  const events: Record<string, unknown>[] = [];
  const waiters: {
    predicate: (e: Record<string, unknown>) => boolean;
    resolve: (e: Record<string, unknown>) => void;
  }[] = [];
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString('utf8');
  });
  createInterface({ input: child.stdout }).on('line', (line) => {
    const event = JSON.parse(line) as Record<string, unknown>;
    events.push(event);
    for (const waiter of waiters.filter((w) => w.predicate(event))) {
      waiters.splice(waiters.indexOf(waiter), 1);
      waiter.resolve(event);
    }
  });
  const exited = once(child, 'exit').then(([code]) => code as number | null);
  return {
    child,
    events,
    exited,
    stderr: () => stderr,
    waitForEvent: (predicate, timeoutMs = 10_000) => {
      const seen = events.find(predicate);
      if (seen !== undefined) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          reject(new Error(`No matching event in ${timeoutMs} ms: ${stderr}`));
        }, timeoutMs);
        waiters.push({
          predicate,
          resolve: (event) => {
            clearTimeout(timer);
            resolve(event);
          },
        });
      });
    },
  };
}

/** auditID/stage of every line on disk, backups oldest first, then the active file. */
async function keysOnDisk(path: string): Promise<string[]> {
  const keys: string[] = [];
  for (const file of await readAuditFiles(path)) {
    const { lines, partial } = splitLines(file.data);
    expect(partial).toBe('');
    for (const line of lines) {
      const event = JSON.parse(line) as { auditID: string; stage: string };
      keys.push(`${event.auditID}/${event.stage}`);
    }
  }
  return keys;
}

describe('simulator CLI', () => {
  it('writes --count events, rotating, compressing and pruning, and reports it all as JSON lines', async () => {
    const path = join(dir, 'audit', 'audit.log');
    const manifestPath = join(dir, 'manifest.jsonl');

    const sim = run([
      '--path',
      path,
      '--rate',
      'max',
      '--count',
      '3000',
      '--max-size-bytes',
      '300000',
      '--compress',
      '--max-backups',
      '3',
      '--seed',
      '5',
      '--manifest',
      manifestPath,
    ]);

    expect(await sim.exited).toBe(0);
    const manifest = await readManifest(manifestPath);
    const finished = sim.events.find((e) => e['event'] === 'finished');
    expect(sim.events[0]).toMatchObject({ event: 'started', seed: 5, path });
    expect(finished).toMatchObject({ linesWritten: 3000 });
    expect(manifest.lines).toHaveLength(3000);
    expect(sim.events.filter((e) => e['event'] === 'rotate')).toHaveLength(manifest.backups.size);
    const kept = [...manifest.backups].filter(
      ([, p]) => !manifest.removed.has(p) && !manifest.removed.has(`${p}.gz`),
    );
    expect(kept).toHaveLength(3);
    const files = new Set([...kept.map(([file]) => file), manifest.backups.size]);
    expect(await keysOnDisk(path)).toEqual(
      manifest.lines.filter((l) => files.has(l.file)).map((l) => `${l.auditID}/${l.stage}`),
    );
  });

  it('stops on SIGTERM with every written line in the manifest', async () => {
    const path = join(dir, 'audit.log');
    const manifestPath = join(dir, 'manifest.jsonl');
    const sim = run([
      '--path',
      path,
      '--rate',
      '20000',
      '--max-size-bytes',
      '100000',
      '--manifest',
      manifestPath,
    ]);
    await sim.waitForEvent((e) => e['event'] === 'rotate' && e['file'] === 2);

    sim.child.kill('SIGTERM');

    expect(await sim.exited).toBe(0);
    const manifest = await readManifest(manifestPath);
    expect(manifest.lines.length).toBeGreaterThan(0);
    expect(await keysOnDisk(path)).toEqual(manifest.lines.map((l) => `${l.auditID}/${l.stage}`));
  });

  it('produces the same lines for the same seed and start time', async () => {
    const args = (name: string): string[] => [
      '--path',
      join(dir, name, 'audit.log'),
      '--rate',
      'max',
      '--count',
      '500',
      '--seed',
      '9',
      '--start-time',
      '2024-05-06T07:08:09Z',
    ];

    const [a, b] = [run(args('a')), run(args('b'))];
    expect([await a.exited, await b.exited]).toEqual([0, 0]);

    expect(await keysOnDisk(join(dir, 'b', 'audit.log'))).toEqual(
      await keysOnDisk(join(dir, 'a', 'audit.log')),
    );
  });

  it('rejects bad arguments with exit code 2, listing every problem', async () => {
    const sim = run(['--rate', 'fast', '--max-backups=-1']);

    expect(await sim.exited).toBe(2);
    expect(sim.stderr()).toContain('--path is required');
    expect(sim.stderr()).toContain('--rate');
    expect(sim.stderr()).toContain('--max-backups');
  });
});
