// Micro benchmark of the per-event hot path: encodeBatch on batches of 1,000 generated lines, one thread, for
// each encoding: for Elasticsearch the byte path (validating scan, ECS from spans, id hash), for enriched JSON
// UTF-8 check, JSON.parse, enrichment and the size policy. What one encoder thread can do. Prints one JSON line.
import { cpus } from 'node:os';
import { type BatchInput, BatchInputBuilder } from '../src/pipeline/batch-input.ts';
import { BufferPool } from '../src/pipeline/buffer-pool.ts';
import { encodeBatch, eventTableBytes, LineEncoders } from '../src/pipeline/encode-batch.ts';
import { dataStreamTarget } from '../src/sinks/elasticsearch/encode.ts';
import type { EventEncoding } from '../src/sinks/encoding.ts';
import { AuditEventGenerator } from '../src/simulator/generator.ts';

const EVENTS = Number(process.env.BENCH_LINES ?? 200_000);
const BATCH = 1000;
const generator = new AuditEventGenerator({ seed: 99 });
const pool = new BufferPool(0);
const file = { key: 'k', path: '/var/log/kubernetes/audit.log' };
const inputs: BatchInput[] = [];
let lineBytes = 0;
for (let start = 0; start < EVENTS; start += BATCH) {
  const builder = new BatchInputBuilder(pool, 4 * 1024 * 1024, pool, BATCH);
  for (let index = start; index < Math.min(start + BATCH, EVENTS); index++) {
    const line = Buffer.from(generator.nextLine());
    lineBytes += line.length + 1;
    builder.add(line, file, lineBytes);
  }
  inputs.push(builder.build());
}
const output = Buffer.allocUnsafeSlow(32 * 1024 * 1024);
const eventTable = Buffer.allocUnsafeSlow(eventTableBytes(BATCH));

function eventsPerSecond(encoding: EventEncoding): { eventsPerSecond: number; wireBytesPerEvent: number } {
  // Kept across batches, as an encoder thread keeps them.
  const encoders = new LineEncoders();
  const run = (): { seconds: number; bytes: number } => {
    const started = performance.now();
    let bytes = 0;
    for (const input of inputs) {
      const job = {
        sink: 'bench',
        encoding,
        enrich: { cluster: 'bench', node: 'n1' },
        maxEventBytes: 1 << 26,
      };
      bytes += encodeBatch({ ...job, input, output, eventTable }, encoders).payload.length;
    }
    return { seconds: (performance.now() - started) / 1000, bytes };
  };
  run(); // warm-up
  const { seconds, bytes } = run();
  return { eventsPerSecond: Math.round(EVENTS / seconds), wireBytesPerEvent: Math.round(bytes / EVENTS) };
}

const elasticsearch = eventsPerSecond({ format: 'elasticsearch-bulk', target: dataStreamTarget('default') });
const enriched = eventsPerSecond({ format: 'enriched-json' });
process.stdout.write(
  `${JSON.stringify({
    name: 'parse + enrich + encode, one thread (encodeBatch)',
    events: EVENTS,
    lineBytesPerEvent: Math.round(lineBytes / EVENTS),
    elasticsearchEventsPerSecond: elasticsearch.eventsPerSecond,
    elasticsearchWireBytesPerEvent: elasticsearch.wireBytesPerEvent,
    enrichedJsonEventsPerSecond: enriched.eventsPerSecond,
    enrichedJsonWireBytesPerEvent: enriched.wireBytesPerEvent,
    node: process.version,
    cpu: cpus()[0]?.model,
  })}\n`,
);
