// Pure encoding of OutEvents into ECS documents and the NDJSON `_bulk` body (`create` + deterministic _id).
// Invariant: no document can fail on mapping even under plain dynamic mapping: free-form objects become JSON
// strings and every key is dedotted, so field types and the field count depend on our code, not on the cluster.
import { createHash } from 'node:crypto';
import { isIP } from 'node:net';
import type { OutEvent } from '../../pipeline/event.ts';
import { StringWriter, type WireWriter } from '../../pipeline/wire-writer.ts';
import type { IndexPattern } from './config.ts';
import { DATASET } from './dataset.ts';

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
  for (const event of events) body += encodeBulkItem(event, target);
  return body;
}

/** One event's `create` action and document, both "\n"-terminated (see writeBulkItem). */
export function encodeBulkItem(event: OutEvent, target: EsTarget): string {
  const out = new StringWriter(event.raw);
  writeBulkItem(event, target, out);
  return out.value;
}

/**
 * Writes one event's `create` action and document, both "\n"-terminated: the JSON text of toDocument(). The
 * general path, for the lines encode-line.ts leaves (unusual ones, shrunk events): it serializes the parsed
 * event, so the bodies' text is JSON.stringify's rather than the API server's (the same values).
 */
export function writeBulkItem(event: OutEvent, target: EsTarget, out: WireWriter): void {
  const index = JSON.stringify(targetIndexFor(target, event.timestamp));
  out.text(
    `{"create":{"_index":${index},"_id":${JSON.stringify(documentId(event))}}}\n${ecsJsonOpen(event, target)},"kubernetes":{"audit":`,
  );
  out.text(JSON.stringify(auditFields(event)));
  out.text('}}\n');
}

/**
 * The ECS document for one event (see the field table in the Elasticsearch sink's design notes), as an
 * object: what writeBulkItem sends, with the audit subtree built from the parsed event.
 */
export function toDocument(event: OutEvent, target: EsTarget): Record<string, unknown> {
  const document = JSON.parse(`${ecsJsonOpen(event, target)}}`) as Record<string, unknown>;
  document.kubernetes = { audit: auditFields(event) };
  return document;
}

/**
 * The document's fields but kubernetes.audit, as JSON text without its closing brace. Written directly:
 * building an object, dropping its empty parts and serializing it cost more than the rest of the document.
 */
function ecsJsonOpen(event: OutEvent, target: EsTarget): string {
  const { audit } = event;
  const { user, impersonatedUser } = audit;
  const objectRef = audit.objectRef ?? {};
  const code = audit.responseStatus?.code;
  const decision = audit.annotations?.['authorization.k8s.io/decision'];
  const username = user?.username;
  const impersonated = impersonatedUser?.username;
  const ips = (audit.sourceIPs ?? []).filter((ip) => typeof ip === 'string' && isIP(ip) !== 0);
  let json = `{"@timestamp":${JSON.stringify(event.timestamp)},"message":${JSON.stringify(summary(event))},"ecs":{"version":"${ECS_VERSION}"}`;
  if (target.kind === 'data-stream') {
    json += `,"data_stream":{"type":"logs","dataset":"${DATASET}","namespace":${JSON.stringify(target.namespace)}}`;
  }
  const duration = audit.stage === 'RequestReceived' ? undefined : durationNanos(audit);
  json += `,"event":{"kind":"event","category":["api"],"type":${eventTypesJson(audit.verb, decision)}${member('action', audit.verb)},"outcome":"${outcome(code, decision)}","dataset":"${DATASET}","module":"kubernetes"${member('id', event.id)}${member('duration', duration)}}`;
  json += object(
    'user',
    member('name', username) +
      member('id', user?.uid) +
      object('group', member('name', user?.groups)) +
      object(
        'effective',
        member('name', impersonated) + object('group', member('name', impersonatedUser?.groups)),
      ),
  );
  json += object('source', member('ip', ips[0]));
  json += object('related', member('ip', unique(ips)) + member('user', unique([username, impersonated])));
  json += object('user_agent', member('original', audit.userAgent));
  json += `,"orchestrator":{"type":"kubernetes","cluster":{"name":${JSON.stringify(event.cluster)}}${member('namespace', objectRef.namespace)}${object('resource', member('type', objectRef.resource) + member('name', objectRef.name))}}`;
  json += `,"host":{"name":${JSON.stringify(event.node)}},"log":{"file":{"path":${JSON.stringify(event.origin.path)}},"offset":${event.origin.offset}}`;
  if (event.shrunk) {
    json += `,"k8s_audit_forwarder":{"shrunk":{"removed":${JSON.stringify(event.shrunk.removed)},"original_bytes":${event.shrunk.originalBytes}}}`;
  }
  return json;
}

