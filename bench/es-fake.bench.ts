// Throughput of the test suite's fake Elasticsearch (test/fakes/es-bulk-server.ts), the sink of the end-to-end
// benchmark: it must take documents much faster than the forwarder sends them. Bulk bodies (1000 generated audit
// events each, encoded as the Elasticsearch sink encodes them) are built first, then POSTed to /_bulk with the
// forwarder's filter_path one after the other over loopback with fetch. Every response must be errors:false and
// the fake must hold every document.
//
// Three runs, each against a fresh fake:
// - in process, started with { recordRequests: false }: docsPerSecond is wall-clock throughput with the fetch
//   client on the same thread (a lower bound);
// - in a child process with the same options (every document parsed and mapped, sources kept): the fake's own
//   CPU time gives docsPerFakeCpuSecond, the rate one core could take;
// - bench/es-fake-process.ts, the process bench/end-to-end.ts runs (checkDocumentsEvery, keepSources: false):
//   docsPerBenchProcessCpuSecond, its CPU time read from /proc as end-to-end.ts reads it.
// Prints one JSON line. BENCH_DOCS sets the number of documents (default 100000); BENCH_CPU_PROFILE=<file>
// writes a CPU profile of the in-process timed part only (open it in Chrome DevTools).
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { cpus } from 'node:os';
import { createInterface } from 'node:readline';
import { parseAuditLine } from '../src/pipeline/enrich.ts';
import type { OutEvent } from '../src/pipeline/event.ts';
import { dataStreamTarget, encodeBulkBody } from '../src/sinks/elasticsearch/encode.ts';
import { AuditEventGenerator } from '../src/simulator/generator.ts';
import { FakeElasticsearch } from '../test/fakes/es-bulk-server.ts';
import { FAKE_PROCESS_NODE_ARGS } from './fake-process-args.ts';

const DOCS = Number(process.env.BENCH_DOCS ?? 100_000);
const BATCH = 1000;
const HEADERS = {
  'content-type': 'application/vnd.elasticsearch+x-ndjson; compatible-with=8',
  accept: 'application/vnd.elasticsearch+json; compatible-with=8',
};
const FAKE_MODULE = new URL('../test/fakes/es-bulk-server.ts', import.meta.url).href;
const FAKE_PROCESS = new URL('./es-fake-process.ts', import.meta.url).pathname;
// What the forwarder's Elasticsearch sink asks for, as Logstash and Beats do: the rest of each item is not needed.
const BULK_PATH = '/_bulk?filter_path=errors,items.*.error,items.*.status';

// Encoded up front (as the forwarder sends bytes), so that the timed part is the HTTP exchange and the fake.
const generator = new AuditEventGenerator({ seed: 7 });
const target = dataStreamTarget('default');
const bodies: Buffer[] = [];
let pending: OutEvent[] = [];
let events = 0;
for (let index = 0; events < DOCS; index++) {
  const outcome = parseAuditLine(
    Buffer.from(generator.nextLine()),
    { path: '/a', fileKey: 'k', offset: index },
    { cluster: 'bench', node: 'n1' },
  );
  if (!outcome.ok) continue;
  pending.push(outcome.event);
  events += 1;
  if (pending.length === BATCH || events === DOCS) {
    bodies.push(Buffer.from(encodeBulkBody(pending, target)));
    pending = [];
  }
}
const bodyBytes = bodies.reduce((sum, body) => sum + body.length, 0);

/** POSTs every body in turn; returns the wall-clock seconds. */
async function sendAll(baseUrl: string): Promise<number> {
  const started = performance.now();
  for (const body of bodies) {
    const response = await fetch(`${baseUrl}${BULK_PATH}`, { method: 'POST', headers: HEADERS, body });
    const answer = (await response.json()) as { errors?: unknown };
    if (response.status !== 200 || answer.errors !== false) {
      throw new Error(
        `bulk answered ${response.status} errors=${String(answer.errors)}: ${JSON.stringify(answer).slice(0, 2000)}`,
      );
    }
  }
  return (performance.now() - started) / 1000;
}

function checkStored(stored: number): void {
  if (stored !== DOCS) throw new Error(`the fake stored ${stored} documents, expected ${DOCS}`);
}

async function inProcess(): Promise<{ seconds: number; cpuSeconds: number }> {
  const fake = await FakeElasticsearch.start({ recordRequests: false });
  try {
    const profilePath = process.env.BENCH_CPU_PROFILE;
    const session = profilePath === undefined ? undefined : new Session();
    if (session) {
      session.connect();
      await session.post('Profiler.enable');
      await session.post('Profiler.start');
    }
    const cpuBefore = process.cpuUsage();
    const seconds = await sendAll(fake.url);
    const cpu = process.cpuUsage(cpuBefore);
    if (session && profilePath !== undefined) {
      const { profile } = await session.post('Profiler.stop');
      writeFileSync(profilePath, JSON.stringify(profile));
      session.disconnect();
    }
    checkStored(fake.documentCount());
    return { seconds, cpuSeconds: (cpu.user + cpu.system) / 1e6 };
  } finally {
    await fake.close();
  }
}

