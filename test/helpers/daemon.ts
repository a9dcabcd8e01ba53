// Runs the real forwarder CLI in a child process (the way it runs in production) for end-to-end
// tests: writes its config, finds its status address in the logs, and stops it with a signal.
import { type ChildProcess, spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { KEY_END, KEY_START, MEMBER_FIELDS, ObjectScan } from '../../src/pipeline/json-scan.ts';
import { BUILT_MAIN, shippedMallocEnv, shippedNodeFlags } from './shipped-node.ts';
import { waitFor } from './wait.ts';

const MAIN = new URL('../../src/main.ts', import.meta.url).pathname;

export interface DaemonHandle {
  readonly child: ChildProcess;
  readonly statusUrl: string;
  /** Parsed JSON log lines so far. */
  readonly logs: Record<string, unknown>[];
  readonly stderr: () => string;
  /**
   * Sends the signal and resolves with the exit code (or the signal name when killed); rejects if a log
   * line had a key twice (pino writes child bindings and call fields side by side; parsers keep one).
   */
  stop(signal?: NodeJS.Signals): Promise<number | string>;
  readonly exited: Promise<number | string>;
}

export async function writeConfig(dir: string, config: Record<string, unknown>): Promise<string> {
  const path = join(dir, 'forwarder.yaml');
  await writeFile(path, stringify(config));
  return path;
}

/**
 * `built`: run dist/main.js with the image's Node flags and malloc tuning, as the image does (for memory
 * measurements); otherwise the TypeScript sources.
 */
export async function startDaemon(
  configPath: string,
  env: Record<string, string> = {},
  options: { readonly built?: boolean } = {},
): Promise<DaemonHandle> {
  const entry = options.built === true ? [...shippedNodeFlags(), BUILT_MAIN] : [MAIN];
  const child = spawn(
    process.execPath,
    [...entry, 'run', '--config', configPath, '--status-listen', '127.0.0.1:0'],
    {
      env: { ...process.env, ...(options.built === true ? shippedMallocEnv() : {}), ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  const logs: Record<string, unknown>[] = [];
  const linesWithRepeatedKeys: string[] = [];
  const scan = new ObjectScan();
  let stderr = '';
  let pending = '';
  child.stdout.setEncoding('utf8').on('data', (text: string) => {
    pending += text;
    let newline = pending.indexOf('\n');
    while (newline !== -1) {
      const line = pending.slice(0, newline);
      pending = pending.slice(newline + 1);
      try {
        logs.push(JSON.parse(line) as Record<string, unknown>);
        if (repeatsAKey(scan, line)) linesWithRepeatedKeys.push(line);
      } catch {
        logs.push({ msg: line, unparsed: true });
      }
      newline = pending.indexOf('\n');
    }
  });
  child.stderr.setEncoding('utf8').on('data', (text: string) => {
    stderr += text;
  });
  const exited = new Promise<number | string>((resolve) => {
    child.once('exit', (code, signal) => {
      resolve(code ?? signal ?? 'unknown');
    });
  });
  let statusUrl = '';
  let exitedEarly = false;
  void exited.then(() => {
    exitedEarly = true;
  });
  await waitFor(
    () => {
      if (exitedEarly) throw new Error(`daemon exited early: ${stderr}\n${JSON.stringify(logs)}`);
      const started = logs.find((entry) => entry.msg === 'Forwarder started.');
      if (typeof started?.status === 'string') statusUrl = started.status.replace(/\/status$/, '');
      return statusUrl !== '';
    },
    { timeoutMs: 20_000, what: 'the daemon to start' },
  );
  return {
    child,
    statusUrl,
    logs,
    stderr: () => stderr,
    exited,
    stop: async (signal: NodeJS.Signals = 'SIGTERM') => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      const result = await exited;
      if (linesWithRepeatedKeys.length > 0) {
        throw new Error(`log lines with a key twice:\n${linesWithRepeatedKeys.slice(0, 5).join('\n')}`);
      }
      return result;
    },
  };
}

/** Whether the JSON object `line` has a top-level key twice. */
function repeatsAKey(scan: ObjectScan, line: string): boolean {
  const bytes = Buffer.from(line);
  if (!scan.scan(bytes)) return false;
  const keys = new Set<string>();
  const { values, length } = scan.members;
  for (let member = 0; member < length; member += MEMBER_FIELDS) {
    const key = bytes.toString('latin1', values[member + KEY_START], values[member + KEY_END]);
    if (keys.has(key)) return true;
    keys.add(key);
  }
  return false;
}

export async function fetchJson<T = Record<string, unknown>>(url: string): Promise<T> {
  const response = await fetch(url);
  return (await response.json()) as T;
}
