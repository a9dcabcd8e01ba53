import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseAuditLine } from '../../../src/pipeline/enrich.ts';
import type { OutEvent } from '../../../src/pipeline/event.ts';
import type { EventEncoding } from '../../../src/sinks/encoding.ts';
import { FileSink } from '../../../src/sinks/file/file-sink.ts';
import { encodedBatch } from '../../helpers/batches.ts';

const ENRICHED: EventEncoding = { format: 'enriched-json' };

function event(auditID: string): OutEvent {
  const outcome = parseAuditLine(
    Buffer.from(
      JSON.stringify({ auditID, stage: 'ResponseComplete', stageTimestamp: '2026-01-01T00:00:00.000000Z' }),
    ),
    { path: '/a', fileKey: 'k', offset: 0 },
    { cluster: 'c', node: 'n' },
  );
  if (!outcome.ok) throw new Error('bad fixture');
  return outcome.event;
}

describe('FileSink', () => {
  it('appends enriched JSON lines in the order batches were sent', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'kaf-file-sink-'));
    const sink = new FileSink({ name: 'f', path: join(dir, 'sub', 'out.jsonl') });
    await sink.healthcheck();
    const results = await Promise.all([
      sink.send(encodedBatch(ENRICHED, [event('a'), event('b')], 1)),
      sink.send(encodedBatch(ENRICHED, [event('c')], 2)),
    ]);
    expect(results).toEqual([{ status: 'delivered' }, { status: 'delivered' }]);
    await sink.close();
    const lines = (await readFile(join(dir, 'sub', 'out.jsonl'), 'utf8')).trim().split('\n');
    expect(lines.map((line) => (JSON.parse(line) as { auditID: string; cluster: string }).auditID)).toEqual([
      'a',
      'b',
      'c',
    ]);
  });

  it('cuts off a partial last line left by a crash before appending', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'kaf-file-sink-'));
    const path = join(dir, 'out.jsonl');
    await writeFile(path, '{"auditID":"a"}\n{"auditID":"b"}\n{"audit');
    const sink = new FileSink({ name: 'f', path });
    await sink.send(encodedBatch(ENRICHED, [event('c')], 1));
    await sink.close();
    const lines = (await readFile(path, 'utf8')).trim().split('\n');
    expect(lines.map((line) => (JSON.parse(line) as { auditID: string }).auditID)).toEqual(['a', 'b', 'c']);
  });

  it('reports a write failure as retryable', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'kaf-file-sink-'));
    await writeFile(join(dir, 'not-a-dir'), '');
    const sink = new FileSink({ name: 'f', path: join(dir, 'not-a-dir', 'out.jsonl') });
    const result = await sink.send(encodedBatch(ENRICHED, [event('a')], 1));
    expect(result.status).toBe('retryable');
    await expect(sink.healthcheck()).rejects.toThrow('Sink f: cannot open');
  });
});