/** `,"name":value`, or nothing for undefined or an object that is empty once compacted. */
function member(name: string, value: unknown): string {
  if (value === undefined) return '';
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    const inner = JSON.stringify(compact(value as Record<string, unknown>));
    return inner === '{}' ? '' : `,"${name}":${inner}`;
  }
  return `,"${name}":${JSON.stringify(value)}`;
}

/** `,"name":{members}` for members written by member(), nothing when there are none. */
function object(name: string, members: string): string {
  return members === '' ? '' : `,"${name}":{${members.slice(1)}}`;
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
 * Copy-on-write: a subtree with nothing to rename is returned as it is, which keeps this per-event walk
 * from allocating a second copy of every event.
 */
export function sanitize(value: unknown): unknown {
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) {
    for (let index = 0; index < value.length; index++) {
      const item: unknown = value[index];
      if (item === null || typeof item !== 'object') continue;
      const clean = sanitize(item);
      if (clean !== item) return sanitizeArrayFrom(value, index, clean);
    }
    return value;
  }
  const record = value as Record<string, unknown>;
  const keys = Object.keys(record);
  for (let index = 0; index < keys.length; index++) {
    const key = keys[index] as string;
    const item = record[key];
    const clean = item === null || typeof item !== 'object' ? item : sanitize(item);
    if (clean !== item || needsRename(key)) return sanitizeRecordFrom(record, keys, index);
  }
  return record;
}

/** The copy of `array` whose items before `index` are clean and whose item at `index` cleans to `clean`. */
function sanitizeArrayFrom(array: readonly unknown[], index: number, clean: unknown): unknown[] {
  const copy = array.slice();
  copy[index] = clean;
  for (let rest = index + 1; rest < copy.length; rest++) copy[rest] = sanitize(copy[rest]);
  return copy;
}

/** The cleaned copy of `record`, whose keys before `index` need no change. */
function sanitizeRecordFrom(
  record: Readonly<Record<string, unknown>>,
  keys: readonly string[],
  index: number,
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (let earlier = 0; earlier < index; earlier++) {
    const key = keys[earlier] as string;
    out[key] = record[key];
  }
  for (let rest = index; rest < keys.length; rest++) {
    const key = keys[rest] as string;
    let name = needsRename(key) ? key.replaceAll('.', '_') : key;
    if (name.trim() === '') name = '_';
    // Two keys can meet after dedotting ("a.b" and "a_b"); keep both.
    while (Object.hasOwn(out, name)) name = `${name}_`;
    out[name] = sanitize(record[key]);
  }
  return out;
}

/** Elasticsearch would expand dots into objects, and refuses empty or blank names. */
function needsRename(key: string): boolean {
  if (key.length === 0 || key.includes('.')) return true;
  const first = key.charCodeAt(0);
  // Only a key that starts with whitespace can be blank.
  return (first === 0x20 || first === 0x09 || first === 0x0a || first === 0x0d) && key.trim() === '';
}

function summary(event: OutEvent): string {
  const { audit } = event;
  const who = audit.user?.username ?? 'unknown';
  const as = audit.impersonatedUser?.username === undefined ? '' : ` as ${audit.impersonatedUser.username}`;
  const code = audit.responseStatus?.code;
  const result = code === undefined ? `(${audit.stage ?? 'unknown stage'})` : `-> ${code}`;
  return `${who}${as} ${audit.verb ?? '?'} ${audit.requestURI ?? '?'} ${result}`;
}

