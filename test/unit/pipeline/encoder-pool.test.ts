import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { BatchInputBuilder } from '../../../src/pipeline/batch-input.ts';
import { BufferPool } from '../../../src/pipeline/buffer-pool.ts';
import {
  type EncodeJob,
  encodeBatch,
  eventTableBytes,
  LineEncoders,
  outputBytesFor,
} from '../../../src/pipeline/encode-batch.ts';
import { encodeWorkerCount, InlineEncoder, WorkerPoolEncoder } from '../../../src/pipeline/encoder-pool.ts';
import { dataStreamTarget } from '../../../src/sinks/elasticsearch/encode.ts';
import { AuditEventGenerator } from '../../../src/simulator/generator.ts';

const pool = new BufferPool(0);
const file = { key: 'k1', path: '/var/log/kubernetes/audit.log' };

/** A job over generated lines plus an invalid one, each call with buffers of its own. */
function job(
  lines: readonly string[],
  namespace = 'default',
  enrich = { cluster: 'c1', node: 'n1' },
): EncodeJob {
  const input = new BatchInputBuilder(pool, 1024, pool, lines.length);
  let offset = 0;
  for (const line of lines) {
    input.add(Buffer.from(line), file, offset);
    offset += Buffer.byteLength(line) + 1;
  }
  const built = input.build();
  return {
    sink: 'es',
    encoding: { format: 'elasticsearch-bulk', target: dataStreamTarget(namespace) },
    enrich,
    maxEventBytes: 64 * 1024,
    input: built,
    output: pool.acquire(outputBytesFor(built.lines.byteLength)),
    eventTable: pool.acquire(eventTableBytes(lines.length)),
  };
}

function generatedLines(seed: number, count: number): string[] {
  const generator = new AuditEventGenerator({ seed, largeEventRatio: 0.05 });
  const lines = Array.from({ length: count }, () => generator.nextLine());
  lines.splice(3, 0, '{"truncated":', '[1,2]');
  return lines;
}

const encoders: WorkerPoolEncoder[] = [];
afterEach(async () => {
  for (const encoder of encoders.splice(0)) await encoder.close();
});

describe('WorkerPoolEncoder', () => {
  it('encodes on worker threads exactly as inline, batches in parallel, and hands the buffers back', async () => {
    const encoder = new WorkerPoolEncoder(2, pino({ level: 'silent' }));
    encoders.push(encoder);
    const batches = [1, 2, 3, 4].map((seed) => generatedLines(seed, 300));
    const jobs = batches.map((lines) => job(lines));
    const inputBytes = jobs.map((sent) => Buffer.from(sent.input.lines));
    const results = await Promise.all(jobs.map((sent) => encoder.encode(sent)));
    // Sent buffers were moved to the workers, not copied.
    expect(jobs[0]?.input.lines.byteLength).toBe(0);
    results.forEach((result, index) => {
      const expected = encodeBatch(job(batches[index] ?? []));
      expect(Buffer.from(result.payload).equals(Buffer.from(expected.payload))).toBe(true);
      expect(result.eventEnds).toEqual(expected.eventEnds);
      expect(result.eventLines).toEqual(expected.eventLines);
      expect(result.deadLetters).toEqual(expected.deadLetters);
      expect(result.deadLetters.map((record) => record.reason)).toEqual(['invalid-json', 'not-an-object']);
      expect(result.oldestEventTime).toBe(expected.oldestEventTime);
      expect(Buffer.from(result.lines).equals(inputBytes[index] ?? Buffer.alloc(0))).toBe(true);
    });
  });

  it('encodes inline once closed', async () => {
    const encoder = new WorkerPoolEncoder(1, pino({ level: 'silent' }));
    await encoder.close();
    const result = await encoder.encode(job(generatedLines(5, 10)));
    expect(result.eventEnds).toHaveLength(10);
  });
});

describe('encodeBatch', () => {
  it('writes with encoders kept across batches what it writes with new ones, each sink with its own', () => {
    const kept = new LineEncoders();
    const sinks = [
      ['default', { cluster: 'c1', node: 'n1' }],
      ['prod', { cluster: 'c1', node: 'n1' }],
      ['default', { cluster: 'c2', node: 'n1' }],
      ['default', { cluster: 'c1', node: 'n2' }],
    ] as const;
    for (let round = 0; round < 3; round++) {
      sinks.forEach(([namespace, enrich], index) => {
        const lines = generatedLines(10 * round + index, 40);
        const expected = encodeBatch(job(lines, namespace, enrich));
        const result = encodeBatch(job(lines, namespace, { ...enrich }), kept);
        expect(Buffer.from(result.payload).equals(Buffer.from(expected.payload))).toBe(true);
        expect(Buffer.from(result.payload).toString()).toContain(`"namespace":"${namespace}"`);
        expect(result.eventEnds).toEqual(expected.eventEnds);
      });
    }
  });

  it('refuses an input whose buffer was moved away rather than reading it as no events', async () => {
    const sent = job(generatedLines(6, 5));
    structuredClone(sent.input.lines.buffer, { transfer: [sent.input.lines.buffer as ArrayBuffer] });
    expect(() => encodeBatch(sent)).toThrow(/batch input holds 0 bytes/);
    await expect(new InlineEncoder().encode(sent)).rejects.toThrow(/batch input holds 0 bytes/);
  });
});

describe('encodeWorkerCount', () => {
  it('leaves one CPU to the main thread, none to spare on one CPU, and at most 2; a number is taken as is', () => {
    expect([1, 2, 3, 8, 64].map((cpus) => encodeWorkerCount('auto', cpus))).toEqual([0, 1, 2, 2, 2]);
    expect(encodeWorkerCount(0, 8)).toBe(0);
    expect(encodeWorkerCount(6, 2)).toBe(6);
  });
});
