import { describe, expect, it } from 'vitest';
import type { AuditEvent, OutEvent } from '../../../../src/pipeline/event.ts';
import { parseIndexPattern } from '../../../../src/sinks/elasticsearch/config.ts';
import { dataStreamTarget, type EsTarget, toDocument } from '../../../../src/sinks/elasticsearch/encode.ts';
import {
  HASH_META_KEY,
  ilmPolicy,
  indexTemplate,
  managedName,
  TEMPLATE_PRIORITY,
  templatePatterns,
} from '../../../../src/sinks/elasticsearch/template.ts';

const DATA_STREAM = dataStreamTarget('prod');
const DAILY: EsTarget = { kind: 'index', pattern: parseIndexPattern('k8s-audit-%{+yyyy.MM.dd}'), source: '' };

interface Mapping {
  type?: string;
  enabled?: boolean;
  properties?: Record<string, Mapping>;
}

/** Leaf paths of a document that the mapping neither maps nor covers by a flattened/disabled parent. */
function unmappedPaths(document: Record<string, unknown>, mapping: Mapping, prefix = ''): string[] {
  const out: string[] = [];
  for (const [key, value] of Object.entries(document)) {
    const path = prefix === '' ? key : `${prefix}.${key}`;
    const field = mapping.properties?.[key];
    if (field === undefined) {
      out.push(path);
    } else if (field.type === 'flattened' || field.enabled === false) {
      continue;
    } else if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
      out.push(...unmappedPaths(value as Record<string, unknown>, field, path));
    } else if (field.type === undefined) {
      out.push(`${path} (value on an object mapping)`);
    }
  }
  return out;
}

const audit: AuditEvent = {
  kind: 'Event',
  apiVersion: 'audit.k8s.io/v1',
  level: 'RequestResponse',
  auditID: 'a',
  stage: 'ResponseComplete',
  requestURI: '/api/v1/namespaces/web/pods',
  verb: 'create',
  user: { username: 'u', uid: 'i', groups: ['g'], extra: { 'a.b/c': ['d'] } },
  impersonatedUser: { username: 'alice', groups: ['devs'] },
  sourceIPs: ['10.0.0.1'],
  userAgent: 'kubectl',
  objectRef: {
    resource: 'pods',
    namespace: 'web',
    name: 'p',
    uid: 'x',
    apiGroup: '',
    apiVersion: 'v1',
    resourceVersion: '1',
    subresource: 'status',
  },
  responseStatus: {
    code: 422,
    status: 'Failure',
    reason: 'Invalid',
    message: 'bad',
    details: { causes: [{ field: 'spec' }] },
    metadata: {},
  } as NonNullable<AuditEvent['responseStatus']>,
  requestObject: { a: 1 },
  responseObject: { b: 2 },
  requestReceivedTimestamp: '2025-03-04T05:06:07.123456Z',
  stageTimestamp: '2025-03-04T05:06:07.223456Z',
  timestamp: '2025-03-04T05:06:07Z',
  metadata: { creationTimestamp: '2025-03-04T05:06:07Z' },
  annotations: { 'authorization.k8s.io/decision': 'allow' },
  authenticationMetadata: { impersonationConstraint: 'x' },
};

const event: OutEvent = {
  audit,
  raw: '{}',
  id: 'id',
  timestamp: '2025-03-04T05:06:07.223456Z',
  cluster: 'c',
  node: 'n',
  origin: { path: '/p', fileKey: 'k', offset: 1 },
  shrunk: { removed: ['responseObject'], originalBytes: 1 },
};

describe('indexTemplate', () => {
  it('targets exactly the data stream, above the built-in and Fleet templates', () => {
    const template = indexTemplate(DATA_STREAM, { ilmPolicy: 'p' });

    expect(template).toMatchObject({
      index_patterns: ['logs-kubernetes.audit_logs-prod'],
      priority: TEMPLATE_PRIORITY,
      data_stream: {},
      template: {
        settings: { 'index.lifecycle.name': 'p' },
        mappings: { dynamic: false, date_detection: false },
      },
    });
    expect(TEMPLATE_PRIORITY).toBeGreaterThan(200);
  });

  it('turns date parts of a classic pattern into "*" and has no data_stream', () => {
    const template = indexTemplate(DAILY, {});

    expect(template.index_patterns).toEqual(['k8s-audit-*']);
    expect(template).not.toHaveProperty('data_stream');
    expect(templatePatterns(DAILY)).toEqual(['k8s-audit-*']);
  });

  it('maps every field the encoder writes (template and encoder cannot drift apart)', () => {
    for (const target of [DATA_STREAM, DAILY]) {
      const mappings = (indexTemplate(target, {}).template as { mappings: Mapping }).mappings;

      expect(unmappedPaths(toDocument(event, target), mappings)).toEqual([]);
    }
  });

  it('carries a content hash that changes only with the content', () => {
    const hash = (value: Record<string, unknown>): unknown =>
      (value._meta as Record<string, unknown>)[HASH_META_KEY];

    expect(hash(indexTemplate(DATA_STREAM, {}))).toBe(hash(indexTemplate(DATA_STREAM, {})));
    expect(hash(indexTemplate(DATA_STREAM, {}))).not.toBe(
      hash(indexTemplate(DATA_STREAM, { ilmPolicy: 'p' })),
    );
  });
});

describe('ilmPolicy', () => {
  it('rolls data streams over daily and deletes after the retention', () => {
    expect(ilmPolicy(DATA_STREAM, 30)).toMatchObject({
      policy: {
        phases: {
          hot: { min_age: '0ms', actions: { rollover: { max_age: '1d', max_primary_shard_size: '50gb' } } },
          delete: { min_age: '30d', actions: { delete: {} } },
        },
        _meta: { managed_by: 'k8s-audit-forwarder' },
      },
    });
  });

  it('deletes classic indices by age without rollover', () => {
    expect(ilmPolicy(DAILY, 7)).toMatchObject({
      policy: { phases: { hot: { actions: {} }, delete: { min_age: '7d' } } },
    });
  });
});

describe('managedName', () => {
  it('names template and policy after the target', () => {
    expect(managedName(DATA_STREAM)).toBe('k8s-audit-forwarder.logs-kubernetes.audit_logs-prod');
    expect(managedName(DAILY)).toBe('k8s-audit-forwarder.k8s-audit');
  });
});