// The child: starts the fake, then answers "mark" (start counting CPU) and "report" (CPU used since, documents
// stored) on stdin, one JSON line each on stdout.
const CHILD = `
import { createInterface } from 'node:readline';
const { FakeElasticsearch } = await import(${JSON.stringify(FAKE_MODULE)});
const fake = await FakeElasticsearch.start({ recordRequests: false });
let mark = process.cpuUsage();
process.stdout.write(JSON.stringify({ url: fake.url }) + '\\n');
for await (const line of createInterface({ input: process.stdin })) {
  if (line === 'mark') {
    mark = process.cpuUsage();
    process.stdout.write('{}\\n');
  } else if (line === 'report') {
    const cpu = process.cpuUsage(mark);
    const documents = fake.documentCount();
    process.stdout.write(JSON.stringify({ cpuMicros: cpu.user + cpu.system, documents }) + '\\n');
    await fake.close();
    process.exit(0);
  }
}
`;

/** Reads the child's stdout one JSON line at a time. */
function jsonLines(child: ChildProcess): () => Promise<Record<string, unknown>> {
  if (!child.stdout) throw new Error('the child has no stdout');
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  return async () => {
    const { value, done } = await lines.next();
    if (done === true) throw new Error('the fake Elasticsearch child exited early');
    return JSON.parse(value) as Record<string, unknown>;
  };
}

async function inChild(): Promise<{ seconds: number; cpuSeconds: number }> {
  const child = spawn(process.execPath, ['--input-type=module', '-e', CHILD], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const next = jsonLines(child);
  const exited = once(child, 'exit');
  try {
    const { url } = (await next()) as { url: string };
    child.stdin.write('mark\n');
    await next();
    const seconds = await sendAll(url);
    child.stdin.write('report\n');
    const { cpuMicros, documents } = (await next()) as { cpuMicros: number; documents: number };
    checkStored(documents);
    await exited;
    return { seconds, cpuSeconds: cpuMicros / 1e6 };
  } finally {
    child.kill();
  }
}

/** CPU seconds (user + system) a process has used so far, from /proc (as bench/end-to-end.ts reads it). */
function processCpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

async function inBenchProcess(): Promise<{ seconds: number; cpuSeconds: number }> {
  const child = spawn(process.execPath, [...FAKE_PROCESS_NODE_ARGS, FAKE_PROCESS], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const next = jsonLines(child);
  const exited = once(child, 'exit');
  try {
    const { url } = (await next()) as { url: string };
    const pid = child.pid ?? 0;
    const cpuBefore = processCpuSeconds(pid);
    const seconds = await sendAll(url);
    const cpuSeconds = processCpuSeconds(pid) - cpuBefore;
    child.kill('SIGTERM');
    const { documents } = (await next()) as { documents: number };
    checkStored(documents);
    await exited;
    return { seconds, cpuSeconds };
  } finally {
    child.kill();
  }
}

const local = await inProcess();
const remote = await inChild();
const benchProcess = await inBenchProcess();
const round = (value: number, digits = 0): number => Math.round(value * 10 ** digits) / 10 ** digits;
process.stdout.write(
  `${JSON.stringify({
    name: 'fake Elasticsearch _bulk (1000 docs per request, sequential fetch)',
    documents: DOCS,
    requests: bodies.length,
    bodyBytesPerDocument: Math.round(bodyBytes / DOCS),
    seconds: round(local.seconds, 2),
    docsPerSecond: round(DOCS / local.seconds),
    bodyMegabytesPerSecond: round(bodyBytes / 1024 / 1024 / local.seconds, 1),
    cpuSecondsPerSecond: round(local.cpuSeconds / local.seconds, 2),
    childProcessSeconds: round(remote.seconds, 2),
    childProcessDocsPerSecond: round(DOCS / remote.seconds),
    fakeCpuSeconds: round(remote.cpuSeconds, 2),
    docsPerFakeCpuSecond: round(DOCS / remote.cpuSeconds),
    benchProcessSeconds: round(benchProcess.seconds, 2),
    benchProcessCpuSeconds: round(benchProcess.cpuSeconds, 2),
    docsPerBenchProcessCpuSecond: round(DOCS / benchProcess.cpuSeconds),
    node: process.version,
    cpu: cpus()[0]?.model,
  })}\n`,
);
