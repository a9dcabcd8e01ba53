import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type BatchEncoder, InlineEncoder } from '../../../src/pipeline/encoder-pool.ts';
import { Lane, type LaneOptions } from '../../../src/pipeline/lane.ts';
import { DeadLetterFile } from '../../../src/sinks/dead-letter.ts';
import { lineOffsetOf, type SourceItem } from '../../../src/source/source.ts';
import { ForwarderMetrics } from '../../../src/status/metrics.ts';
import { auditLine, linesItem, ListSource, ScriptedSink } from '../../helpers/lane-fakes.ts';

const options: LaneOptions = {
  batch: { maxEvents: 2, maxBytes: 1024 * 1024, maxWaitMs: 5 },
  maxInFlightBatches: 2,
  maxBufferedBytes: 1024 * 1024,
  retry: { initialBackoffMs: 1, maxBackoffMs: 2 },
};

interface Harness {
  lane: Lane;
  running: Promise<void>;
  source: ListSource;
  sink: ScriptedSink;
  acks: Map<string, number>;
  deadLetter: DeadLetterFile;
  metrics: ForwarderMetrics;
  stop: () => Promise<void>;
}

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kaf-lane-'));
});
const open: Harness[] = [];
afterEach(async () => {
  for (const harness of open.splice(0)) await harness.stop();
});

function startLane(
  items: readonly SourceItem[],
  sink = new ScriptedSink(),
  laneOptions = options,
  encoder: BatchEncoder = new InlineEncoder(),
): Harness {
  const source = new ListSource(items);
  const acks = new Map<string, number>();
  const deadLetter = new DeadLetterFile(dir);
  const metrics = new ForwarderMetrics({ collectProcessMetrics: false });
  const lane = new Lane(laneOptions, {
    sink,
    source,
    enrich: { cluster: 'c1', node: 'n1' },
    deadLetter,
    onAcknowledged: (key, offset) => acks.set(key, offset),
    log: pino({ level: 'silent' }),
    metrics,
    encoder,
  });
  const abort = new AbortController();
  const running = lane.run(abort.signal);
  running.catch(() => undefined);
  const harness: Harness = {
    lane,
    running,
    source,
    sink,
    acks,
    deadLetter,
    metrics,
    stop: async () => {
      abort.abort(new Error('test over'));
      await running.catch(() => undefined);
      lane.abort();
      await lane.drain(50);
      await deadLetter.close();
    },
  };
  open.push(harness);
  return harness;
}

async function waitFor(predicate: () => boolean, timeoutMs = 2000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setImmediate(resolve));
  }
}

/** A sink that holds each batch until the test calls its release (in `releases`, in call order). */
function heldSink(): { sink: ScriptedSink; releases: (() => void)[] } {
  const releases: (() => void)[] = [];
  const sink = new ScriptedSink(
    () =>
      new Promise((resolve) => {
        releases.push(() => {
          resolve({ status: 'delivered' });
        });
      }),
  );
  return { sink, releases };
}

