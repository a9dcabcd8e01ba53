import { describe, expect, it } from 'vitest';
import { parseAuditLine } from '../../../../src/pipeline/enrich.ts';
import type { AuditEvent, OutEvent } from '../../../../src/pipeline/event.ts';
import { AuditEventGenerator } from '../../../../src/simulator/generator.ts';
import { expectBulkItemOf, sentBulkDocument } from '../../../helpers/bulk-documents.ts';
import { FIXTURES_PRESENT, FIXTURES_SKIP_REASON, fixtureLines } from '../../../helpers/fixtures.ts';
import { parseIndexPattern } from '../../../../src/sinks/elasticsearch/config.ts';
import {
  dataStreamTarget,
  documentId,
  type EsTarget,
  encodeBulkBody,
  encodeBulkItem,
  sanitize,
  targetIndexFor,
  toDocument,
} from '../../../../src/sinks/elasticsearch/encode.ts';

const DATA_STREAM = dataStreamTarget('default');
const DAILY: EsTarget = {
  kind: 'index',
  pattern: parseIndexPattern('k8s-audit-%{+yyyy.MM.dd}'),
  source: 'k8s-audit-%{+yyyy.MM.dd}',
};

function outEvent(audit: AuditEvent, extra: Partial<OutEvent> = {}): OutEvent {
  return {
    audit,
    raw: JSON.stringify(audit),
    id: 'c1f0e5d2',
    timestamp: audit.stageTimestamp ?? audit.requestReceivedTimestamp ?? '',
    cluster: 'prod-eu',
    node: 'cp-1',
    origin: { path: '/var/log/kubernetes/audit.log', fileKey: '2049:1234', offset: 4096 },
    ...extra,
  };
}

// Shaped like the OpenShift fixture events (RequestResponse, impersonation, objects with managedFields);
// synthetic, written for this test.
const createPod: AuditEvent = {
  kind: 'Event',
  apiVersion: 'audit.k8s.io/v1',
  level: 'RequestResponse',
  auditID: '5d7b4c3e-1111-2222-3333-444455556666',
  stage: 'ResponseComplete',
  requestURI: '/api/v1/namespaces/web/pods?fieldManager=kubectl-client-side-apply',
  verb: 'create',
  user: {
    username: 'system:serviceaccount:ci:deployer',
    uid: 'u-1',
    groups: ['system:serviceaccounts', 'system:authenticated'],
    extra: { 'authentication.kubernetes.io/pod-name': ['runner-0'] },
  },
  impersonatedUser: { username: 'alice', groups: ['devs'] },
  sourceIPs: ['99.999.999.999', '10.0.0.7'],
  userAgent: 'kubectl/v1.30.0 (linux/amd64)',
  objectRef: { resource: 'pods', namespace: 'web', name: 'web-0', apiVersion: 'v1' },
  responseStatus: { code: 201 },
  requestObject: { kind: 'Pod', metadata: { labels: { app: 'web', 'app.kubernetes.io/name': 'web' } } },
  responseObject: {
    kind: 'Pod',
    metadata: { managedFields: [{ fieldsV1: { 'f:metadata': { 'f:labels': { '.': {} } } } }] },
    status: { phase: 'Pending' },
  },
  requestReceivedTimestamp: '2025-03-04T05:06:07.123456Z',
  stageTimestamp: '2025-03-04T05:06:07.223457Z',
  annotations: {
    'authorization.k8s.io/decision': 'allow',
    'authorization.k8s.io/reason': 'RBAC: allowed by ClusterRoleBinding "ci"',
  },
};

