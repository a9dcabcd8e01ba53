// Micro benchmark of the Elasticsearch sink's encoding: OutEvent → ECS document → NDJSON bulk body.
// Prints one JSON line.
import { cpus } from 'node:os';
import { parseAuditLine } from '../src/pipeline/enrich.ts';
import type { OutEvent } from '../src/pipeline/event.ts';
import { dataStreamTarget, encodeBulkBody } from '../src/sinks/elasticsearch/encode.ts';
import { AuditEventGenerator } from '../src/simulator/generator.ts';

const LINES = Number(process.env.BENCH_LINES ?? 100_000);
const BATCH = 1000;
const generator = new AuditEventGenerator({ seed: 5 });
const events: OutEvent[] = [];
for (let index = 0; index < LINES; index++) {
  const outcome = parseAuditLine(
    Buffer.from(generator.nextLine()),
    { path: '/a', fileKey: 'k', offset: index },
    {
      cluster: 'bench',
      node: 'n1',
    },
  );
  if (outcome.ok) events.push(outcome.event);
}
const target = dataStreamTarget('default');

function run(): { seconds: number; bytes: number } {
  const started = performance.now();
  let bytes = 0;
  for (let start = 0; start < events.length; start += BATCH) {
    bytes += encodeBulkBody(events.slice(start, start + BATCH), target).length;
  }
  return { seconds: (performance.now() - started) / 1000, bytes };
}

run();
const { seconds, bytes } = run();
process.stdout.write(
  `${JSON.stringify({
    name: 'elasticsearch encode (ECS document + bulk NDJSON)',
    events: events.length,
    eventsPerSecond: Math.round(events.length / seconds),
    bodyMegabytesPerSecond: Math.round((bytes / 1024 / 1024 / seconds) * 10) / 10,
    node: process.version,
    cpu: cpus()[0]?.model,
  })}\n`,
);
