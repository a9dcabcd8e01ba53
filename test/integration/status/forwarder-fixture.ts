// A temp directory with an audit log, a state directory and daemons of the real CLI, for the status
// and CLI integration tests. Torn down after each test: daemons killed, directory removed.
import { spawn } from 'node:child_process';
import { appendFile, mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { StatusSnapshot } from '../../../src/status/snapshot.ts';
import { AuditEventGenerator } from '../../../src/simulator/generator.ts';
import { type DaemonHandle, startDaemon, writeConfig } from '../../helpers/daemon.ts';
import { waitFor } from '../../helpers/wait.ts';

const MAIN = new URL('../../../src/main.ts', import.meta.url).pathname;

export interface CliResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

export class ForwarderFixture {
  readonly dir: string;
  readonly auditPath: string;
  readonly stateDir: string;
  readonly outPath: string;
  readonly #daemons: DaemonHandle[] = [];
  readonly #generator = new AuditEventGenerator({ seed: 5 });

  private constructor(dir: string) {
    this.dir = dir;
    this.auditPath = join(dir, 'audit', 'audit.log');
    this.stateDir = join(dir, 'state');
    this.outPath = join(dir, 'out', 'events.jsonl');
  }

  static async create(): Promise<ForwarderFixture> {
    const fixture = new ForwarderFixture(await mkdtemp(join(tmpdir(), 'kaf-status-')));
    await mkdir(join(fixture.dir, 'audit'));
    return fixture;
  }

  /** A config that delivers quickly to a file sink; tests override sinks and knobs. */
  config(overrides: Record<string, unknown> = {}): Record<string, unknown> {
    return {
      cluster: 'status-test',
      node: 'cp-status-1',
      logLevel: 'info',
      source: { path: this.auditPath, pollIntervalMs: 50 },
      state: { dir: this.stateDir },
      checkpoint: { intervalMs: 100 },
      batch: { maxEvents: 500, maxWaitMs: 50 },
      delivery: { retry: { initialBackoffMs: 100, maxBackoffMs: 400 }, shutdownTimeoutMs: 1000 },
      sinks: [{ name: 'local', type: 'file', path: this.outPath }],
      ...overrides,
    };
  }

  async start(config: Record<string, unknown>, env: Record<string, string> = {}): Promise<DaemonHandle> {
    const daemon = await startDaemon(await writeConfig(this.dir, config), env);
    this.#daemons.push(daemon);
    return daemon;
  }

  /** Appends generated audit lines; returns them. */
  async append(count: number, path = this.auditPath): Promise<string[]> {
    const lines = Array.from({ length: count }, () => this.#generator.nextLine());
    await appendFile(path, `${lines.join('\n')}\n`);
    return lines;
  }

  async delivered(): Promise<number> {
    const text = await readFile(this.outPath, 'utf8').catch(() => '');
    return text.split('\n').filter(Boolean).length;
  }

  async waitForDelivered(count: number): Promise<void> {
    await waitFor(async () => (await this.delivered()) >= count, {
      timeoutMs: 30_000,
      what: `${count} events delivered`,
    });
  }

  async cleanup(): Promise<void> {
    await Promise.all(this.#daemons.map((daemon) => daemon.stop('SIGKILL')));
    await rm(this.dir, { recursive: true, force: true });
  }
}

export async function getStatus(daemon: DaemonHandle): Promise<StatusSnapshot> {
  const response = await fetch(`${daemon.statusUrl}/status`);
  return (await response.json()) as StatusSnapshot;
}

export async function getText(url: string): Promise<{ status: number; type: string | null; body: string }> {
  const response = await fetch(url);
  return { status: response.status, type: response.headers.get('content-type'), body: await response.text() };
}

/** Waits until /status satisfies `predicate`; returns that snapshot. */
export async function waitForStatus(
  daemon: DaemonHandle,
  predicate: (status: StatusSnapshot) => boolean,
  what: string,
  timeoutMs = 30_000,
): Promise<StatusSnapshot> {
  let last: StatusSnapshot | undefined;
  await waitFor(
    async () => {
      last = await getStatus(daemon);
      return predicate(last);
    },
    { timeoutMs, what },
  );
  return last as StatusSnapshot;
}

/** The value of one sample in Prometheus text, e.g. metric('x_total', 'sink="es"'). */
export function metric(text: string, name: string, labels = ''): number | undefined {
  const prefix = labels === '' ? `${name} ` : `${name}{${labels}} `;
  const line = text.split('\n').find((candidate) => candidate.startsWith(prefix));
  return line === undefined ? undefined : Number(line.slice(prefix.length));
}

/** Runs the real CLI (`node src/main.ts ...`) to completion. */
export function runCli(args: readonly string[], env: Record<string, string> = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [MAIN, ...args], {
      env: { ...process.env, NO_COLOR: '1', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (text: string) => (stdout += text));
    child.stderr.setEncoding('utf8').on('data', (text: string) => (stderr += text));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`CLI ${args.join(' ')} did not finish in 30 s\n${stdout}\n${stderr}`));
    }, 30_000);
    child.once('error', reject);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}