describe('toDocument', () => {
  it('maps a RequestResponse event to the ECS document (golden)', () => {
    const document = toDocument(outEvent(createPod), DATA_STREAM);

    expect(document).toEqual({
      '@timestamp': '2025-03-04T05:06:07.223457Z',
      message:
        'system:serviceaccount:ci:deployer as alice create /api/v1/namespaces/web/pods?fieldManager=kubectl-client-side-apply -> 201',
      ecs: { version: '8.11.0' },
      data_stream: { type: 'logs', dataset: 'kubernetes.audit_logs', namespace: 'default' },
      event: {
        kind: 'event',
        category: ['api'],
        type: ['creation', 'allowed'],
        action: 'create',
        outcome: 'success',
        dataset: 'kubernetes.audit_logs',
        module: 'kubernetes',
        id: 'c1f0e5d2',
        duration: 100_001_000,
      },
      user: {
        name: 'system:serviceaccount:ci:deployer',
        id: 'u-1',
        group: { name: ['system:serviceaccounts', 'system:authenticated'] },
        effective: { name: 'alice', group: { name: ['devs'] } },
      },
      source: { ip: '10.0.0.7' },
      related: { ip: ['10.0.0.7'], user: ['system:serviceaccount:ci:deployer', 'alice'] },
      user_agent: { original: 'kubectl/v1.30.0 (linux/amd64)' },
      orchestrator: {
        type: 'kubernetes',
        cluster: { name: 'prod-eu' },
        namespace: 'web',
        resource: { type: 'pods', name: 'web-0' },
      },
      host: { name: 'cp-1' },
      log: { file: { path: '/var/log/kubernetes/audit.log' }, offset: 4096 },
      kubernetes: {
        audit: {
          kind: 'Event',
          apiVersion: 'audit.k8s.io/v1',
          level: 'RequestResponse',
          auditID: '5d7b4c3e-1111-2222-3333-444455556666',
          stage: 'ResponseComplete',
          requestURI: '/api/v1/namespaces/web/pods?fieldManager=kubectl-client-side-apply',
          verb: 'create',
          user: {
            username: 'system:serviceaccount:ci:deployer',
            uid: 'u-1',
            groups: ['system:serviceaccounts', 'system:authenticated'],
            extra: { 'authentication_kubernetes_io/pod-name': ['runner-0'] },
          },
          impersonatedUser: { username: 'alice', groups: ['devs'] },
          sourceIPs: ['99.999.999.999', '10.0.0.7'],
          userAgent: 'kubectl/v1.30.0 (linux/amd64)',
          objectRef: { resource: 'pods', namespace: 'web', name: 'web-0', apiVersion: 'v1' },
          responseStatus: { code: 201 },
          requestReceivedTimestamp: '2025-03-04T05:06:07.123456Z',
          stageTimestamp: '2025-03-04T05:06:07.223457Z',
          annotations: {
            'authorization_k8s_io/decision': 'allow',
            'authorization_k8s_io/reason': 'RBAC: allowed by ClusterRoleBinding "ci"',
          },
          requestObjectJson: JSON.stringify(createPod.requestObject),
          responseObjectJson: JSON.stringify(createPod.responseObject),
        },
      },
    });
  });

  it('maps a v1beta1 RequestReceived event without a response (golden)', () => {
    const audit: AuditEvent = {
      kind: 'Event',
      apiVersion: 'audit.k8s.io/v1beta1',
      metadata: { creationTimestamp: '2017-09-11T19:05:01Z' },
      level: 'Metadata',
      timestamp: '2017-09-11T19:05:01Z',
      auditID: 'a-1',
      stage: 'RequestReceived',
      requestURI: '/api/v1/namespaces/ns1/secrets/s1',
      verb: 'get',
      user: { username: 'system:admin', groups: ['system:masters'] },
      sourceIPs: ['127.0.0.1'],
      objectRef: { resource: 'secrets', namespace: 'ns1', name: 's1', apiVersion: 'v1' },
      requestReceivedTimestamp: '2017-09-11T19:05:01.334402Z',
      stageTimestamp: '2017-09-11T19:05:01.334402Z',
    };

    const document = toDocument(outEvent(audit, { id: 'x' }), DAILY);

    expect(document).toMatchObject({
      '@timestamp': '2017-09-11T19:05:01.334402Z',
      message: 'system:admin get /api/v1/namespaces/ns1/secrets/s1 (RequestReceived)',
      event: { type: ['access'], action: 'get', outcome: 'unknown' },
      kubernetes: {
        audit: { metadata: { creationTimestamp: '2017-09-11T19:05:01Z' }, timestamp: '2017-09-11T19:05:01Z' },
      },
    });
    expect(document).not.toHaveProperty('data_stream');
    expect(document.event).not.toHaveProperty('duration');
    expect(document).not.toHaveProperty('user_agent');
  });

  it('reports failure for 4xx answers and for forbid decisions without an answer', () => {
    const forbidden = toDocument(
      outEvent({
        ...createPod,
        responseStatus: { code: 403 },
        annotations: { 'authorization.k8s.io/decision': 'forbid' },
      }),
      DATA_STREAM,
    );
    const withoutStatus = Object.fromEntries(
      Object.entries(createPod).filter(([key]) => key !== 'responseStatus'),
    );
    const received = toDocument(
      outEvent({
        ...withoutStatus,
        stage: 'RequestReceived',
        annotations: { 'authorization.k8s.io/decision': 'forbid' },
      }),
      DATA_STREAM,
    );

    expect(forbidden.event).toMatchObject({ outcome: 'failure', type: ['creation', 'denied'] });
    expect(received.event).toMatchObject({ outcome: 'failure' });
  });

  it.each([
    ['update', ['change']],
    ['patch', ['change']],
    ['delete', ['deletion']],
    ['deletecollection', ['deletion']],
    ['list', ['access']],
    ['watch', ['access']],
    ['post', ['info']],
  ])('gives verb %s the event.type %j', (verb, type) => {
    const document = toDocument(outEvent({ ...createPod, verb, annotations: {} }), DATA_STREAM);

    expect((document.event as { type: string[] }).type).toEqual(type);
  });

  it('keeps objects only as JSON text, so keys like "." never become field names', () => {
    const document = toDocument(outEvent(createPod), DATA_STREAM);

    const audit = (document.kubernetes as { audit: Record<string, unknown> }).audit;
    expect(audit).not.toHaveProperty('requestObject');
    expect(audit).not.toHaveProperty('responseObject');
    expect(JSON.parse(audit.responseObjectJson as string)).toEqual(createPod.responseObject);
  });

  it('records what the size policy removed', () => {
    const shrunk = outEvent(
      { ...createPod, responseObject: undefined },
      { shrunk: { removed: ['responseObject'], originalBytes: 12_345_678 } },
    );

    const document = toDocument(shrunk, DATA_STREAM);

    expect(document.k8s_audit_forwarder).toEqual({
      shrunk: { removed: ['responseObject'], original_bytes: 12_345_678 },
    });
    expect((document.kubernetes as { audit: object }).audit).not.toHaveProperty('responseObjectJson');
  });

  it('leaves out source.ip when no source IP is valid', () => {
    const document = toDocument(outEvent({ ...createPod, sourceIPs: ['99.999.999.999'] }), DATA_STREAM);

    expect(document).not.toHaveProperty('source');
    expect(document.related).toEqual({ user: ['system:serviceaccount:ci:deployer', 'alice'] });
  });
});

