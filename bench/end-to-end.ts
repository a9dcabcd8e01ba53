// End-to-end benchmark: generated audit log → the real forwarder CLI (child process) → a sink.
// Reports events/s, MB/s, peak RSS (VmHWM of the forwarder process) and the machine it ran on.
// Usage: node bench/end-to-end.ts [--events N] [--sink file|elasticsearch] [--large-ratio R]
import { spawn } from 'node:child_process';
import { open, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { stringify } from 'yaml';
import { AuditEventGenerator } from '../src/simulator/generator.ts';

export interface EndToEndResult {
  readonly name: string;
  readonly events: number;
  readonly bytes: number;
  readonly seconds: number;
  readonly eventsPerSecond: number;
  readonly megabytesPerSecond: number;
  readonly peakRssMB: number;
  readonly node: string;
  readonly cpu: string;
}

export interface SinkUnderTest {
  readonly name: string;
  /** The sink's config entry. */
  readonly config: Record<string, unknown>;
  /** Events the sink has stored so far. */
  delivered(): Promise<number>;
  close(): Promise<void>;
}

const MAIN = new URL('../src/main.ts', import.meta.url).pathname;

/** Writes `events` generated lines to `path` in large writes; returns the byte count. */
export async function generateAuditLog(path: string, events: number, largeEventRatio: number): Promise<number> {
  const generator = new AuditEventGenerator({ seed: 2026, largeEventRatio });
  const handle = await open(path, 'w');
  let bytes = 0;
  try {
    let chunk: string[] = [];
    for (let index = 0; index < events; index++) {
      chunk.push(generator.nextLine());
      if (chunk.length === 5000 || index === events - 1) {
        const text = `${chunk.join('\n')}\n`;
        bytes += Buffer.byteLength(text);
        await handle.write(text);
        chunk = [];
      }
    }
  } finally {
    await handle.close();
  }
  return bytes;
}

async function peakRssMB(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const match = /VmHWM:\s+(\d+) kB/.exec(status);
  return match ? Math.round(Number(match[1]) / 1024) : Number.NaN;
}

export async function runEndToEnd(options: {
  readonly events: number;
  readonly largeEventRatio: number;
  readonly sink: (dir: string) => Promise<SinkUnderTest>;
}): Promise<EndToEndResult> {
  const dir = await mkdtemp(join(tmpdir(), 'kaf-bench-'));
  try {
    await mkdir(join(dir, 'audit'));
    const logPath = join(dir, 'audit', 'audit.log');
    const bytes = await generateAuditLog(logPath, options.events, options.largeEventRatio);
    const sink = await options.sink(dir);
    const configPath = join(dir, 'forwarder.yaml');
    await writeFile(
      configPath,
      stringify({
        cluster: 'bench',
        node: 'bench-node',
        logLevel: 'warn',
        source: { path: logPath },
        state: { dir: join(dir, 'state') },
        sinks: [sink.config],
      }),
    );
    const started = performance.now();
    const child = spawn(process.execPath, [MAIN, 'run', '--config', configPath, '--status-listen', '127.0.0.1:0'], {
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    let peak = 0;
    let seconds = 0;
    try {
      for (;;) {
        if (child.exitCode !== null) throw new Error(`forwarder exited with ${child.exitCode}`);
        if (child.pid !== undefined) peak = Math.max(peak, await peakRssMB(child.pid).catch(() => 0));
        if ((await sink.delivered()) >= options.events) break;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    } finally {
      seconds = (performance.now() - started) / 1000;
      if (child.pid !== undefined) peak = Math.max(peak, await peakRssMB(child.pid).catch(() => 0));
      child.kill('SIGTERM');
      await exited;
      await sink.close();
    }
    return {
      name: sinkName(sink),
      events: options.events,
      bytes,
      seconds: round(seconds),
      eventsPerSecond: Math.round(options.events / seconds),
      megabytesPerSecond: round(bytes / 1024 / 1024 / seconds),
      peakRssMB: peak,
      node: process.version,
      cpu: `${cpus()[0]?.model ?? 'unknown'} ×${cpus().length}`,
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function sinkName(sink: SinkUnderTest): string {
  return `file → forwarder → ${sink.name}`;
}

function round(value: number): number {
  return Math.round(value * 100) / 100;
}

/** The file sink: counts newlines in its output as the delivered count. */
export function fileSink(dir: string): Promise<SinkUnderTest> {
  const path = join(dir, 'out', 'events.jsonl');
  let counted = 0;
  let position = 0;
  return Promise.resolve({
    name: 'file sink',
    config: { name: 'bench-file', type: 'file', path },
    async delivered() {
      const handle = await open(path, 'r').catch(() => undefined);
      if (!handle) return 0;
      try {
        const buffer = Buffer.allocUnsafe(4 * 1024 * 1024);
        for (;;) {
          const { bytesRead } = await handle.read(buffer, 0, buffer.length, position);
          if (bytesRead === 0) break;
          position += bytesRead;
          for (let index = buffer.indexOf(10, 0); index !== -1 && index < bytesRead; index = buffer.indexOf(10, index + 1)) {
            counted++;
          }
        }
      } finally {
        await handle.close();
      }
      return counted;
    },
    close: () => Promise.resolve(),
  });
}

if (import.meta.main) {
  const { values } = parseArgs({
    options: {
      events: { type: 'string', default: '500000' },
      sink: { type: 'string', default: 'file' },
      'large-ratio': { type: 'string', default: '0.005' },
    },
  });
  const result = await runEndToEnd({
    events: Number(values.events),
    largeEventRatio: Number(values['large-ratio']),
    sink: fileSink,
  });
  process.stdout.write(`${JSON.stringify(result)}\n`);
}
