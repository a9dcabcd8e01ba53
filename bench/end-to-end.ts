// End-to-end benchmark: generated audit log → the real forwarder CLI (child process) → a sink.
// Reports events/s, MB/s, peak RSS (VmHWM of the forwarder process) and the machine it ran on.
// Usage: node bench/end-to-end.ts [--events N] [--sink file|elasticsearch] [--large-ratio R]
// Env: BENCH_DELIVERY / BENCH_BATCH (JSON delivery or batch settings), BENCH_FORWARDER_NODE_ARGS / BENCH_FAKE_NODE_ARGS (Node flags,
// e.g. --cpu-prof), BENCH_TRACE_MEMORY=1 / BENCH_TRACE_BATCHES=1 (progress lines on stderr).
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdir, mkdtemp, open, readFile, rm, writeFile } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { stringify } from 'yaml';
import { FAKE_PROCESS_NODE_ARGS } from './fake-process-args.ts';
import { AuditEventGenerator } from '../src/simulator/generator.ts';
import { BUILT_MAIN, shippedMallocEnv, shippedNodeFlags } from '../test/helpers/shipped-node.ts';

export interface EndToEndResult {
  readonly name: string;
  readonly events: number;
  readonly stored: number;
  readonly bytes: number;
  readonly seconds: number;
  readonly eventsPerSecond: number;
  readonly megabytesPerSecond: number;
  readonly peakRssMB: number;
  /** CPU seconds the forwarder (all its threads) and the sink's process used over the run. */
  readonly forwarderCpuSeconds: number;
  readonly sinkCpuSeconds: number | undefined;
  readonly nodeFlags: string;
  /** The MALLOC_* variables the forwarder ran with. */
  readonly malloc: string;
  readonly node: string;
  readonly cpu: string;
}

export interface SinkUnderTest {
  readonly name: string;
  /** The sink's config entry. */
  readonly config: Record<string, unknown>;
  /** The sink's process, when it has one (its CPU time is reported). */
  readonly pid?: number;
  /** Stops the sink's side and returns how many events it stored, to check against what was sent. */
  close(): Promise<number>;
}

// The built forwarder, as the image runs it (`npm ci` builds dist/; bench/run.ts rebuilds it first).
// Running the .ts sources would add Node's type stripper to every thread's memory.
const MAIN = BUILT_MAIN;

/** Writes `events` generated lines to `path` in large writes; returns the byte count. */
export async function generateAuditLog(
  path: string,
  events: number,
  largeEventRatio: number,
): Promise<number> {
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

/** CPU seconds (user + system) a process has used so far, from /proc. */
async function cpuSeconds(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  // Fields after the ")" that closes the command name; utime and stime are the 14th and 15th fields.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

async function peakRssMB(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const match = /VmHWM:\s+(\d+) kB/.exec(status);
  return match ? Math.round(Number(match[1]) / 1024) : 0;
}

/** Resolves with the first JSON line on the child's stdout that has `key`. */
function jsonLineWith(child: ChildProcess, key: string): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    if (!child.stdout) {
      reject(new Error('no stdout'));
      return;
    }
    const lines = createInterface({ input: child.stdout });
    lines.on('line', (line) => {
      try {
        const value = JSON.parse(line) as Record<string, unknown>;
        if (key in value) resolve(value);
      } catch {
        // Not JSON: ignore.
      }
    });
    child.once('exit', (code) => {
      reject(new Error(`process exited (${code}) before printing ${key}`));
    });
  });
}

/** Prints the forwarder's heap and external memory (BENCH_TRACE_MEMORY=1), to see where RSS goes. */
async function traceMemory(statusUrl: string): Promise<void> {
  const text = await (await fetch(statusUrl.replace(/\/status$/, '/metrics'))).text();
  const pick = (name: string): string => {
    const match = new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'm').exec(text);
    return match ? `${Math.round(Number(match[1]) / 1024 / 1024)}MB` : '?';
  };
  process.stderr.write(
    `rss ${pick('audit_forwarder_process_resident_memory_bytes')} heap ${pick('audit_forwarder_nodejs_heap_size_used_bytes')}/${pick('audit_forwarder_nodejs_heap_size_total_bytes')} external ${pick('audit_forwarder_nodejs_external_memory_bytes')}\n`,
  );
}