describe('sanitize', () => {
  it('dedots keys, renames empty and blank keys, and keeps both keys that meet after dedotting', () => {
    expect(sanitize({ 'a.b': 1, a_b: 2, '': 3, ' ': 4, nested: [{ 'x.y': { '.': 5 } }] })).toEqual({
      a_b: 1,
      a_b_: 2,
      _: 3,
      __: 4,
      nested: [{ x_y: { _: 5 } }],
    });
  });
});

describe('targetIndexFor', () => {
  it('formats the date pattern from the event timestamp in UTC', () => {
    expect(targetIndexFor(DAILY, '2025-12-31T23:59:59.999999Z')).toBe('k8s-audit-2025.12.31');
    expect(targetIndexFor(DAILY, '2026-01-01T00:30:00+01:00')).toBe('k8s-audit-2025.12.31');
  });

  it('supports yy, MM, dd and HH', () => {
    const hourly: EsTarget = {
      kind: 'index',
      pattern: parseIndexPattern('audit-%{+yy-MM-dd_HH}'),
      source: '',
    };

    expect(targetIndexFor(hourly, '2025-03-04T05:06:07Z')).toBe('audit-25-03-04_05');
  });

  it('gives an unparsable timestamp a stable index name', () => {
    expect(targetIndexFor(DAILY, 'not a time')).toBe('k8s-audit-unknown-date');
  });

  it('returns the data stream name for a data stream target', () => {
    expect(targetIndexFor(DATA_STREAM, '2025-03-04T05:06:07Z')).toBe('logs-kubernetes.audit_logs-default');
  });
});

describe('documentId', () => {
  it('uses the event id as is', () => {
    expect(documentId(outEvent(createPod, { id: 'abc' }))).toBe('abc');
  });

  it('hashes ids Elasticsearch would refuse (over 512 bytes, or empty)', () => {
    const long = documentId(outEvent(createPod, { id: 'é'.repeat(300) }));
    const empty = documentId(outEvent(createPod, { id: '' }));

    expect(long).toMatch(/^[0-9a-f]{64}$/);
    expect(empty).toMatch(/^[0-9a-f]{64}$/);
    expect(documentId(outEvent(createPod, { id: '' }))).toBe(empty);
  });
});

