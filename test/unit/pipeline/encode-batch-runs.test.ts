// encodeBatch with the WebAssembly writer's runs (lines written without a call per line) against encodeBatch
// with every document written in JS, line by line: the same payload, event table, dead letters and oldest
// time, batch for batch, whatever the lines (declined ones amid runs, invalid UTF-8 and JSON, files
// changing mid-batch, more files than the runs have room for, lines over the sink's event size).
import { describe, expect, it } from 'vitest';
import { type BatchInput, BatchInputBuilder } from '../../../src/pipeline/batch-input.ts';
import { BufferPool } from '../../../src/pipeline/buffer-pool.ts';
import {
  type EncodedBatch,
  encodeBatch,
  eventTableBytes,
  LineEncoders,
} from '../../../src/pipeline/encode-batch.ts';
import { dataStreamTarget } from '../../../src/sinks/elasticsearch/encode.ts';
import { AuditEventGenerator } from '../../../src/simulator/generator.ts';
import { Prng } from '../../../src/simulator/prng.ts';
import { useFixedClock } from '../../helpers/fixed-clock.ts';

const ENCODING = { format: 'elasticsearch-bulk', target: dataStreamTarget('default') } as const;
const ENRICH = { cluster: 'prod-eu', node: 'cp-1' };

interface Line {
  readonly bytes: Buffer;
  readonly path: string;
}

function batchInput(lines: readonly Line[]): BatchInput {
  const pool = new BufferPool(0);
  const builder = new BatchInputBuilder(pool, 1024, pool, lines.length);
  let offset = 2 ** 33;
  for (const line of lines) {
    builder.add(line.bytes, { key: `key:${line.path}`, path: line.path }, offset);
    offset += line.bytes.length + 1;
  }
  return builder.build();
}

function encoded(lines: readonly Line[], encoders: LineEncoders, maxEventBytes: number): EncodedBatch {
  const input = batchInput(lines);
  return encodeBatch(
    {
      sink: 'es',
      encoding: ENCODING,
      enrich: ENRICH,
      maxEventBytes,
      input,
      output: Buffer.alloc(1024),
      eventTable: Buffer.alloc(eventTableBytes(lines.length)),
    },
    encoders,
  );
}

/** Encodes the batches both ways (encoders kept across batches, as a thread keeps them) and compares them. */
function expectSameBatches(batches: readonly (readonly Line[])[], maxEventBytes = 8 * 1024 * 1024): number {
  const withRuns = new LineEncoders();
  const inJs = new LineEncoders({ webAssemblyDocuments: false });
  for (const lines of batches) {
    const runs = encoded(lines, withRuns, maxEventBytes);
    const js = encoded(lines, inJs, maxEventBytes);
    expect(Buffer.from(runs.payload).toString()).toBe(Buffer.from(js.payload).toString());
    expect([...runs.eventEnds]).toEqual([...js.eventEnds]);
    expect([...runs.eventLines]).toEqual([...js.eventLines]);
    expect(runs.deadLetters).toEqual(js.deadLetters);
    expect(runs.shrunk).toBe(js.shrunk);
    expect(runs.oldestEventTime).toBe(js.oldestEventTime);
  }
  return withRuns.for(ENCODING, ENRICH)?.webAssemblyDocuments ?? 0;
}

const PATH = '/var/log/kubernetes/audit.log';

describe('encodeBatch in runs of the WebAssembly writer', () => {
  useFixedClock();

  it('writes what line-by-line JS writes, for batches of generated events of every size', () => {
    const generator = new AuditEventGenerator({ seed: 77, largeEventRatio: 0.03 });
    const batches: Line[][] = [];
    let total = 0;
    for (const size of [1, 2, 1000, 3000, 17, 700]) {
      batches.push(
        Array.from({ length: size }, () => ({ bytes: Buffer.from(generator.nextLine()), path: PATH })),
      );
      total += size;
    }
    const written = expectSameBatches(batches);
    expect(written / total).toBeGreaterThan(0.95);
  });

  it('agrees around lines it leaves to the line-by-line path: mutated, invalid, oversized, other days', () => {
    const generator = new AuditEventGenerator({ seed: 78, largeEventRatio: 0.02 });
    const random = new Prng(5);
    const batches: Line[][] = [];
    for (let batch = 0; batch < 12; batch++) {
      const lines: Line[] = [];
      for (let index = 0; index < 400; index++) {
        let bytes = Buffer.from(generator.nextLine());
        const roll = random.int(40);
        if (roll === 0)
          bytes[random.int(bytes.length)] = Buffer.from('{}[]":,.\\_ 0a')[random.int(13)] as number;
        else if (roll === 1)
          bytes = Buffer.concat([bytes.subarray(0, 40), Buffer.from([0xc3, 0x28]), bytes.subarray(40)]);
        else if (roll === 2)
          bytes = Buffer.from(
            bytes
              .toString()
              .replace(
                /"stageTimestamp":"\d{4}-\d\d-\d\d/,
                `"stageTimestamp":"2031-07-0${1 + random.int(9)}`,
              ),
          );
        else if (roll === 3)
          bytes = Buffer.from(bytes.toString().replace(/"auditID":"/, '"auditID":"\\u0041'));
        else if (roll === 4) bytes = Buffer.from('not json at all');
        lines.push({ bytes, path: PATH });
      }
      batches.push(lines);
    }
    expect(expectSameBatches(batches)).toBeGreaterThan(3000);
    // An event size that sends the larger lines to the size policy.
    expect(expectSameBatches(batches.slice(0, 3), 4000)).toBeGreaterThan(500);
  });

  it('follows files changing within a batch, more of them than runs have room for', () => {
    const generator = new AuditEventGenerator({ seed: 79 });
    const lines: Line[] = [];
    for (let index = 0; index < 1200; index++) {
      // Runs of a few lines per file, 40 files, some back again (a new file entry each time).
      const file = Math.floor(index / 7) % 40;
      lines.push({ bytes: Buffer.from(generator.nextLine()), path: `${PATH}.${file}` });
    }
    const long = `/var/log/${'p'.repeat(30_000)}/audit.log`;
    const withLong = lines
      .slice(0, 100)
      .map((line, index) => (index % 10 === 5 ? { ...line, path: long } : line));
    expect(expectSameBatches([lines, withLong, lines])).toBeGreaterThan(1200);
  });

  it('stops runs for room and goes on: a batch of lines of up to 64 KiB, several MB of documents', () => {
    const generator = new AuditEventGenerator({ seed: 80, largeEventRatio: 0.3 });
    const lines: Line[] = [];
    while (lines.length < 600) {
      const bytes = Buffer.from(generator.nextLine());
      if (bytes.length <= 64 * 1024) lines.push({ bytes, path: PATH });
    }
    expect(expectSameBatches([lines])).toBe(600);
  });
});
