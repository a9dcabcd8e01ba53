// Builds sink batches from events the way the lane does (each event in the sink's wire form), and
// reads enriched-JSON batches back.
import type { OutEvent, ShrinkInfo } from '../../src/pipeline/event.ts';
import { type EventEncoding, encodeEvent } from '../../src/sinks/encoding.ts';
import type { Batch } from '../../src/sinks/sink.ts';

export function encodedBatch(encoding: EventEncoding, events: readonly OutEvent[], seq = 1): Batch {
  const parts = events.map((event) => Buffer.from(encodeEvent(encoding, event)));
  const ends: number[] = [];
  let length = 0;
  for (const part of parts) {
    length += part.length;
    ends.push(length);
  }
  return { seq, payload: Buffer.concat(parts, length), ends };
}

/** An event as an enriched-JSON batch carries it. */
export interface SeenEvent {
  readonly audit: Record<string, unknown> & { auditID?: string };
  readonly cluster: unknown;
  readonly node: unknown;
  readonly timestamp: unknown;
  readonly id: unknown;
  readonly shrunk: ShrinkInfo | undefined;
}

/** The events of a batch in the enriched-json encoding. */
export function enrichedEvents(batch: Batch): SeenEvent[] {
  return Array.from(batch.ends, (end, index) => {
    const start = index === 0 ? 0 : (batch.ends[index - 1] as number);
    const record = JSON.parse(batch.payload.subarray(start, end).toString('utf8')) as Record<string, unknown>;
    const {
      '@timestamp': timestamp,
      cluster,
      node,
      eventId: id,
      forwarder,
      ...audit
    } = record as Record<string, unknown> & { forwarder?: { shrunk?: ShrinkInfo } };
    return { audit, cluster, node, timestamp, id, shrunk: forwarder?.shrunk };
  });
}
