// Pure encoding of OutEvents into ECS documents and the NDJSON `_bulk` body (`create` + deterministic _id).
// Invariant: no document can fail on mapping even under plain dynamic mapping: free-form objects become JSON
// strings and every key is dedotted, so field types and the field count depend on our code, not on the cluster.
import { createHash } from 'node:crypto';
import { isIP } from 'node:net';
import type { OutEvent } from '../../pipeline/event.ts';
import { DATASET, type IndexPattern } from './config.ts';

export const ECS_VERSION = '8.11.0';
/** Elasticsearch refuses longer _id values for the whole request (sinks.md §1.1 action meta). */
const MAX_ID_BYTES = 512;

export type EsTarget =
  | { readonly kind: 'data-stream'; readonly name: string; readonly namespace: string }
  | { readonly kind: 'index'; readonly pattern: IndexPattern; readonly source: string };

/** The data stream `logs-kubernetes.audit_logs-<namespace>`, as Elastic's Kubernetes integration names it. */
export function dataStreamTarget(namespace: string): EsTarget {
  return { kind: 'data-stream', name: `logs-${DATASET}-${namespace}`, namespace };
}

/** The index (or data stream) an event is written to. */
export function targetIndexFor(target: EsTarget, timestamp: string): string {
  if (target.kind === 'data-stream') return target.name;
  const millis = Date.parse(timestamp);
  return target.pattern
    .map((part) => {
      if (part.kind === 'text') return part.text;
      // Unparsable timestamps still get a stable, valid name, so retries go to the same index.
      return Number.isNaN(millis) ? 'unknown-date' : formatDate(part.format, new Date(millis));
    })
    .join('');
}

/** The Elasticsearch _id: OutEvent.id, hashed when Elasticsearch would refuse it. */
export function documentId(event: OutEvent): string {
  if (event.id !== '' && Buffer.byteLength(event.id) <= MAX_ID_BYTES) return event.id;
  return createHash('sha256')
    .update(event.id === '' ? event.raw : event.id)
    .digest('hex');
}

/** The NDJSON body of one bulk request: a `create` action and a document per event, each line "\n"-terminated. */
export function encodeBulkBody(events: readonly OutEvent[], target: EsTarget): string {
  let body = '';
  for (const event of events) {
    const action = { create: { _index: targetIndexFor(target, event.timestamp), _id: documentId(event) } };
    body += `${JSON.stringify(action)}\n${JSON.stringify(toDocument(event, target))}\n`;
  }
  return body;
}

/** The ECS document for one event (see the field table in the Elasticsearch sink's design notes). */
export function toDocument(event: OutEvent, target: EsTarget): Record<string, unknown> {
  const audit = event.audit;
  const code = audit.responseStatus?.code;
  const decision = audit.annotations?.['authorization.k8s.io/decision'];
  const username = audit.user?.username;
  const impersonated = audit.impersonatedUser?.username;
  const ips = (audit.sourceIPs ?? []).filter((ip) => typeof ip === 'string' && isIP(ip) !== 0);
  const objectRef = audit.objectRef ?? {};

  const document = compact({
    '@timestamp': event.timestamp,
    message: summary(event),
    ecs: { version: ECS_VERSION },
    data_stream:
      target.kind === 'data-stream'
        ? { type: 'logs', dataset: DATASET, namespace: target.namespace }
        : undefined,
    event: {
      kind: 'event',
      category: ['api'],
      type: eventTypes(audit.verb, decision),
      action: audit.verb,
      outcome: outcome(code, decision),
      dataset: DATASET,
      module: 'kubernetes',
      id: event.id,
      duration: audit.stage === 'RequestReceived' ? undefined : durationNanos(audit),
    },
    user: {
      name: username,
      id: audit.user?.uid,
      group: { name: audit.user?.groups },
      effective: { name: impersonated, group: { name: audit.impersonatedUser?.groups } },
    },
    // sourceIPs[0] is the client as X-Forwarded-For reports it (client-controlled); the list stays in
    // kubernetes.audit.sourceIPs. Invalid entries are skipped: an ip field would refuse the whole event.
    source: { ip: ips[0] },
    related: { ip: unique(ips), user: unique([username, impersonated]) },
    user_agent: { original: audit.userAgent },
    orchestrator: {
      type: 'kubernetes',
      cluster: { name: event.cluster },
      namespace: objectRef.namespace,
      resource: { type: objectRef.resource, name: objectRef.name },
    },
    host: { name: event.node },
    log: { file: { path: event.origin.path }, offset: event.origin.offset },
    k8s_audit_forwarder: event.shrunk
      ? { shrunk: { removed: event.shrunk.removed, original_bytes: event.shrunk.originalBytes } }
      : undefined,
  });
  // Added after compact(): the audit subtree is large, and walking it twice per event costs more than the
  // rest of the encoding together; JSON.stringify drops its undefined values anyway.
  document.kubernetes = { audit: auditFields(event) };
  return document;
}

/**
 * kubernetes.audit.*: the audit event with its keys dedotted, and requestObject/responseObject as JSON text in
 * requestObjectJson/responseObjectJson. Those objects hold arbitrary resources (managedFields keys like ".",
 * `status` as object or string, thousands of keys): mapped dynamically they cause the rejections of
 * elastic/integrations#3259 and the field explosion of kube-audit-rest#169. They are renamed so as not to clash
 * with the object mapping Elastic's integration gives kubernetes.audit.requestObject.
 */
