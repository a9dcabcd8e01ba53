// Micro benchmark of the per-line hot path after framing: UTF-8 check, JSON.parse, enrichment,
// id hashing, and the file sink's serialization. Prints one JSON line.
import { cpus } from 'node:os';
import { parseAuditLine, toEnrichedJson } from '../src/pipeline/enrich.ts';
import { AuditEventGenerator } from '../src/simulator/generator.ts';

const LINES = Number(process.env.BENCH_LINES ?? 200_000);
const generator = new AuditEventGenerator({ seed: 99 });
const lines = Array.from({ length: LINES }, () => Buffer.from(generator.nextLine()));
const bytes = lines.reduce((sum, line) => sum + line.length + 1, 0);
const context = { cluster: 'bench', node: 'n1' };

function run(serialize: boolean): number {
  const started = performance.now();
  let sink = 0;
  for (let index = 0; index < lines.length; index++) {
    const outcome = parseAuditLine(
      lines[index] as Buffer,
      { path: '/a', fileKey: 'k', offset: index },
      context,
    );
    if (outcome.ok && serialize) sink += toEnrichedJson(outcome.event).length;
  }
  if (sink < 0) throw new Error('unreachable');
  return (performance.now() - started) / 1000;
}

run(true); // warm-up
const parseSeconds = run(false);
const fullSeconds = run(true);
const sorted = lines.map((line) => line.length).sort((a, b) => a - b);
process.stdout.write(
  `${JSON.stringify({
    name: 'parse + enrich (+ file-sink serialization)',
    lines: LINES,
    medianLineBytes: sorted[Math.floor(sorted.length / 2)],
    parseEnrichLinesPerSecond: Math.round(LINES / parseSeconds),
    withSerializationLinesPerSecond: Math.round(LINES / fullSeconds),
    megabytesPerSecond: Math.round((bytes / 1024 / 1024 / fullSeconds) * 10) / 10,
    node: process.version,
    cpu: cpus()[0]?.model,
  })}\n`,
);
