// Memory in a catch-up: N generated events rotated at 16 MiB (1.2M events: ~115 backups, what a 10-minute
// outage at 2,000 events/s leaves), then the built forwarder, as the image runs it, against an in-process fake
// Elasticsearch until every event is stored. Reports the forwarder's peak RSS and how its main thread's old
// generation grew (from /metrics): what it tenures between full collections sets its peak. Prints one JSON
// line. --heap-profile PATH also writes a sampling heap profile of the main thread (objects that outlived
// young collections; open it in Chrome DevTools' Memory tab), which is how the 2026-12-06 findings were made.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { SimulatedApiServer } from '../src/simulator/apiserver.ts';
import { FakeElasticsearch } from '../test/fakes/es-bulk-server.ts';
import { startDaemon, writeConfig } from '../test/helpers/daemon.ts';

const { values } = parseArgs({
  options: { events: { type: 'string', default: '1200000' }, 'heap-profile': { type: 'string' } },
});
const EVENTS = Number(values.events);
const MiB = 1024 * 1024;
const SAMPLE_INTERVAL_MS = 20;
const HEAP_EVERY_MS = 5000;

function statusField(status: string, name: string): number {
  return Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? 0) * 1024;
}

function metric(text: string, name: string): number {
  const escaped = name.replace(/[{}]/g, '\\$&');
  return Number(new RegExp(`^audit_forwarder_${escaped} (\\S+)`, 'm').exec(text)?.[1] ?? Number.NaN);
}

async function oldGenerationBytes(statusUrl: string): Promise<number> {
  const text = await fetch(`${statusUrl}/metrics`).then((response) => response.text());
  return metric(text, 'nodejs_heap_space_size_used_bytes{space="old"}');
}

/** Chrome DevTools protocol over the inspector the forwarder opens on SIGUSR1 (127.0.0.1:9229). */
async function startHeapSampling(pid: number): Promise<() => Promise<unknown>> {
  process.kill(pid, 'SIGUSR1');
  await new Promise((resolve) => setTimeout(resolve, 1000));
  const targets = (await fetch('http://127.0.0.1:9229/json/list').then((r) => r.json())) as {
    webSocketDebuggerUrl: string;
  }[];
  const url = targets[0]?.webSocketDebuggerUrl;
  if (url === undefined) throw new Error('the forwarder opened no inspector');
  const socket = new WebSocket(url);
  await new Promise((resolve) => {
    socket.addEventListener('open', resolve, { once: true });
  });
  let nextId = 0;
  const waiting = new Map<number, (result: unknown) => void>();
  socket.addEventListener('message', (event) => {
    const message = JSON.parse(String(event.data)) as { id?: number; result?: unknown };
    if (message.id !== undefined) waiting.get(message.id)?.(message.result);
  });
  const call = (method: string, params: Record<string, unknown> = {}): Promise<unknown> =>
    new Promise((resolve) => {
      const id = ++nextId;
      waiting.set(id, resolve);
      socket.send(JSON.stringify({ id, method, params }));
    });
  await call('HeapProfiler.enable');
  await call('HeapProfiler.startSampling', {
    samplingInterval: 4096,
    includeObjectsCollectedByMajorGC: true,
    includeObjectsCollectedByMinorGC: false,
  });
  return async () => {
    const { profile } = (await call('HeapProfiler.stopSampling')) as { profile: unknown };
    socket.close();
    return profile;
  };
}

const dir = await mkdtemp(join(tmpdir(), 'kaf-catch-up-'));
const fake = await FakeElasticsearch.start({ recordRequests: false, keepSources: false });
try {
  const sim = new SimulatedApiServer({
    path: join(dir, 'audit', 'audit.log'),
    maxSizeBytes: 16 * MiB,
    seed: 4242,
  });
  for (let written = 0; written < EVENTS; written += 10_000) sim.writeNow(Math.min(10_000, EVENTS - written));
  await sim.stop();
  const files = sim.files().length;
  const configPath = await writeConfig(dir, {
    cluster: 'bench',
    node: 'bench-node',
    source: { path: sim.path },
    state: { dir: join(dir, 'state') },
    sinks: [{ name: 'es', type: 'elasticsearch', url: fake.url }],
  });
  const started = performance.now();
  const daemon = await startDaemon(configPath, {}, { built: true });
  const pid = daemon.child.pid ?? 0;
  const stopSampling = values['heap-profile'] === undefined ? undefined : await startHeapSampling(pid);
  const oldGeneration: number[] = [await oldGenerationBytes(daemon.statusUrl)];
  let lastHeapAt = performance.now();
  while (fake.documentCount() < EVENTS) {
    await new Promise((resolve) => setTimeout(resolve, SAMPLE_INTERVAL_MS));
    if (performance.now() - lastHeapAt >= HEAP_EVERY_MS) {
      oldGeneration.push(await oldGenerationBytes(daemon.statusUrl));
      lastHeapAt = performance.now();
    }
  }
  const seconds = (performance.now() - started) / 1000;
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  if (stopSampling !== undefined) {
    await writeFile(values['heap-profile'] as string, JSON.stringify(await stopSampling()));
  }
  await daemon.stop('SIGTERM');
  const mb = (bytes: number): number => Math.round((bytes / MiB) * 10) / 10;
  process.stdout.write(
    `${JSON.stringify({
      name: 'catch-up over rotated files → in-process fake Elasticsearch',
      events: EVENTS,
      files,
      seconds: Math.round(seconds * 10) / 10,
      eventsPerSecond: Math.round(EVENTS / seconds),
      peakRssMB: mb(statusField(status, 'VmHWM')),
      oldGenerationMB: oldGeneration.map(mb),
      node: process.version,
    })}\n`,
  );
} finally {
  await fake.close();
  await rm(dir, { recursive: true, force: true });
}