describe('encodeBulkBody', () => {
  it('writes a create action and a document per event, every line newline-terminated', () => {
    const events = [
      outEvent(createPod, { id: 'one' }),
      outEvent({ ...createPod, stage: 'RequestReceived' }, { id: 'two' }),
    ];

    const body = encodeBulkBody(events, DAILY);

    const lines = body.split('\n');
    expect(lines).toHaveLength(5);
    expect(lines[4]).toBe('');
    expect(JSON.parse(lines[0]!)).toEqual({ create: { _index: 'k8s-audit-2025.03.04', _id: 'one' } });
    expect(JSON.parse(lines[2]!)).toEqual({ create: { _index: 'k8s-audit-2025.03.04', _id: 'two' } });
    expect(JSON.parse(lines[1]!)).toEqual(JSON.parse(JSON.stringify(toDocument(events[0]!, DAILY))));
  });

  it('keeps a document on one line even when values hold newlines and U+2028', () => {
    const body = encodeBulkBody([outEvent({ ...createPod, userAgent: 'a\nb\u2028c' })], DATA_STREAM);

    expect(body.split('\n')).toHaveLength(3);
  });
});

/** The document line of encodeBulkItem, parsed. */
function sentDocument(event: OutEvent, target: EsTarget): Record<string, unknown> {
  return sentBulkDocument(encodeBulkItem(event, target), event, target);
}

/** encodeBulkItem (the general path) must say what toDocument says. */
function expectSameAsToDocument(event: OutEvent, target: EsTarget = DATA_STREAM): void {
  expectBulkItemOf(encodeBulkItem(event, target), event, target);
}

function lineEvent(line: string, offset = 0): OutEvent {
  const outcome = parseAuditLine(
    Buffer.from(line),
    { path: '/var/log/kubernetes/audit.log', fileKey: 'k', offset },
    { cluster: 'prod-eu', node: 'cp-1' },
  );
  if (!outcome.ok) throw new Error(`not an event: ${line.slice(0, 80)}`);
  return outcome.event;
}

describe('encodeBulkItem', () => {
  it('sends what toDocument describes, for generated events of every kind', () => {
    const generator = new AuditEventGenerator({ seed: 21, largeEventRatio: 0.05 });
    for (let index = 0; index < 3000; index++) expectSameAsToDocument(lineEvent(generator.nextLine(), index));
  });

  it.skipIf(!FIXTURES_PRESENT)(
    `sends what toDocument describes, for every real fixture event${FIXTURES_SKIP_REASON}`,
    () => {
      const lines = fixtureLines();
      expect(lines.length).toBeGreaterThan(0);
      lines.forEach((line, index) => {
        expectSameAsToDocument(lineEvent(line, index), DAILY);
      });
    },
  );

  it('serializes unusual lines (the fast path leaves them) with the same result', () => {
    const unusual = [
      // Duplicate keys: JSON.parse keeps the last one, and so must the document.
      '{"auditID":"a","stage":"ResponseComplete","verb":"get","verb":"list"}',
      // A dotted and an escaped top-level key.
      '{"auditID":"a","stage":"ResponseComplete","x.y":1,"\\u0076erb":"get"}',
      // Bodies that are not objects, or null.
      '{"auditID":"a","stage":"ResponseComplete","requestObject":"text","responseObject":7}',
      '{"auditID":"a","stage":"ResponseComplete","requestObject":null,"responseObject":[1,{"a.b":2}]}',
      // Odd types where the ECS fields come from.
      '{"auditID":"a","stage":"ResponseComplete","verb":{"x":{},"y":null},"user":{"uid":{},"groups":[]},"userAgent":null,"objectRef":{"namespace":""},"sourceIPs":["nope",7]}',
      // Whitespace, a blank key, and dotted keys deep inside.
      ' { "auditID" : "a" , "stage":"ResponseComplete", " ":1, "user":{"extra":{"a.b":["c"]}} } \r',
    ];
    for (const line of unusual) expectSameAsToDocument(lineEvent(line));
    const dotted = sentDocument(lineEvent(unusual[1] ?? ''), DATA_STREAM).kubernetes as {
      audit: Record<string, unknown>;
    };
    expect(dotted.audit).toMatchObject({ x_y: 1, verb: 'get' });
  });
});
