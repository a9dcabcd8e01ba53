// Makes an oversized event fit a sink by dropping the bodies the API server itself drops when it
// truncates (responseObject first, then requestObject), so who did what, when and with what outcome
// always arrives. Only an event that still does not fit is given up on (dead-letter).
import type { AuditEvent, OutEvent } from './event.ts';

const DROPPABLE_FIELDS = ['responseObject', 'requestObject'] as const;

export type FitOutcome =
  | { readonly fits: true; readonly event: OutEvent }
  | { readonly fits: false; readonly sizeBytes: number };

/** The serialized size of an event as the sinks see it, approximated by its source line. */
export function eventSizeBytes(event: OutEvent): number {
  return Buffer.byteLength(event.raw);
}

/** `originalBytes`: the event's size when the caller knows it (its line's length), to save measuring it. */
export function fitEvent(
  event: OutEvent,
  maxEventBytes: number,
  originalBytes: number = eventSizeBytes(event),
): FitOutcome {
  if (originalBytes <= maxEventBytes) return { fits: true, event };
  const removed: string[] = [];
  let audit: AuditEvent = event.audit;
  let fittedBytes = originalBytes;
  for (const field of DROPPABLE_FIELDS) {
    if (audit[field] === undefined) continue;
    const { [field]: _dropped, ...rest } = audit;
    audit = rest;
    removed.push(field);
    const annotations = { ...audit.annotations, 'audit.k8s.io/truncated': 'true' };
    audit = { ...audit, annotations };
    fittedBytes = Buffer.byteLength(JSON.stringify(audit));
    if (fittedBytes <= maxEventBytes) {
      return {
        fits: true,
        event: { ...event, audit, raw: JSON.stringify(audit), shrunk: { removed, originalBytes } },
      };
    }
  }
  return { fits: false, sizeBytes: fittedBytes };
}
