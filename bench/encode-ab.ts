// Before/after for the per-event hot path on a noisy machine: the Elasticsearch encodeBatch of another source
// tree (A, e.g. a `git worktree add /tmp/before <rev>` with its wasm built: `npm run build:wasm` there) and of
// this one (B), interleaved round by round in one process on the same generated batches, so that both see the
// same machine state (each goes first every other round). These shared 2-core machines swing by ±20 % within
// minutes, so separate runs hide 10 % effects; this one's own spread, a tree against a copy of itself, is
// ±3 %. Also checks that both write the same bytes. Prints one JSON line.
//   node bench/encode-ab.ts /tmp/before        (BENCH_LINES events, default 50,000; BENCH_ROUNDS, default 12)
import { resolve } from 'node:path';
import { AuditEventGenerator } from '../src/simulator/generator.ts';

const BATCH = 1000;
const EVENTS = Number(process.env.BENCH_LINES ?? 50_000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 12);
/** Rounds left out of the best-of (JIT warm-up). */
const WARM_UP_ROUNDS = 2;

const before = process.argv[2];
if (before === undefined) throw new Error('usage: node bench/encode-ab.ts <the other source tree>');

/** What a tree's modules look like to this script: only the calls made below (they are older or newer code). */
interface Tree {
  readonly batchInput: {
    BatchInputBuilder: new (
      ...args: unknown[]
    ) => { add(line: Buffer, file: unknown, offset: number): void; build(): unknown };
  };
  readonly bufferPool: { BufferPool: new (size: number) => unknown };
  readonly encodeBatch: {
    encodeBatch(job: unknown, encoders: unknown): { payload: Uint8Array };
    eventTableBytes(lines: number): number;
    LineEncoders: new () => unknown;
  };
  readonly encode: { dataStreamTarget(namespace: string): unknown };
}

async function load(root: string): Promise<Tree> {
  const module = async (path: string): Promise<never> => (await import(resolve(root, path))) as never;
  return {
    batchInput: await module('src/pipeline/batch-input.ts'),
    bufferPool: await module('src/pipeline/buffer-pool.ts'),
    encodeBatch: await module('src/pipeline/encode-batch.ts'),
    encode: await module('src/sinks/elasticsearch/encode.ts'),
  };
}

const generator = new AuditEventGenerator({ seed: 99 });
const lines = Array.from({ length: EVENTS }, () => Buffer.from(generator.nextLine()));

/** A round of one tree: encodes every batch, returns the bytes written. */
function rounds(tree: Tree): () => Uint8Array[] {
  const pool = new tree.bufferPool.BufferPool(0);
  const file = { key: 'k', path: '/var/log/kubernetes/audit.log' };
  const inputs: unknown[] = [];
  let offset = 0;
  for (let start = 0; start < EVENTS; start += BATCH) {
    const builder = new tree.batchInput.BatchInputBuilder(pool, 4 * 1024 * 1024, pool, BATCH);
    for (const line of lines.slice(start, start + BATCH)) {
      offset += line.length + 1;
      builder.add(line, file, offset);
    }
    inputs.push(builder.build());
  }
  const output = Buffer.allocUnsafeSlow(32 * 1024 * 1024);
  const eventTable = Buffer.allocUnsafeSlow(tree.encodeBatch.eventTableBytes(BATCH));
  const encoders = new tree.encodeBatch.LineEncoders();
  const encoding = { format: 'elasticsearch-bulk', target: tree.encode.dataStreamTarget('default') };
  const enrich = { cluster: 'bench', node: 'n1' };
  return () =>
    inputs.map((input) => {
      const job = { sink: 'b', encoding, enrich, maxEventBytes: 1 << 26, input, output, eventTable };
      return Buffer.from(tree.encodeBatch.encodeBatch(job, encoders).payload);
    });
}

const trees = [await load(before), await load(new URL('..', import.meta.url).pathname)];
const runs = trees.map(rounds);
const best = [Infinity, Infinity];
const written: Uint8Array[][] = [];
for (let round = 0; round < ROUNDS; round++) {
  // Each tree goes first every other round: the second of a pair runs on a warmer (or more fragmented) heap.
  for (const tree of round % 2 === 0 ? [0, 1] : [1, 0]) {
    const started = process.cpuUsage();
    written[tree] = (runs[tree] as () => Uint8Array[])();
    const used = process.cpuUsage(started);
    if (round >= WARM_UP_ROUNDS)
      best[tree] = Math.min(best[tree] as number, (used.user + used.system) / EVENTS);
  }
}
const [a = [], b = []] = written;
const sameBytes =
  a.length === b.length && a.every((payload, index) => Buffer.compare(payload, b[index] as Uint8Array) === 0);
const [aMicros = 0, bMicros = 0] = best;
process.stdout.write(
  `${JSON.stringify({
    bench: 'encode A/B (Elasticsearch, one thread, interleaved)',
    a: resolve(before),
    b: new URL('..', import.meta.url).pathname,
    events: EVENTS,
    aMicrosPerEvent: Number(aMicros.toFixed(2)),
    bMicrosPerEvent: Number(bMicros.toFixed(2)),
    bLessPercent: Number(((1 - bMicros / aMicros) * 100).toFixed(1)),
    sameBytes,
  })}\n`,
);
