// `npm run bench`: runs every benchmark in its own process, one after the other (they measure CPU
// and RSS, so they must not overlap), prints the results and writes bench/results/latest.json.
// BENCH_QUICK=1 runs smaller sizes; BENCH_ES_EVENTS sets the Elasticsearch run's size.
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';

const quick = process.env.BENCH_QUICK === '1';
const fileEvents = quick ? 100_000 : 500_000;
const esEvents = Number(process.env.BENCH_ES_EVENTS ?? (quick ? 50_000 : 1_000_000));

interface Bench {
  readonly name: string;
  readonly args: readonly string[];
  readonly env?: Readonly<Record<string, string>>;
}

const benches: Bench[] = [
  { name: 'read path (read + split + offsets)', args: ['bench/read-path.bench.ts'] },
  { name: 'parse + enrich + encode, one thread', args: ['bench/encode-batch.bench.ts'] },
  { name: 'fake Elasticsearch alone', args: ['bench/es-fake.bench.ts'] },
  { name: 'end to end: file sink', args: ['bench/end-to-end.ts', '--events', String(fileEvents)] },
  {
    name: 'end to end: fake Elasticsearch',
    args: ['bench/end-to-end.ts', '--events', String(esEvents), '--sink', 'elasticsearch'],
  },
  {
    name: 'end to end: fake Elasticsearch, no encoder threads',
    args: ['bench/end-to-end.ts', '--events', String(esEvents), '--sink', 'elasticsearch'],
    env: { BENCH_DELIVERY: '{"encodeWorkers":0}' },
  },
  {
    name: 'end to end: fake Elasticsearch, as the Helm chart runs it (256Mi limit)',
    args: ['bench/end-to-end.ts', '--events', String(esEvents), '--sink', 'elasticsearch'],
    env: {
      BENCH_FORWARDER_NODE_ARGS:
        '--no-maglev --heap-growing-percent=100 --max-semi-space-size=2 --v8-pool-size=1 --max-old-space-size=192',
    },
  },
  {
    name: 'catch-up memory over rotated files',
    args: ['bench/catch-up-memory.ts', '--events', String(quick ? 200_000 : 1_200_000)],
  },
];

// The end-to-end runs start the built forwarder (dist/), as the image does: build it from these sources.
spawnSync('npm', ['run', 'build'], { stdio: 'inherit' });

const results: Record<string, unknown>[] = [];
for (const bench of benches) {
  process.stdout.write(`• ${bench.name} …\n`);
  const run = spawnSync(process.execPath, bench.args, {
    encoding: 'utf8',
    env: { ...process.env, ...bench.env },
    stdio: ['ignore', 'pipe', 'inherit'],
    maxBuffer: 16 * 1024 * 1024,
  });
  const line = run.stdout.trim().split('\n').at(-1) ?? '';
  if (run.status !== 0 || !line.startsWith('{')) {
    process.stdout.write(`  failed (exit ${run.status ?? run.signal})\n`);
    results.push({ bench: bench.name, failed: true });
    continue;
  }
  const result = {
    bench: bench.name,
    ...(bench.env ?? {}),
    ...(JSON.parse(line) as Record<string, unknown>),
  };
  results.push(result);
  process.stdout.write(`  ${JSON.stringify(result)}\n`);
}
mkdirSync(new URL('./results/', import.meta.url), { recursive: true });
writeFileSync(
  new URL('./results/latest.json', import.meta.url),
  `${JSON.stringify({ at: new Date().toISOString(), results }, null, 2)}\n`,
);
process.stdout.write('Written to bench/results/latest.json\n');
