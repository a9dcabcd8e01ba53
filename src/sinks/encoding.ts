// How a sink wants each event on the wire. A plain, cloneable description rather than a method, so
// that encoding can run in worker threads, away from the sink object and its client and credentials.
import { writeEnrichedJson } from '../pipeline/enrich.ts';
import type { OutEvent } from '../pipeline/event.ts';
import { StringWriter, type WireWriter } from '../pipeline/wire-writer.ts';
import { type EsTarget, writeBulkItem } from './elasticsearch/encode.ts';

export type EventEncoding =
  /** One enriched JSON line per event (file and stdout sinks). */
  | { readonly format: 'enriched-json' }
  /** A `create` action line and the ECS document line per event (Elasticsearch `_bulk`). */
  | { readonly format: 'elasticsearch-bulk'; readonly target: EsTarget };

/** Writes one event's wire form, "\n"-terminated. */
export function writeEvent(encoding: EventEncoding, event: OutEvent, out: WireWriter): void {
  switch (encoding.format) {
    case 'enriched-json':
      writeEnrichedJson(event, out);
      out.text('\n');
      return;
    case 'elasticsearch-bulk':
      writeBulkItem(event, encoding.target, out);
      return;
  }
}

/** One event's wire form as a string. */
export function encodeEvent(encoding: EventEncoding, event: OutEvent): string {
  const out = new StringWriter(event.raw);
  writeEvent(encoding, event, out);
  return out.value;
}
