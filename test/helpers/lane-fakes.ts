// In-memory doubles for lane tests: a LineSource fed from a list and a scriptable sink.
import type { EventEncoding } from '../../src/sinks/encoding.ts';
import type { Batch, SendResult, Sink } from '../../src/sinks/sink.ts';
import type { LineSource, SourceItem } from '../../src/source/source.ts';
import { enrichedEvents, type SeenEvent } from './batches.ts';

/** Hands out the given items, then waits (like a tailer at EOF) until aborted. */
export class ListSource implements LineSource {
  readonly #items: SourceItem[];
  #waiter: ((item: SourceItem) => void) | undefined;
  pulls = 0;

  constructor(items: readonly SourceItem[]) {
    this.#items = [...items];
  }

  /** Adds an item; a next() waiting for one gets it. */
  push(item: SourceItem): void {
    const waiter = this.#waiter;
    this.#waiter = undefined;
    if (waiter) waiter(item);
    else this.#items.push(item);
  }

  next(signal: AbortSignal): Promise<SourceItem> {
    this.pulls++;
    const item = this.#items.shift();
    if (item) return Promise.resolve(item);
    return new Promise((resolve, reject) => {
      this.#waiter = resolve;
      signal.addEventListener(
        'abort',
        () => {
          this.#waiter = undefined;
          reject(signal.reason as Error);
        },
        { once: true },
      );
    });
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}

/** Builds a lines item from text lines starting at `start` in file `key`. */
export function linesItem(texts: readonly string[], start = 0, key = 'f1'): SourceItem {
  const data = Buffer.from(texts.map((text) => `${text}\n`).join(''));
  const lineEnds: number[] = [];
  let end = 0;
  for (const text of texts) {
    end += Buffer.byteLength(text);
    lineEnds.push(end);
    end++;
  }
  return {
    kind: 'lines',
    file: { key, path: `/logs/${key}` },
    start,
    end: start + data.length,
    data,
    lineEnds,
  };
}

export function auditLine(
  auditID: string,
  stage = 'ResponseComplete',
  extra: Record<string, unknown> = {},
): string {
  return JSON.stringify({
    kind: 'Event',
    apiVersion: 'audit.k8s.io/v1',
    level: 'Metadata',
    auditID,
    stage,
    verb: 'get',
    requestURI: '/api/v1/pods',
    user: { username: 'alice' },
    requestReceivedTimestamp: '2026-11-28T10:00:00.000000Z',
    stageTimestamp: '2026-11-28T10:00:00.100000Z',
    ...extra,
  });
}

/** A batch as the scripted sink saw it: the wire form, and its events read back. */
export interface SeenBatch extends Batch {
  readonly events: readonly SeenEvent[];
}

export type Responder = (batch: SeenBatch, call: number) => SendResult | Promise<SendResult>;

/** A sink whose answers a test scripts; records every batch it saw. */
export class ScriptedSink implements Sink {
  readonly name = 'scripted';
  readonly type = 'test';
  readonly maxEventBytes: number;
  readonly encoding: EventEncoding = { format: 'enriched-json' };
  readonly calls: SeenBatch[] = [];
  readonly delivered: string[] = [];
  #responder: Responder;

  constructor(responder: Responder = () => ({ status: 'delivered' }), maxEventBytes = 1024 * 1024) {
    this.#responder = responder;
    this.maxEventBytes = maxEventBytes;
  }

  setResponder(responder: Responder): void {
    this.#responder = responder;
  }

  healthcheck(): Promise<void> {
    return Promise.resolve();
  }

  async send(sent: Batch): Promise<SendResult> {
    const batch: SeenBatch = { ...sent, events: enrichedEvents(sent) };
    this.calls.push(batch);
    const result = await this.#responder(batch, this.calls.length);
    const retry = new Set(result.status === 'partial' ? result.retry : []);
    const rejected = new Set(result.status === 'partial' ? result.rejected.map((r) => r.index) : []);
    if (result.status === 'delivered' || result.status === 'partial') {
      batch.events.forEach((event, index) => {
        if (!retry.has(index) && !rejected.has(index)) delivered(this, event.audit.auditID ?? '?');
      });
    }
    return result;
  }

  close(): Promise<void> {
    return Promise.resolve();
  }

  destroy(): void {
    // Nothing to abort.
  }
}

function delivered(sink: ScriptedSink, id: string): void {
  sink.delivered.push(id);
}