function auditFields(event: OutEvent): Record<string, unknown> {
  const { requestObject, responseObject, ...rest } = event.audit;
  const fields = sanitize(rest) as Record<string, unknown>;
  if (requestObject !== undefined && requestObject !== null)
    fields.requestObjectJson = JSON.stringify(requestObject);
  if (responseObject !== undefined && responseObject !== null) {
    fields.responseObjectJson = JSON.stringify(responseObject);
  }
  return fields;
}

/**
 * Copies a JSON value, replacing "." in keys by "_" (as Elastic Agent's dedot does: authorization.k8s.io/decision
 * becomes authorization_k8s_io/decision) and empty or blank keys by "_", which Elasticsearch refuses.
 */
export function sanitize(value: unknown): unknown {
  if (value === null || typeof value !== 'object') return value;
  // Copy-on-write: most subtrees have no dotted or blank keys and are returned as they are, which keeps
  // this per-event walk from allocating a second copy of every event.
  if (Array.isArray(value)) {
    let copy: unknown[] | undefined;
    for (let index = 0; index < value.length; index++) {
      const item: unknown = value[index];
      const clean = sanitize(item);
      if (clean !== item) {
        copy ??= value.slice();
        copy[index] = clean;
      }
    }
    return copy ?? value;
  }
  const record = value as Record<string, unknown>;
  let out: Record<string, unknown> | undefined;
  let position = 0;
  for (const key in record) {
    const item = record[key];
    const clean = sanitize(item);
    const renamed = key.includes('.') || key.trim() === '';
    if (out === undefined && (renamed || clean !== item)) {
      // Rebuild from here on, keeping the keys before this one in their order.
      out = {};
      let seen = 0;
      for (const earlier in record) {
        if (seen++ === position) break;
        out[earlier] = record[earlier];
      }
    }
    if (out !== undefined) {
      let name = renamed ? key.replaceAll('.', '_') : key;
      if (name.trim() === '') name = '_';
      // Two keys can meet after dedotting ("a.b" and "a_b"); keep both.
      while (Object.hasOwn(out, name)) name = `${name}_`;
      out[name] = clean;
    }
    position++;
  }
  return out ?? record;
}

function summary(event: OutEvent): string {
  const { audit } = event;
  const who = audit.user?.username ?? 'unknown';
  const as = audit.impersonatedUser?.username === undefined ? '' : ` as ${audit.impersonatedUser.username}`;
  const code = audit.responseStatus?.code;
  const result = code === undefined ? `(${audit.stage ?? 'unknown stage'})` : `-> ${code}`;
  return `${who}${as} ${audit.verb ?? '?'} ${audit.requestURI ?? '?'} ${result}`;
}

function eventTypes(verb: string | undefined, decision: string | undefined): string[] {
  const types: string[] = [];
  switch (verb) {
    case 'create':
      types.push('creation');
      break;
    case 'update':
    case 'patch':
      types.push('change');
      break;
    case 'delete':
    case 'deletecollection':
      types.push('deletion');
      break;
    case 'get':
    case 'list':
    case 'watch':
      types.push('access');
      break;
    case undefined:
    default:
      types.push('info');
  }
  if (decision === 'allow') types.push('allowed');
  if (decision === 'forbid') types.push('denied');
  return types;
}

function outcome(code: number | undefined, decision: string | undefined): string {
  if (typeof code === 'number' && code > 0) return code >= 400 ? 'failure' : 'success';
  return decision === 'forbid' ? 'failure' : 'unknown';
}

/** stageTimestamp - requestReceivedTimestamp in nanoseconds (MicroTime keeps microseconds). */
function durationNanos(audit: OutEvent['audit']): number | undefined {
  const start = parseTime(audit.requestReceivedTimestamp);
  const end = parseTime(audit.stageTimestamp);
  if (start === undefined || end === undefined) return undefined;
  // Epoch nanoseconds exceed 2^53, so subtract milliseconds and sub-millisecond parts separately.
  const nanos = (end.millis - start.millis) * 1e6 + (end.subMillisNanos - start.subMillisNanos);
  return nanos < 0 ? undefined : nanos;
}

function parseTime(timestamp: string | undefined): { millis: number; subMillisNanos: number } | undefined {
  if (typeof timestamp !== 'string') return undefined;
  const millis = Date.parse(timestamp);
  if (Number.isNaN(millis)) return undefined;
  const fraction = /\.(\d+)/.exec(timestamp)?.[1] ?? '';
  return { millis, subMillisNanos: Number(fraction.slice(3, 9).padEnd(6, '0')) };
}

function unique(values: readonly (string | undefined)[]): string[] | undefined {
  const present = [
    ...new Set(values.filter((value): value is string => typeof value === 'string' && value !== '')),
  ];
  return present.length === 0 ? undefined : present;
}

function formatDate(format: string, date: Date): string {
  const pad = (value: number): string => String(value).padStart(2, '0');
  return format.replace(/yyyy|yy|MM|dd|HH/g, (token) => {
    switch (token) {
      case 'yyyy':
        return String(date.getUTCFullYear());
      case 'yy':
        return pad(date.getUTCFullYear() % 100);
      case 'MM':
        return pad(date.getUTCMonth() + 1);
      case 'dd':
        return pad(date.getUTCDate());
      default:
        return pad(date.getUTCHours());
    }
  });
}

/** Drops undefined values and objects left empty, so documents carry only what the event has. */
function compact(value: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const key in value) {
    const item = value[key];
    if (item === undefined) continue;
    if (item !== null && typeof item === 'object' && !Array.isArray(item)) {
      const inner = compact(item as Record<string, unknown>);
      for (const _key in inner) {
        out[key] = inner;
        break;
      }
      continue;
    }
    out[key] = item;
  }
  return out;
}
