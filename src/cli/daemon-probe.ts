// Finds a forwarder daemon that uses a given state directory, before an offline command changes
// its checkpoint: the daemon keeps the checkpoint in memory and would overwrite the change at its
// next save. Two looks: its status endpoint, and (Linux) the processes' command lines and configs.
import { readdir, readFile, readlink } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { parse } from 'yaml';
import { checkpointPath } from './checkpoint-file.ts';
import { statusUrl } from './status-command.ts';

/** The schema's default state.dir, for a config that does not set it. */
const DEFAULT_STATE_DIR = '/var/lib/k8s-audit-forwarder';

/** A forwarder seen running, and how sure we are that it uses this state directory. */
export interface DaemonSighting {
  /** True when it certainly uses this state directory; false when it may (its config could not be read). */
  readonly usesStateDir: boolean;
  /**
   * False only when the daemon says it could not open the checkpoint (corrupt, unwritable directory):
   * it then holds nothing that it could write back, and retries opening, so it picks up a repaired file.
   */
  readonly holdsCheckpoint: boolean;
  readonly description: string;
}

/** Where to look for a running forwarder. */
export interface ProbeOptions {
  readonly statusUrl: string;
  readonly fetch?: typeof fetch;
  /** Where to look for processes; undefined skips the process scan. */
  readonly procDir?: string;
  /** This process, which is never the daemon. */
  readonly selfPid: number;
  readonly timeoutMs?: number;
}

/** Forwarders that may be using `stateDir`: the one answering at the status URL, else running processes. */
export async function findDaemons(stateDir: string, options: ProbeOptions): Promise<DaemonSighting[]> {
  // A daemon that answers is asked directly; the process scan is for one that does not (other address).
  const byStatus = await probeStatus(stateDir, options);
  if (byStatus) return [byStatus];
  return options.procDir === undefined ? [] : scanProcesses(stateDir, options.procDir, options.selfPid);
}

async function probeStatus(stateDir: string, options: ProbeOptions): Promise<DaemonSighting | undefined> {
  let url: URL;
  try {
    url = statusUrl(options.statusUrl);
  } catch {
    return undefined;
  }
  try {
    const response = await (options.fetch ?? fetch)(url, {
      signal: AbortSignal.timeout(options.timeoutMs ?? 1000),
    });
    if (!response.ok) return undefined;
    const document = (await response.json()) as { checkpoint?: { path?: unknown; error?: unknown } };
    const path = document.checkpoint?.path;
    if (typeof path !== 'string' || resolve(path) !== resolve(checkpointPath(stateDir))) return undefined;
    const error = document.checkpoint?.error;
    return typeof error === 'string'
      ? {
          usesStateDir: true,
          holdsCheckpoint: false,
          description: `the forwarder answering at ${url.origin} could not open ${path} (${error}) and retries; it will read the new one within 30 s`,
        }
      : {
          usesStateDir: true,
          holdsCheckpoint: true,
          description: `the forwarder answering at ${url.origin} uses ${path}`,
        };
  } catch {
    // Nothing listening there: the usual case for an offline command.
    return undefined;
  }
}

async function scanProcesses(stateDir: string, procDir: string, selfPid: number): Promise<DaemonSighting[]> {
  const pids = (await readdir(procDir).catch(() => [])).filter(
    (name) => /^\d+$/.test(name) && Number(name) !== selfPid,
  );
  const sightings: DaemonSighting[] = [];
  for (const pid of pids) {
    const args = await readFile(join(procDir, pid, 'cmdline'), 'utf8').then(
      (text) => text.split('\0').filter(Boolean),
      () => [],
    );
    if (!isForwarderRun(args)) continue;
    const command = args.join(' ');
    const config = configArgument(args);
    const cwd = await readlink(join(procDir, pid, 'cwd')).catch(() => undefined);
    const dir = config === undefined ? undefined : await stateDirOf(resolve(cwd ?? '/', config));
    if (dir !== undefined && resolve(dir) !== resolve(stateDir)) continue;
    sightings.push({
      usesStateDir: dir !== undefined,
      holdsCheckpoint: true,
      description:
        dir === undefined
          ? `process ${pid} (${command}) is a forwarder whose state directory could not be determined`
          : `process ${pid} (${command}) uses this state directory`,
    });
  }
  return sightings;
}

/** `... main.js run --config X` or `k8s-audit-forwarder run ...`: the daemon, not another CLI command. */
function isForwarderRun(args: readonly string[]): boolean {
  const runIndex = args.indexOf('run');
  if (runIndex === -1) return false;
  return args
    .slice(0, runIndex)
    .some((arg) => basename(arg) === 'k8s-audit-forwarder' || /(^|\/)(src|dist)\/main\.[jt]s$/.test(arg));
}

function configArgument(args: readonly string[]): string | undefined {
  for (let index = 0; index < args.length; index++) {
    const arg = args[index] ?? '';
    if (arg === '--config' || arg === '-c') return args[index + 1];
    if (arg.startsWith('--config=')) return arg.slice('--config='.length);
  }
  return undefined;
}

/** state.dir of a config file, read leniently (no validation, no ${ENV} resolution: those make it unknown). */
async function stateDirOf(configPath: string): Promise<string | undefined> {
  try {
    const document = parse(await readFile(configPath, 'utf8')) as { state?: { dir?: unknown } } | null;
    const dir = document?.state?.dir ?? DEFAULT_STATE_DIR;
    return typeof dir === 'string' && !dir.includes('${') ? dir : undefined;
  } catch {
    return undefined;
  }
}
