// The index template (and optional ILM policy) the sink installs when `manageTemplate` is on. Pure builders.
// The mapping is explicit and `dynamic: false`, so nothing in an event can add fields or change their types;
// free-form parts are `flattened` or not indexed at all.
import { createHash } from 'node:crypto';
import type { EsTarget } from './encode.ts';

/** Above the built-in logs-*-* template (100) and Fleet integration templates (200). */
export const TEMPLATE_PRIORITY = 250;
/** Key under _meta holding a hash of our own definition, so start-up only writes when something changed. */
export const HASH_META_KEY = 'k8s_audit_forwarder_hash';
const MANAGED_BY = 'k8s-audit-forwarder';

/** Name shared by the template and the ILM policy: one per target, so sinks writing there agree. */
export function managedName(target: EsTarget): string {
  const base = target.kind === 'data-stream' ? target.name : literalPrefix(target);
  return `${MANAGED_BY}.${base}`.toLowerCase();
}

/** Index patterns of the template: the data stream itself, or the classic pattern with dates as "*". */
export function templatePatterns(target: EsTarget): string[] {
  if (target.kind === 'data-stream') return [target.name];
  return [target.pattern.map((part) => (part.kind === 'text' ? part.text : '*')).join('')];
}

export function ilmPolicy(target: EsTarget, retentionDays: number): Record<string, unknown> {
  // Data streams roll over daily so that retention deletes whole days; classic dated indices are already daily
  // (or whatever their pattern says) and are deleted by age since creation.
  const hot =
    target.kind === 'data-stream'
      ? { actions: { rollover: { max_age: '1d', max_primary_shard_size: '50gb' } } }
      : { actions: {} };
  const policy = {
    phases: {
      hot: { min_age: '0ms', ...hot },
      delete: { min_age: `${retentionDays}d`, actions: { delete: {} } },
    },
  };
  return { policy: { ...policy, _meta: { managed_by: MANAGED_BY, [HASH_META_KEY]: contentHash(policy) } } };
}

export function indexTemplate(
  target: EsTarget,
  options: { readonly ilmPolicy?: string },
): Record<string, unknown> {
  const template = {
    index_patterns: templatePatterns(target),
    priority: TEMPLATE_PRIORITY,
    ...(target.kind === 'data-stream' ? { data_stream: {} } : {}),
    template: {
      settings: {
        ...(options.ilmPolicy === undefined ? {} : { 'index.lifecycle.name': options.ilmPolicy }),
        'index.mapping.total_fields.limit': 1000,
      },
      mappings: mappings(target),
    },
  };
  return { ...template, _meta: { managed_by: MANAGED_BY, [HASH_META_KEY]: contentHash(template) } };
}

const keyword = { type: 'keyword', ignore_above: 1024 };
const text = { type: 'match_only_text' };
const users = {
  properties: {
    username: keyword,
    uid: keyword,
    groups: keyword,
    // Authenticator-defined keys (pod-name, credential-id, ...): one field however many keys appear.
    extra: { type: 'flattened' },
  },
};

function mappings(target: EsTarget): Record<string, unknown> {
  return {
    dynamic: false,
    date_detection: false,
    properties: {
      '@timestamp': { type: 'date' },
      message: text,
      ecs: { properties: { version: keyword } },
      ...(target.kind === 'data-stream'
        ? {
            data_stream: {
              properties: {
                type: { type: 'constant_keyword' },
                dataset: { type: 'constant_keyword' },
                namespace: { type: 'constant_keyword' },
              },
            },
          }
        : {}),
      event: {
        properties: {
          kind: keyword,
          category: keyword,
          type: keyword,
          action: keyword,
          outcome: keyword,
          dataset: keyword,
          module: keyword,
          id: keyword,
          duration: { type: 'long' },
        },
      },
      user: {
        properties: {
          name: keyword,
          id: keyword,
          group: { properties: { name: keyword } },
          effective: { properties: { name: keyword, group: { properties: { name: keyword } } } },
        },
      },
      source: { properties: { ip: { type: 'ip', ignore_malformed: true } } },
      related: { properties: { ip: { type: 'ip', ignore_malformed: true }, user: keyword } },
      user_agent: { properties: { original: { ...keyword, fields: { text } } } },
      orchestrator: {
        properties: {
          type: keyword,
          cluster: { properties: { name: keyword } },
          namespace: keyword,
          resource: { properties: { type: keyword, name: keyword } },
        },
      },
      host: { properties: { name: keyword } },
      log: { properties: { file: { properties: { path: keyword } }, offset: { type: 'long' } } },
      kubernetes: {
        properties: {
          audit: {
            properties: {
              kind: keyword,
              apiVersion: keyword,
              level: keyword,
              auditID: keyword,
              stage: keyword,
              // Query strings make URIs long; a keyword above 32766 bytes would refuse the event.
              requestURI: { ...keyword, ignore_above: 8191, fields: { text } },
              verb: keyword,
              user: users,
              impersonatedUser: users,
              sourceIPs: keyword,
              userAgent: { ...keyword, fields: { text } },
              objectRef: {
                properties: {
                  resource: keyword,
                  namespace: keyword,
                  name: keyword,
                  uid: keyword,
                  apiGroup: keyword,
                  apiVersion: keyword,
                  resourceVersion: keyword,
                  subresource: keyword,
                },
              },
              responseStatus: {
                properties: {
                  code: { type: 'integer' },
                  status: keyword,
                  reason: keyword,
                  message: text,
                  details: { type: 'flattened' },
                  metadata: { type: 'object', enabled: false },
                },
              },
              requestObjectJson: text,
              responseObjectJson: text,
              requestReceivedTimestamp: { type: 'date_nanos', ignore_malformed: true },
              stageTimestamp: { type: 'date_nanos', ignore_malformed: true },
              // v1beta1/v1alpha1 only.
              timestamp: { type: 'date', ignore_malformed: true },
              metadata: { type: 'object', enabled: false },
              annotations: { type: 'flattened' },
              authenticationMetadata: { type: 'flattened' },
            },
          },
        },
      },
      k8s_audit_forwarder: {
        properties: { shrunk: { properties: { removed: keyword, original_bytes: { type: 'long' } } } },
      },
    },
  };
}

/** A stable hash of a JSON value (keys sorted), for idempotent installs. */
export function contentHash(value: unknown): string {
  return createHash('sha256').update(stableJson(value)).digest('hex').slice(0, 16);
}

function stableJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stableJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).sort(([a], [b]) =>
      a < b ? -1 : a > b ? 1 : 0,
    );
    return `{${entries.map(([key, item]) => `${JSON.stringify(key)}:${stableJson(item)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

function literalPrefix(target: Extract<EsTarget, { kind: 'index' }>): string {
  const first = target.pattern[0];
  const prefix = first?.kind === 'text' ? first.text : 'index';
  return prefix.replace(/[-_.]+$/, '');
}