async function deadLetters(): Promise<Record<string, unknown>[]> {
  const text = await readFile(join(dir, 'dead-letter.jsonl'), 'utf8').catch(() => '');
  return text
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

describe('Lane', () => {
  it('delivers every event once, enriched, and acknowledges up to the end of what it read', async () => {
    const item = linesItem([auditLine('a'), auditLine('b'), auditLine('c')], 100);
    const { sink, acks } = startLane([item]);
    await waitFor(() => acks.get('f1') === item.end);
    expect(sink.delivered).toEqual(['a', 'b', 'c']);
    const event = sink.calls[0]?.events[0];
    expect(event).toMatchObject({ cluster: 'c1', node: 'n1', timestamp: '2026-11-28T10:00:00.100000Z' });
    expect(event?.id).toMatch(/^[A-Za-z0-9_-]{32}$/);
  });

  it('writes invalid lines to the dead-letter file with the reason and still acknowledges their range', async () => {
    const item = linesItem([auditLine('a'), '{not json', '[1,2]', auditLine('b')]);
    const { sink, acks } = startLane([item]);
    await waitFor(() => acks.get('f1') === item.end);
    expect(sink.delivered).toEqual(['a', 'b']);
    const records = await deadLetters();
    expect(records.map((r) => [r.reason, r.offset, r.line])).toEqual([
      ['invalid-json', item.kind === 'lines' ? lineOffsetOf(item, 1) : -1, '{not json'],
      ['not-an-object', item.kind === 'lines' ? lineOffsetOf(item, 2) : -1, '[1,2]'],
    ]);
    expect(records[0]).toMatchObject({ sink: 'scripted', path: '/logs/f1', fileKey: 'f1' });
  });

  it('stores invalid UTF-8 lines as base64', async () => {
    const bad = Buffer.from([0x7b, 0xff, 0xfe, 0x7d]);
    const item: SourceItem = {
      kind: 'lines',
      file: { key: 'f1', path: '/logs/f1' },
      start: 0,
      end: 5,
      data: bad,
      lineEnds: [bad.length],
    };
    const { acks } = startLane([item]);
    await waitFor(() => acks.get('f1') === 5);
    expect(await deadLetters()).toMatchObject([
      { reason: 'invalid-utf8', lineEncoding: 'base64', line: bad.toString('base64') },
    ]);
  });

  it('retries retryable failures until the sink takes the batch, counting each retry', async () => {
    const sink = new ScriptedSink((_batch, call) =>
      call <= 3 ? { status: 'retryable', reason: 'HTTP 503' } : { status: 'delivered' },
    );
    const item = linesItem([auditLine('a'), auditLine('b')]);
    const { acks, lane } = startLane([item], sink);
    await waitFor(() => acks.get('f1') === item.end);
    expect(sink.delivered).toEqual(['a', 'b']);
    expect(lane.status()).toMatchObject({ state: 'ok', retried: 3, delivered: 2, lastError: 'HTTP 503' });
  });

  it('reports a sink that keeps failing as failing and never acknowledges its events', async () => {
    const sink = new ScriptedSink(() => ({ status: 'retryable', reason: 'connection refused' }));
    const item = linesItem([auditLine('a')]);
    const { acks, lane } = startLane([item], sink);
    await waitFor(() => sink.calls.length >= 5);
    expect(lane.status()).toMatchObject({ state: 'failing', lastError: 'connection refused', delivered: 0 });
    expect(lane.status().failingSince).toBeDefined();
    expect(acks.get('f1')).toBeUndefined();
  });

  it('resends only the events a partial result asks for and dead-letters the rejected ones', async () => {
    const sink = new ScriptedSink((batch, call) =>
      call === 1
        ? { status: 'partial', retry: [1], rejected: [{ index: 0, reason: 'mapper_parsing_exception' }] }
        : { status: 'delivered' },
    );
    const item = linesItem([auditLine('a'), auditLine('b')]);
    const { acks } = startLane([item], sink);
    await waitFor(() => acks.get('f1') === item.end);
    expect(sink.calls.map((call) => call.events.map((event) => event.audit.auditID))).toEqual([
      ['a', 'b'],
      ['b'],
    ]);
    expect(sink.delivered).toEqual(['b']);
    expect(await deadLetters()).toMatchObject([
      { reason: 'rejected-by-sink', detail: 'mapper_parsing_exception', event: { auditID: 'a' } },
    ]);
  });

  it('splits a batch the sink finds too large and sends the halves', async () => {
    const sink = new ScriptedSink((batch) =>
      batch.ends.length > 1 ? { status: 'too-large', reason: 'HTTP 413' } : { status: 'delivered' },
    );
    const item = linesItem([auditLine('a'), auditLine('b'), auditLine('c'), auditLine('d')]);
    const { acks } = startLane([item], sink, { ...options, batch: { ...options.batch, maxEvents: 4 } });
    await waitFor(() => acks.get('f1') === item.end);
    expect(sink.delivered).toEqual(['a', 'b', 'c', 'd']);
  });

  it('dead-letters a single event that is still too large for the sink', async () => {
    const sink = new ScriptedSink(() => ({ status: 'too-large', reason: 'HTTP 413' }));
    const item = linesItem([auditLine('a')]);
    const { acks } = startLane([item], sink);
    await waitFor(() => acks.get('f1') === item.end);
    expect(await deadLetters()).toMatchObject([
      { reason: 'rejected-by-sink', detail: 'too large for the sink: HTTP 413' },
    ]);
  });

  it('advances the watermark only over contiguous acknowledged batches', async () => {
    const { sink, releases } = heldSink();
    const first = linesItem([auditLine('a'), auditLine('b')]);
    const second = linesItem([auditLine('c'), auditLine('d')], first.end);
    const { acks } = startLane([first, second], sink);
    await waitFor(() => releases.length === 2);
    releases[1]?.();
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(acks.get('f1')).toBeUndefined();
    releases[0]?.();
    await waitFor(() => acks.get('f1') === second.end);
  });

  it('stops pulling from the source while the sink holds maxInFlightBatches', async () => {
    const sink = new ScriptedSink(() => new Promise(() => undefined));
    const items = Array.from({ length: 20 }, (_, index) => linesItem([auditLine(`e${index}`)], index * 1000));
    const { source } = startLane(items, sink, { ...options, batch: { ...options.batch, maxEvents: 1 } });
    await waitFor(() => sink.calls.length === 2);
    await new Promise((resolve) => setTimeout(resolve, 30));
    expect(sink.calls.length).toBe(2);
    expect(source.pulls).toBeLessThanOrEqual(3);
  });

  it('fills the next batch while every slot is taken, holds the rest of the item, and sends it when one frees', async () => {
    const { sink, releases } = heldSink();
    // Items of 5 lines, batches of 3 (maxWaitMs long enough not to cut one short before the checks).
    const names = Array.from({ length: 20 }, (_, index) => `e${index}`);
    const items: SourceItem[] = [];
    for (let first = 0; first < names.length; first += 5) {
      const start = items.at(-1)?.end ?? 0;
      items.push(
        linesItem(
          names.slice(first, first + 5).map((name) => auditLine(name)),
          start,
        ),
      );
    }
    const { source, acks, lane } = startLane(items, sink, {
      ...options,
      batch: { ...options.batch, maxEvents: 3, maxWaitMs: 300 },
    });
    await waitFor(() => releases.length === 2);
    await new Promise((resolve) => setTimeout(resolve, 30));
    // Two batches out (e0-e5), the third full (e6-e8) and waiting, e9 held: no more is read.
    expect(sink.calls.map((call) => call.events.map((event) => event.audit.auditID))).toEqual([
      ['e0', 'e1', 'e2'],
      ['e3', 'e4', 'e5'],
    ]);
    expect(source.pulls).toBe(2);
    expect(lane.status().inFlightBatches).toBe(2);
    releases[0]?.();
    // The waiting batch goes as the slot frees; the held line starts the next one.
    await waitFor(() => sink.calls.length === 3);
    expect(sink.calls[2]?.events.map((event) => event.audit.auditID)).toEqual(['e6', 'e7', 'e8']);
    expect(lane.status().inFlightBatches).toBe(2);
    sink.setResponder(() => ({ status: 'delivered' }));
    for (const release of releases.slice(1)) release();
    await waitFor(() => acks.get('f1') === items.at(-1)?.end);
    expect(sink.delivered).toEqual(names);
  });

  it('sends a batch whose maxWaitMs passed while every slot was taken when one frees, adding nothing to it', async () => {
    const { sink, releases } = heldSink();
    const first = linesItem(['a', 'b', 'c', 'd', 'e'].map((name) => auditLine(name)));
    const { source, acks } = startLane([first], sink, {
      ...options,
      batch: { ...options.batch, maxEvents: 2, maxWaitMs: 20 },
    });
    await waitFor(() => releases.length === 2);
    // 'e' waits alone past its maxWaitMs; then more lines come, which must not join its batch.
    await new Promise((resolve) => setTimeout(resolve, 60));
    const second = linesItem(
      ['f', 'g'].map((name) => auditLine(name)),
      first.end,
    );
    source.push(second);
    await new Promise((resolve) => setTimeout(resolve, 30));
    expect(sink.calls).toHaveLength(2);
    sink.setResponder(() => ({ status: 'delivered' }));
    releases[0]?.();
    await waitFor(() => sink.calls.length === 4);
    expect(sink.calls.map((call) => call.events.map((event) => event.audit.auditID))).toEqual([
      ['a', 'b'],
      ['c', 'd'],
      ['e'],
      ['f', 'g'],
    ]);
    releases[1]?.();
    await waitFor(() => acks.get('f1') === second.end);
    expect(sink.delivered).toEqual(['a', 'b', 'e', 'f', 'g', 'c', 'd']);
  });

  it('dead-letters oversize lines with their length and acknowledges skipped NUL ranges', async () => {
    const file = { key: 'f1', path: '/logs/f1' };
    const items: SourceItem[] = [
      { kind: 'oversize', file, start: 0, end: 10_001, head: Buffer.from('{"kind":"Ev'), length: 10_000 },
      { kind: 'skipped', file, start: 10_001, end: 10_101, reason: 'nul-bytes' },
      linesItem([auditLine('a')], 10_101),
    ];
    const { acks, sink, metrics } = startLane(items);
    const end = items[2]?.end ?? 0;
    await waitFor(() => acks.get('f1') === end);
    expect(sink.delivered).toEqual(['a']);
    expect(await deadLetters()).toMatchObject([
      { reason: 'line-too-long', length: 10_000, offset: 0, truncated: true, line: '{"kind":"Ev' },
    ]);
    expect(await metrics.registry.getSingleMetricAsString('audit_forwarder_skipped_bytes_total')).toContain(
      'audit_forwarder_skipped_bytes_total{reason="nul-bytes"} 100',
    );
  });

  it('shrinks an event over the sink limit by dropping responseObject, then requestObject', async () => {
    const big = auditLine('a', 'ResponseComplete', {
      requestObject: { spec: 'r'.repeat(300) },
      responseObject: { spec: 'x'.repeat(5000) },
    });
    const sink = new ScriptedSink(undefined, 1000);
    const item = linesItem([
      big,
      auditLine('b', 'ResponseComplete', {
        responseObject: { x: 'y'.repeat(5000) },
        requestObject: { y: 'z'.repeat(5000) },
      }),
    ]);
    const { acks } = startLane([item], sink);
    await waitFor(() => acks.get('f1') === item.end);
    const [first, second] = sink.calls.flatMap((call) => call.events);
    expect(first?.shrunk).toEqual({ removed: ['responseObject'], originalBytes: Buffer.byteLength(big) });
    expect(first?.audit.requestObject).toEqual({ spec: 'r'.repeat(300) });
    expect(first?.audit.annotations).toEqual({ 'audit.k8s.io/truncated': 'true' });
    expect(second?.shrunk?.removed).toEqual(['responseObject', 'requestObject']);
  });

  it('stops with an error, acknowledging nothing, when a batch cannot be encoded (it is re-read on start)', async () => {
    const failing: BatchEncoder = {
      encode: () => Promise.reject(new Error('encoder worker exited with code 1')),
      close: () => Promise.resolve(),
    };
    const item = linesItem([auditLine('a'), auditLine('b'), auditLine('c')]);
    const { running, acks, sink } = startLane([item], new ScriptedSink(), options, failing);
    await expect(running).rejects.toThrow('encoder worker exited with code 1');
    expect(acks.size).toBe(0);
    expect(sink.calls).toHaveLength(0);
  });
});