/**
 * Prints events delivered, batches in flight and the mean batch time (encode to acknowledgement) so far
 * (BENCH_TRACE_BATCHES=1): a lane that always has maxInFlightBatches out is waiting on the sink's latency.
 */
async function traceBatches(statusUrl: string, started: number): Promise<void> {
  const status = (await (await fetch(statusUrl)).json()) as {
    sinks: { delivered: number; inFlightBatches: number }[];
  };
  const metrics = await (await fetch(statusUrl.replace(/\/status$/, '/metrics'))).text();
  const sum = Number(/batch_duration_seconds_sum\{[^}]*\} (\S+)/.exec(metrics)?.[1]);
  const count = Number(/batch_duration_seconds_count\{[^}]*\} (\S+)/.exec(metrics)?.[1]);
  const sinks = status.sinks.map((sink) => `${sink.delivered} delivered, ${sink.inFlightBatches} in flight`);
  process.stderr.write(
    `${((performance.now() - started) / 1000).toFixed(1)} s: ${sinks.join('; ')}, batch ${((sum / count) * 1000).toFixed(1)} ms\n`,
  );
}

async function deliveredCount(statusUrl: string): Promise<number> {
  const response = await fetch(statusUrl);
  const status = (await response.json()) as { sinks: { delivered: number }[] };
  return status.sinks.reduce((sum, sink) => sum + sink.delivered, 0);
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
        logLevel: 'info',
        source: { path: logPath },
        state: { dir: join(dir, 'state') },
        sinks: [sink.config],
        // BENCH_DELIVERY (JSON) overrides delivery settings, e.g. {"encodeWorkers":0}, for comparisons.
        ...(process.env.BENCH_DELIVERY === undefined
          ? {}
          : { delivery: JSON.parse(process.env.BENCH_DELIVERY) as Record<string, unknown> }),
        // BENCH_BATCH (JSON) overrides batch settings, e.g. {"maxEvents":500}.
        ...(process.env.BENCH_BATCH === undefined
          ? {}
          : { batch: JSON.parse(process.env.BENCH_BATCH) as Record<string, unknown> }),
      }),
    );
    const started = performance.now();
    const child = spawn(
      process.execPath,
      [...forwarderNodeArgs(), MAIN, 'run', '--config', configPath, '--status-listen', '127.0.0.1:0'],
      // The image's malloc tuning; the environment's own MALLOC_* win (to measure without it).
      { env: { ...shippedMallocEnv(), ...process.env }, stdio: ['ignore', 'pipe', 'inherit'] },
    );
    const exited = new Promise<void>((resolve) =>
      child.once('exit', () => {
        resolve();
      }),
    );
    let peak = 0;
    let seconds = 0;
    let stored = 0;
    let forwarderCpu = 0;
    let sinkCpu: number | undefined;
    const sinkCpuAtStart = sink.pid === undefined ? undefined : await cpuSeconds(sink.pid);
    try {
      const startedLine = await jsonLineWith(child, 'status');
      const statusUrl = String(startedLine.status);
      for (;;) {
        if (child.exitCode !== null) throw new Error(`forwarder exited with ${child.exitCode}`);
        if (child.pid !== undefined) peak = Math.max(peak, await peakRssMB(child.pid).catch(() => 0));
        if ((await deliveredCount(statusUrl)) >= options.events) break;
        if (process.env.BENCH_TRACE_MEMORY === '1') await traceMemory(statusUrl);
        if (process.env.BENCH_TRACE_BATCHES === '1') await traceBatches(statusUrl, started);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    } finally {
      seconds = (performance.now() - started) / 1000;
      if (child.pid !== undefined) {
        peak = Math.max(peak, await peakRssMB(child.pid).catch(() => 0));
        forwarderCpu = await cpuSeconds(child.pid).catch(() => 0);
      }
      if (sink.pid !== undefined && sinkCpuAtStart !== undefined) {
        sinkCpu = round((await cpuSeconds(sink.pid)) - sinkCpuAtStart);
      }
      child.kill('SIGTERM');
      await exited;
      stored = await sink.close();
    }
    return {
      name: `file → forwarder → ${sink.name}`,
      events: options.events,
      stored,
      bytes,
      seconds: round(seconds),
      eventsPerSecond: Math.round(options.events / seconds),
      megabytesPerSecond: round(bytes / 1024 / 1024 / seconds),
      peakRssMB: peak,
      forwarderCpuSeconds: round(forwarderCpu),
      sinkCpuSeconds: sinkCpu,
      nodeFlags: forwarderNodeArgs().join(' '),
      malloc: Object.entries({ ...shippedMallocEnv(), ...process.env })
        .filter(([name]) => name.startsWith('MALLOC_'))
        .map(([name, value]) => `${name}=${value ?? ''}`)
        .join(' '),
      node: process.version,
      cpu: `${cpus()[0]?.model ?? 'unknown'} ×${cpus().length}`,
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Node flags for the forwarder: the image's, or BENCH_FORWARDER_NODE_ARGS instead (e.g. to add --cpu-prof). */
function forwarderNodeArgs(): string[] {
  const flags = process.env.BENCH_FORWARDER_NODE_ARGS;
  return flags === undefined ? shippedNodeFlags() : flags.split(' ').filter((arg) => arg !== '');
}

function round(value: number): number {
  return Math.round(value * 100) / 100;
}

/** The file sink; stored = lines in its output. */
export function fileSink(dir: string): Promise<SinkUnderTest> {
  const path = join(dir, 'out', 'events.jsonl');
  return Promise.resolve({
    name: 'file sink',
    config: { name: 'bench-file', type: 'file', path },
    async close() {
      const handle = await open(path, 'r');
      let lines = 0;
      try {
        const buffer = Buffer.allocUnsafe(4 * 1024 * 1024);
        for (let position = 0; ; ) {
          const { bytesRead } = await handle.read(buffer, 0, buffer.length, position);
          if (bytesRead === 0) break;
          position += bytesRead;
          for (let at = buffer.indexOf(10); at !== -1 && at < bytesRead; at = buffer.indexOf(10, at + 1))
            lines++;
        }
      } finally {
        await handle.close();
      }
      return lines;
    },
  });
}

/** The test suite's fake Elasticsearch, in a process of its own; stored = documents it kept. */
export async function elasticsearchSink(): Promise<SinkUnderTest> {
  // The fake keeps every document (a million of them) in memory: give it room. BENCH_FAKE_NODE_ARGS come
  // after its GC flags (V8 takes a flag's last value).
  const child = spawn(
    process.execPath,
    [
      ...FAKE_PROCESS_NODE_ARGS,
      ...(process.env.BENCH_FAKE_NODE_ARGS ?? '').split(' ').filter((a) => a !== ''),
      '--max-old-space-size=16384',
      new URL('./es-fake-process.ts', import.meta.url).pathname,
    ],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  const { url } = await jsonLineWith(child, 'url');
  return {
    name: 'fake Elasticsearch (separate process)',
    ...(child.pid === undefined ? {} : { pid: child.pid }),
    config: { name: 'bench-es', type: 'elasticsearch', url: String(url) },
    async close() {
      const counted = jsonLineWith(child, 'documents');
      child.kill('SIGTERM');
      return Number((await counted).documents);
    },
  };
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
    sink: values.sink === 'elasticsearch' ? elasticsearchSink : fileSink,
  });
  process.stdout.write(`${JSON.stringify(result)}\n`);
}