/** eventTypes() as JSON text, from a table: the per-event path writes it without building an array. */
export function eventTypesJson(verb: unknown, decision: unknown): string {
  const byDecision = EVENT_TYPES_JSON.get(typeof verb === 'string' ? verb : '') ?? DEFAULT_EVENT_TYPES_JSON;
  return decision === 'allow'
    ? byDecision.allow
    : decision === 'forbid'
      ? byDecision.forbid
      : byDecision.other;
}

interface TypesByDecision {
  readonly allow: string;
  readonly forbid: string;
  readonly other: string;
}

function typesByDecision(verb: string | undefined): TypesByDecision {
  return {
    allow: JSON.stringify(eventTypes(verb, 'allow')),
    forbid: JSON.stringify(eventTypes(verb, 'forbid')),
    other: JSON.stringify(eventTypes(verb, undefined)),
  };
}

/** The verbs whose event.type is not the default's. */
export const TYPED_VERBS = [
  'create',
  'update',
  'patch',
  'delete',
  'deletecollection',
  'get',
  'list',
  'watch',
];

const EVENT_TYPES_JSON: ReadonlyMap<string, TypesByDecision> = new Map(
  TYPED_VERBS.map((verb) => [verb, typesByDecision(verb)]),
);
const DEFAULT_EVENT_TYPES_JSON = typesByDecision(undefined);

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

/** ECS event.outcome's values, as this sink sets them. */
export const OUTCOMES = ['success', 'failure', 'unknown'] as const;
export type Outcome = (typeof OUTCOMES)[number];

export function outcome(code: number | undefined, decision: string | undefined): Outcome {
  if (typeof code === 'number' && code > 0) return code >= 400 ? 'failure' : 'success';
  return decision === 'forbid' ? 'failure' : 'unknown';
}

/** stageTimestamp - requestReceivedTimestamp in nanoseconds (MicroTime keeps microseconds). */
export function durationNanos(audit: {
  readonly requestReceivedTimestamp?: unknown;
  readonly stageTimestamp?: unknown;
}): number | undefined {
  const start = parseTime(audit.requestReceivedTimestamp);
  const end = parseTime(audit.stageTimestamp);
  if (start === undefined || end === undefined) return undefined;
  // Epoch nanoseconds exceed 2^53, so subtract milliseconds and sub-millisecond parts separately.
  const nanos = (end.millis - start.millis) * 1e6 + (end.subMillisNanos - start.subMillisNanos);
  return nanos < 0 ? undefined : nanos;
}

/**
 * Whether Date.parse takes the day `day` (YYYY-MM-DD) at all: durationNanos() then reads times of that day as
 * the byte-reading encoders do (Date.parse is lenient, 02-30 rolls over, 13-01 is refused).
 */
export function isParsableDay(day: string): boolean {
  return !Number.isNaN(Date.parse(`${day}T00:00:00Z`));
}

function parseTime(timestamp: unknown): { millis: number; subMillisNanos: number } | undefined {
  if (typeof timestamp !== 'string') return undefined;
  const millis = Date.parse(timestamp);
  if (Number.isNaN(millis)) return undefined;
  // The fraction's digits after the milliseconds, as nanoseconds (MicroTime has 6 digits, RFC 3339 up to 9).
  const start = timestamp.indexOf('.') + 1;
  let end = start;
  if (start > 0) while (isDigit(timestamp.charCodeAt(end))) end++;
  let subMillisNanos = 0;
  for (let digit = 3; digit < 9; digit++) {
    const at = start + digit;
    subMillisNanos = subMillisNanos * 10 + (start > 0 && at < end ? timestamp.charCodeAt(at) - 0x30 : 0);
  }
  return { millis, subMillisNanos };
}

function isDigit(code: number): boolean {
  return code >= 0x30 && code <= 0x39;
}

function unique(values: readonly unknown[]): string[] | undefined {
  // A handful of values: a linear scan beats building a Set.
  const present: string[] = [];
  for (const value of values) {
    if (typeof value === 'string' && value !== '' && !present.includes(value)) present.push(value);
  }
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
