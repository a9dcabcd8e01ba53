// Parses one audit line and enriches it with what the event itself lacks: cluster, node, a
// timestamp and a deterministic id. Pure and allocation-light: this is the per-line hot path.
import { isAscii, isUtf8 } from 'node:buffer';
import { hash } from 'node:crypto';
import type { AuditEvent, EventOrigin, OutEvent } from './event.ts';
import { isJsonWhitespace } from './json-scan.ts';
import { StringWriter, type WireWriter } from './wire-writer.ts';

export interface EnrichContext {
  readonly cluster: string;
  readonly node: string;
}

export type ParseOutcome =
  | { readonly ok: true; readonly event: OutEvent }
  | {
      readonly ok: false;
      readonly reason: 'invalid-utf8' | 'invalid-json' | 'not-an-object';
      readonly detail: string;
    };

/** Parses and enriches one line (without its '\n'). */
export function parseAuditLine(line: Buffer, origin: EventOrigin, context: EnrichContext): ParseOutcome {
  let raw: string;
  // Most lines are ASCII: decoding them as Latin-1 gives the same string, at half the cost.
  if (isAscii(line)) raw = line.toString('latin1');
  else if (isUtf8(line)) raw = line.toString('utf8');
  else return { ok: false, reason: 'invalid-utf8', detail: 'the line is not valid UTF-8' };
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch (error) {
    return { ok: false, reason: 'invalid-json', detail: (error as Error).message };
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    return { ok: false, reason: 'not-an-object', detail: 'the line is JSON but not an object' };
  }
  const audit = parsed as AuditEvent;
  return {
    ok: true,
    event: {
      audit,
      raw,
      id: eventId(context.cluster, audit, raw),
      timestamp: eventTimestamp(audit),
      cluster: context.cluster,
      node: context.node,
      origin,
    },
  };
}

/**
 * A stable id for an event: the same line read twice (after a crash) gets the same id, so sinks
 * with idempotent writes (Elasticsearch create + _id) store it once. auditID alone repeats across
 * stages, so the stage is part of it; the cluster keeps clusters sharing one index apart.
 */
export function eventId(cluster: string, audit: AuditEvent, raw: string): string {
  const identity =
    typeof audit.auditID === 'string' && typeof audit.stage === 'string'
      ? `${cluster}\u0000${audit.auditID}\u0000${audit.stage}`
      : `${cluster}\u0000raw\u0000${raw}`;
  return eventIdOf(identity);
}

/** The id of an identity (see eventId): a string, or its UTF-8 bytes, which digest the same. */
export function eventIdOf(identity: string | Uint8Array): string {
  return hash('sha256', identity, 'base64url').slice(0, 32);
}

/** stageTimestamp (when this stage happened), else the request's time, else v1beta1's timestamp. */
export function eventTimestamp(audit: AuditEvent): string {
  return recordedTime(audit) ?? new Date().toISOString();
}

/** The time the event carries (see eventTimestamp), if it carries one. */
export function recordedTime(audit: Readonly<Record<string, unknown>>): string | undefined {
  const candidate = audit.stageTimestamp ?? audit.requestReceivedTimestamp ?? audit.timestamp;
  return typeof candidate === 'string' && candidate !== '' ? candidate : undefined;
}

/**
 * The enriched event as one JSON line, built around the original bytes rather than re-serialized,
 * so Go's escapes and key order survive (JSON.stringify would turn \u0026 into &).
 */
export function toEnrichedJson(event: OutEvent): string {
  const out = new StringWriter(event.raw);
  writeEnrichedJson(event, out);
  return out.value;
}

/** Writes toEnrichedJson(event), the original part copied from the line. */
export function writeEnrichedJson(event: OutEvent, out: WireWriter): void {
  let prefix = `{"@timestamp":${JSON.stringify(event.timestamp)},"cluster":${JSON.stringify(event.cluster)},"node":${JSON.stringify(event.node)},"eventId":"${event.id}"`;
  if (event.shrunk) prefix += `,"forwarder":${JSON.stringify({ shrunk: event.shrunk })}`;
  const { raw } = event;
  // The members after the line's opening brace, whitespace around it skipped.
  let body = raw.indexOf('{') + 1;
  while (isJsonWhitespace(raw.charCodeAt(body))) body++;
  if (raw.charCodeAt(body) === 0x7d) {
    out.text(`${prefix}}`);
    return;
  }
  out.text(`${prefix},`);
  out.raw(body, raw.length);
}
