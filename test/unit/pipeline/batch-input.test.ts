import { describe, expect, it } from 'vitest';
import { BatchInputBuilder, lineOf, releaseBatchInput } from '../../../src/pipeline/batch-input.ts';
import { BufferPool } from '../../../src/pipeline/buffer-pool.ts';
import { encodeBatch, eventTableBytes, outputBytesFor } from '../../../src/pipeline/encode-batch.ts';

const fileA = { key: 'a', path: '/logs/a' };
const fileB = { key: 'b', path: '/logs/b' };

describe('BatchInputBuilder', () => {
  it('keeps every line, offset and file when a batch outgrows the line table it was sized for', () => {
    const lines = new BufferPool(2, Number.POSITIVE_INFINITY, 64);
    const tables = new BufferPool(2, Number.POSITIVE_INFINITY, 64);
    // 64 bytes hold 4 lines' table: 37 lines make it grow four times.
    const builder = new BatchInputBuilder(lines, 64, tables, 2);
    const offsets: number[] = [];
    let offset = 5_000_000_000; // past 2^32: offsets are not 32-bit
    for (let index = 0; index < 37; index++) {
      offsets.push(offset);
      builder.add(Buffer.from(`line ${index}`), index < 20 ? fileA : fileB, offset);
      offset += `line ${index}`.length + 1;
    }
    const input = builder.build();
    expect(input.lineEnds).toHaveLength(37);
    expect(Array.from(input.lineOffsets)).toEqual(offsets);
    expect(input.files).toEqual([fileA, fileB]);
    expect(Array.from(input.lineFiles)).toEqual(
      Array.from({ length: 37 }, (_, index) => (index < 20 ? 0 : 1)),
    );
    expect(Array.from({ length: 37 }, (_, index) => Buffer.from(lineOf(input, index)).toString())).toEqual(
      Array.from({ length: 37 }, (_, index) => `line ${index}`),
    );
  });

  it('gives its buffers back, and the next batch reuses them', () => {
    const lines = new BufferPool(2, Number.POSITIVE_INFINITY, 64);
    const tables = new BufferPool(2, Number.POSITIVE_INFINITY, 64);
    const first = new BatchInputBuilder(lines, 64, tables, 4);
    first.add(Buffer.from('{}'), fileA, 0);
    const input = first.build();
    releaseBatchInput(input, input.lines, lines, tables);
    const second = new BatchInputBuilder(lines, 64, tables, 4).build();
    expect(second.lines.buffer).toBe(input.lines.buffer);
    expect(second.lineOffsets.buffer).toBe(input.lineOffsets.buffer);
  });
});

describe('encodeBatch event table', () => {
  it('writes the events into the table it is given, or into a new one when it is too small', () => {
    const pool = new BufferPool(0, Number.POSITIVE_INFINITY, 64);
    const builder = new BatchInputBuilder(pool, 64, pool, 3);
    builder.add(Buffer.from('{"auditID":"1","stage":"ResponseComplete"}'), fileA, 0);
    builder.add(Buffer.from('not json'), fileA, 43);
    builder.add(Buffer.from('{"auditID":"2","stage":"ResponseComplete"}'), fileA, 52);
    const input = builder.build();
    const job = {
      sink: 'file',
      encoding: { format: 'enriched-json' as const },
      enrich: { cluster: 'c', node: 'n' },
      maxEventBytes: 1 << 20,
      input,
      output: Buffer.alloc(outputBytesFor(input.lines.byteLength)),
    };
    const table = Buffer.alloc(eventTableBytes(3));
    const encoded = encodeBatch({ ...job, eventTable: table });
    expect(encoded.eventEnds.buffer).toBe(table.buffer);
    expect(Array.from(encoded.eventLines)).toEqual([0, 2]);
    expect(encoded.deadLetters.map((record) => record.offset)).toEqual([43]);
    const small = encodeBatch({ ...job, eventTable: Buffer.alloc(4) });
    expect(Array.from(small.eventEnds)).toEqual(Array.from(encoded.eventEnds));
    expect(Array.from(small.eventLines)).toEqual([0, 2]);
  });
});
