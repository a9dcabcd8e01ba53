// The Elasticsearch sink against the protocol-faithful fake (test/fakes/es-bulk-server.ts) over real sockets:
// every fault's SendResult, healthcheck messages, both server majors, and every fixture event indexing.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { AuditEvent, OutEvent } from '../../../src/pipeline/event.ts';
import {
  type ElasticsearchSinkInput,
  elasticsearchSinkSchema,
} from '../../../src/sinks/elasticsearch/config.ts';
import {
  createElasticsearchSink,
  type ElasticsearchSink,
} from '../../../src/sinks/elasticsearch/elasticsearch-sink.ts';
import { toDocument } from '../../../src/sinks/elasticsearch/encode.ts';
import type { Batch, SendResult } from '../../../src/sinks/sink.ts';
import { FakeElasticsearch, type FakeEsOptions } from '../../fakes/es-bulk-server.ts';
import { encodedBatch } from '../../helpers/batches.ts';

const repoRoot = fileURLToPath(new URL('../../..', import.meta.url));
const fixturesDir = process.env.AUDIT_FIXTURES_DIR ?? resolve(repoRoot, '../shared/fixtures/audit');
const fixtureFiles = existsSync(fixturesDir)
  ? readdirSync(fixturesDir)
      .filter((name) => name.endsWith('.jsonl'))
      .sort()
  : [];
const noFixtures = fixtureFiles.length === 0;
const noFixturesReason = `audit fixtures not found in ${fixturesDir} (set AUDIT_FIXTURES_DIR)`;
const DATA_STREAM = 'logs-kubernetes.audit_logs-default';

// ---------------------------------------------------------------------------------------------------------------
// Helpers: OutEvents as the pipeline builds them, sinks, logs

interface FixtureEvent {
  readonly file: string;
  readonly line: number;
  readonly event: OutEvent;
}

/** An OutEvent like the pipeline's: id = sha256(cluster/auditID/stage) unless `id` is given. */
function outEvent(
  audit: AuditEvent,
  options: { raw?: string; id?: string; path?: string; offset?: number } = {},
): OutEvent {
  const cluster = 'test-cluster';
  const id =
    options.id ??
    createHash('sha256')
      .update(`${cluster}/${audit.auditID ?? ''}/${audit.stage ?? ''}`)
      .digest('hex');
  return {
    audit,
    raw: options.raw ?? JSON.stringify(audit),
    id,
    timestamp:
      audit.stageTimestamp ?? audit.requestReceivedTimestamp ?? audit.timestamp ?? '1970-01-01T00:00:00Z',
    cluster,
    node: 'cp-1',
    origin: {
      path: options.path ?? '/var/log/kubernetes/audit.log',
      fileKey: 'test',
      offset: options.offset ?? 0,
    },
  };
}

function syntheticAudit(n: number, overrides: Partial<AuditEvent> = {}): AuditEvent {
  return {
    kind: 'Event',
    apiVersion: 'audit.k8s.io/v1',
    level: 'Metadata',
    auditID: `00000000-0000-0000-0000-${String(n).padStart(12, '0')}`,
    stage: 'ResponseComplete',
    requestURI: `/api/v1/namespaces/default/pods/p-${n}`,
    verb: 'get',
    user: { username: 'system:admin', groups: ['system:masters', 'system:authenticated'] },
    sourceIPs: ['10.0.0.1'],
    userAgent: 'kubectl/v1.30.0',
    objectRef: { resource: 'pods', namespace: 'default', name: `p-${n}`, apiVersion: 'v1' },
    responseStatus: { code: 200 },
    requestReceivedTimestamp: '2025-03-04T05:06:07.123456Z',
    stageTimestamp: '2025-03-04T05:06:07.223456Z',
    annotations: { 'authorization.k8s.io/decision': 'allow', 'authorization.k8s.io/reason': '' },
    ...overrides,
  };
}

/** Synthetic events (labelled as such): the fixtures have no 5xx and no Panic stage. */
function synthetic(count: number): OutEvent[] {
  return Array.from({ length: count }, (_, n) => outEvent(syntheticAudit(n)));
}

/** The events in the sink's wire form, as the lane hands them over. */
function batchOf(sink: ElasticsearchSink, events: readonly OutEvent[], seq = 1): Batch {
  return encodedBatch(sink.encoding, events, seq);
}

function loadFixtures(): FixtureEvent[] {
  const out: FixtureEvent[] = [];
  for (const file of fixtureFiles) {
    const path = join(fixturesDir, file);
    const text = readFileSync(path, 'utf8');
    let offset = 0;
    text.split('\n').forEach((raw, index) => {
      if (raw !== '') {
        const audit = JSON.parse(raw) as AuditEvent;
        out.push({ file, line: index + 1, event: outEvent(audit, { raw, path, offset }) });
      }
      offset += Buffer.byteLength(raw) + 1;
    });
  }
  return out;
}

interface LogLine {
  level: number;
  msg: string;
  [key: string]: unknown;
}

function captureLog(): { log: pino.Logger; lines: LogLine[] } {
  const lines: LogLine[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      for (const line of chunk.toString('utf8').split('\n'))
        if (line !== '') lines.push(JSON.parse(line) as LogLine);
      callback();
    },
  });
  return { log: pino({ level: 'debug' }, stream), lines };
}

/** Asymmetric matchers typed as the string they stand for. */
const containing = (text: string): string => expect.stringContaining(text) as string;
const matching = (pattern: RegExp): string => expect.stringMatching(pattern) as string;

let fake: FakeElasticsearch | undefined;
const sinks: ElasticsearchSink[] = [];
const tempDirs: string[] = [];

afterEach(async () => {
  for (const sink of sinks.splice(0)) sink.destroy();
  await fake?.close();
  fake = undefined;
});

afterAll(() => {
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
});

async function startFake(options: FakeEsOptions = {}): Promise<FakeElasticsearch> {
  fake = await FakeElasticsearch.start(options);
  return fake;
}

function makeSink(
  server: { url: string },
  overrides: Partial<ElasticsearchSinkInput> = {},
  log: pino.Logger = pino({ level: 'silent' }),
): ElasticsearchSink {
  const config = elasticsearchSinkSchema.parse({
    name: 'siem-es',
    type: 'elasticsearch',
    url: server.url,
    ...overrides,
  });
  const sink = createElasticsearchSink(config, { log });
  sinks.push(sink);
  return sink;
}

function send(
  sink: ElasticsearchSink,
  events: readonly OutEvent[],
  signal = new AbortController().signal,
): Promise<SendResult> {
  return sink.send(batchOf(sink, events), signal);
}

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'es-sink-'));
  tempDirs.push(dir);
  return dir;
}

// ---------------------------------------------------------------------------------------------------------------

describe('elasticsearch sink: delivery', () => {
  it.each(['8.19.3', '9.1.0'])('delivers a batch to a %s server with the 8.x client', async (version) => {
    const server = await startFake({ version });
    const sink = makeSink(server);
    const events = synthetic(3);

    await sink.healthcheck(AbortSignal.timeout(5000));
    const result = await send(sink, events);

    expect(result).toEqual({ status: 'delivered' });
    const request = server.bulkRequests[0]!;
    expect(request.method).toBe('POST');
    expect(request.path).toBe('/_bulk');
    // Only what the classification reads comes back (as Logstash and Beats ask).
    expect(request.query.filter_path).toBe('errors,items.*.status,items.*.error');
    expect(request.headers['content-type']).toBe('application/vnd.elasticsearch+x-ndjson; compatible-with=8');
    expect(server.documents(DATA_STREAM).map((doc) => doc.id)).toEqual(events.map((event) => event.id));
    expect(server.documents(DATA_STREAM).map((doc) => doc.source)).toEqual(
      events.map((event) => JSON.parse(JSON.stringify(toDocument(event, sink.target))) as unknown),
    );
  });

  it('sends create actions with the event id as _id and a final newline', async () => {
    const server = await startFake();
    const sink = makeSink(server);
    const [event] = synthetic(1);

    await send(sink, [event!]);

    const lines = server.bulkRequests[0]!.body.split('\n');
    expect(JSON.parse(lines[0]!)).toEqual({ create: { _index: DATA_STREAM, _id: event!.id } });
    expect(lines.at(-1)).toBe('');
    expect(lines).toHaveLength(3);
  });

  it('treats a replayed batch as delivered (409 on create) and keeps exactly one document per event', async () => {
    const server = await startFake();
    const sink = makeSink(server);
    const events = synthetic(5);
    await send(sink, events);

    const replay = await send(sink, events);

    expect(replay).toEqual({ status: 'delivered' });
    const docs = server.documents(DATA_STREAM);
    expect(docs).toHaveLength(5);
    expect(docs.every((doc) => doc.version === 1)).toBe(true);
  });

  it('writes classic indices named from each event timestamp', async () => {
    const server = await startFake();
    const sink = makeSink(server, { index: 'k8s-audit-%{+yyyy.MM.dd}' });
    const events = [
      outEvent(syntheticAudit(1, { stageTimestamp: '2025-03-04T23:59:59.999999Z' })),
      outEvent(syntheticAudit(2, { stageTimestamp: '2025-03-05T00:00:00.000001Z' })),
    ];

    const result = await send(sink, events);

    expect(result).toEqual({ status: 'delivered' });
    expect(server.indexNames().sort()).toEqual(['k8s-audit-2025.03.04', 'k8s-audit-2025.03.05']);
    expect(server.documents('k8s-audit-2025.03.04')[0]!.source).not.toHaveProperty('data_stream');
  });

  it('gzips the body when compression is on', async () => {
    const server = await startFake();
    const sink = makeSink(server, { compression: true });

    const result = await send(sink, synthetic(20));

    expect(result).toEqual({ status: 'delivered' });
    const request = server.bulkRequests[0]!;
    expect(request.headers['content-encoding']).toBe('gzip');
    expect(request.wireBytes).toBeLessThan(Buffer.byteLength(request.body));
    expect(server.documents(DATA_STREAM)).toHaveLength(20);
  });

  it.each([
    [
      'apiKey',
      { apiKey: Buffer.from('id1:secret').toString('base64') },
      `ApiKey ${Buffer.from('id1:secret').toString('base64')}`,
    ],
    [
      'username+password',
      { username: 'elastic', password: 'changeme' },
      `Basic ${Buffer.from('elastic:changeme').toString('base64')}`,
    ],
    ['bearer', { bearer: 'token-1' }, 'Bearer token-1'],
  ])('authenticates with %s', async (_name, auth, header) => {
    const server = await startFake({
      auth: {
        apiKeys: [Buffer.from('id1:secret').toString('base64')],
        users: [{ username: 'elastic', password: 'changeme' }],
        bearerTokens: ['token-1'],
      },
    });
    const sink = makeSink(server, { auth });

    await sink.healthcheck(AbortSignal.timeout(5000));
    const result = await send(sink, synthetic(1));

    expect(result).toEqual({ status: 'delivered' });
    expect(server.requests.every((request) => request.headers.authorization === header)).toBe(true);
  });

  it('reads apiKeyFile and passwordFile at start, trimming the trailing newline', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'key'), `${Buffer.from('id1:secret').toString('base64')}\n`);
    writeFileSync(join(dir, 'password'), 'changeme\n');
    const server = await startFake({
      auth: {
        apiKeys: [Buffer.from('id1:secret').toString('base64')],
        users: [{ username: 'elastic', password: 'changeme' }],
      },
    });

    const byKey = makeSink(server, { auth: { apiKeyFile: join(dir, 'key') } });
    const byPassword = makeSink(server, {
      auth: { username: 'elastic', passwordFile: join(dir, 'password') },
    });

    expect(await send(byKey, synthetic(1))).toEqual({ status: 'delivered' });
    expect(await send(byPassword, synthetic(1))).toEqual({ status: 'delivered' });
  });

  it('refuses to start when a referenced credential file is missing', async () => {
    const server = await startFake();

    expect(() => makeSink(server, { auth: { bearerFile: '/nonexistent/token' } })).toThrow(
      expect.objectContaining({
        code: 'KAF_SINK_CONFIG',
        message: 'sinks.siem-es.auth.bearerFile: cannot read /nonexistent/token: ENOENT',
      }),
    );
  });
});

describe('elasticsearch sink: per-item outcomes', () => {
  it('retries only the items that got 429 and rejects the ones that got 400, with the reason', async () => {
    const server = await startFake();
    const sink = makeSink(server);
    const events = synthetic(4);
    server.failItems('es_rejected_execution_exception', { where: (item) => item.id === events[1]!.id });
    server.failItems('circuit_breaking_exception', { where: (item) => item.id === events[2]!.id });
    server.failItems('document_parsing_exception', { where: (item) => item.id === events[3]!.id });

    const result = await send(sink, events);

    expect(result).toEqual({
      status: 'partial',
      retry: [1, 2],
      rejected: [
        {
          index: 3,
          reason:
            "400 document_parsing_exception: [1:42] failed to parse field [kubernetes.audit.verb] of type [long] in document with id '" +
            `${events[3]!.id}'. Preview of field's value: [redacted] (caused by illegal_argument_exception: For input string: "create")`,
        },
      ],
    });
    expect(server.documents(DATA_STREAM).map((doc) => doc.id)).toEqual([events[0]!.id]);
  });

  it('retries items that got 5xx', async () => {
    const server = await startFake();
    const sink = makeSink(server);
    const events = synthetic(3);
    server.failItems('internal_error', { where: (item) => item.position === 0 });
    server.failItems('unavailable_shards_exception', { where: (item) => item.position === 2 });

    const result = await send(sink, events);

    expect(result).toMatchObject({ status: 'partial', retry: [0, 2], rejected: [] });
  });

  it('then delivers the retried items, and the duplicates of the first attempt count as delivered', async () => {
    const server = await startFake();
    const sink = makeSink(server);
    const events = synthetic(3);
    server.failItems('es_rejected_execution_exception', { where: (item) => item.position === 1 });
    const first = await send(sink, events);
    expect(first).toMatchObject({ status: 'partial', retry: [1] });

    const second = await send(sink, events);

    expect(second).toEqual({ status: 'delivered' });
    expect(server.documents(DATA_STREAM)).toHaveLength(3);
  });

  it('rejects a data-stream document refused by mapping (constant_keyword) while the others go in', async () => {
    const server = await startFake();
    // Another writer fixed data_stream.namespace to a different value first.
    await fetch(`${server.url}/_bulk`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-ndjson' },
      body: `${JSON.stringify({ create: { _index: DATA_STREAM } })}\n${JSON.stringify({ '@timestamp': 1, data_stream: { namespace: 'other' } })}\n`,
    });
    const sink = makeSink(server);

    const result = await send(sink, synthetic(2));

    expect(result).toMatchObject({ status: 'partial', retry: [], rejected: [{ index: 0 }, { index: 1 }] });
    expect(result.status === 'partial' ? result.rejected[0]!.reason : '').toContain(
      '[constant_keyword] field [data_stream.namespace]',
    );
  });

  it('retries items refused for lack of index privileges (an operator can grant them)', async () => {
    const server = await startFake();
    server.denyWrites('logs-kubernetes.audit_logs-*');
    const sink = makeSink(server);

    const result = await send(sink, synthetic(2));

    expect(result).toMatchObject({ status: 'partial', retry: [0, 1], rejected: [] });
  });
});

describe('elasticsearch sink: whole-request outcomes', () => {
  it('fails a large request without copying its body (the client redacts errors by deep-copying them)', async () => {
    const server = await startFake();
    server.failRequests({ type: 'status', status: 503 }, { times: 1 });
    const sink = makeSink(server);
    // ~3 MB, as a batch of 1,000 events is.
    const big = Array.from({ length: 1000 }, (_, n) =>
      outEvent(syntheticAudit(n, { requestURI: `/api/v1/pods?padding=${'x'.repeat(2500)}` })),
    );
    const batch = batchOf(sink, big);
    expect(batch.payload.length).toBeGreaterThan(2_500_000);
    const before = process.memoryUsage().heapUsed;
    const answered = await sink.send(batch, new AbortController().signal);
    await server.close();
    const refused = await sink.send(batch, new AbortController().signal);
    const grownMB = (process.memoryUsage().heapUsed - before) / 1024 / 1024;

    expect(answered).toMatchObject({ status: 'retryable', reason: containing('HTTP 503') });
    expect(refused).toMatchObject({ status: 'retryable', reason: containing('connection failed') });
    // Before the fix each failure allocated ~400 MB: an array entry per body byte.
    expect(grownMB).toBeLessThan(50);
  });

  it('returns retryable with Retry-After for a 429, after exactly one request', async () => {
    const server = await startFake();
    server.failRequests({ type: 'status', status: 429, headers: { 'Retry-After': '7' } });
    const sink = makeSink(server);

    const result = await send(sink, synthetic(2));

    expect(result).toEqual({
      status: 'retryable',
      reason: containing('HTTP 429: Elasticsearch is overloaded: es_rejected_execution_exception'),
      retryAfterMs: 7000,
    });
    expect(server.bulkRequests).toHaveLength(1);
  });

  it.each([503, 502, 504, 500])(
    'returns retryable for %i without the client retrying on its own',
    async (status) => {
      const server = await startFake();
      server.failRequests({ type: 'status', status }, { times: 4 });
      const sink = makeSink(server);

      const result = await send(sink, synthetic(2));

      expect(result).toMatchObject({
        status: 'retryable',
        reason: containing(`HTTP ${status}`),
      });
      // maxRetries: 0 — the transport would otherwise resend 502/503/504 three more times.
      expect(server.bulkRequests).toHaveLength(1);
      expect(server.documents()).toHaveLength(0);
    },
  );

  it('returns too-large for a 413 (body over http.max_content_length)', async () => {
    const server = await startFake({ maxContentLength: 2000 });
    const sink = makeSink(server);

    const result = await send(sink, synthetic(5));

    expect(result).toEqual({
      status: 'too-large',
      reason: 'HTTP 413: request larger than http.max_content_length',
    });
  });

  it('returns retryable when the connection is reset mid-request', async () => {
    const server = await startFake();
    server.failRequests({ type: 'reset' });
    const sink = makeSink(server);

    const result = await send(sink, synthetic(2));

    expect(result).toMatchObject({
      status: 'retryable',
      reason: matching(/^connection failed: /),
    });
    expect(server.bulkRequests).toHaveLength(1);
  });

  it('returns retryable on a timeout; the request was applied, so the retry is all 409s and delivered', async () => {
    const server = await startFake();
    // undici's timers tick about once a second: a 1000 ms timeout fires after 1-2 s.
    server.failRequests({ type: 'delay', ms: 4000 });
    const sink = makeSink(server, { requestTimeoutMs: 1000 });
    const events = synthetic(3);

    const first = await send(sink, events);
    const second = await send(sink, events);

    expect(first).toMatchObject({ status: 'retryable', reason: containing('timed out') });
    expect(second).toEqual({ status: 'delivered' });
    expect(server.documents(DATA_STREAM)).toHaveLength(3);
  });

  it('returns retryable when the answer lacks the X-Elastic-Product header', async () => {
    const server = await startFake();
    server.failRequests({ type: 'no-product-header' });
    const sink = makeSink(server);

    const result = await send(sink, synthetic(1));

    expect(result).toEqual({
      status: 'retryable',
      reason: 'the server did not identify itself as Elasticsearch (no X-Elastic-Product header)',
    });
  });

  it('returns retryable (never drops) for 401, with the reason', async () => {
    const server = await startFake({ auth: { bearerTokens: ['right'] } });
    const sink = makeSink(server, { auth: { bearer: 'wrong' } });

    const result = await send(sink, synthetic(1));

    expect(result).toEqual({
      status: 'retryable',
      reason:
        "HTTP 401: Elasticsearch refused the credentials; check the sink's auth: security_exception: unable to authenticate with provided credentials and anonymous access is not allowed for this request",
    });
  });

  it('returns retryable (never drops) for 403', async () => {
    const server = await startFake();
    server.denyAction('indices:data/write/bulk');
    const sink = makeSink(server);

    const result = await send(sink, synthetic(1));

    expect(result).toMatchObject({ status: 'retryable', reason: containing('HTTP 403') });
  });

  it('returns rejected for a 400 on the whole request', async () => {
    const server = await startFake();
    server.failRequests({
      type: 'status',
      status: 400,
      body: {
        error: { type: 'illegal_argument_exception', reason: 'Malformed action/metadata line [1]' },
        status: 400,
      },
    });
    const sink = makeSink(server);

    const result = await send(sink, synthetic(1));

    expect(result).toEqual({
      status: 'rejected',
      reason: 'HTTP 400: illegal_argument_exception: Malformed action/metadata line [1]',
    });
  });

  it('returns retryable when the pipeline aborts the send', async () => {
    const server = await startFake();
    server.failRequests({ type: 'delay', ms: 2000 });
    const sink = makeSink(server);
    const controller = new AbortController();

    const pending = send(sink, synthetic(1), controller.signal);
    controller.abort();

    expect(await pending).toEqual({ status: 'retryable', reason: 'request aborted' });
  });

  it('waits for in-flight sends on close and refuses new ones afterwards', async () => {
    const server = await startFake();
    server.failRequests({ type: 'delay', ms: 200 });
    const sink = makeSink(server);

    const pending = send(sink, synthetic(1));
    await sink.close();

    expect(await pending).toEqual({ status: 'delivered' });
    expect(await send(sink, synthetic(1))).toEqual({ status: 'retryable', reason: 'sink is closing' });
    await sink.close();
  });
});

describe('elasticsearch sink: healthcheck', () => {
  it('fails clearly when nothing listens at the URL', async () => {
    const server = await startFake();
    const url = server.url;
    await server.close();
    fake = undefined;
    const sink = makeSink({ url });

    await expect(sink.healthcheck(AbortSignal.timeout(5000))).rejects.toMatchObject({
      code: 'KAF_SINK_HEALTHCHECK',
      message: matching(
        /^Sink siem-es: Cannot reach Elasticsearch at http:\/\/127\.0\.0\.1:\d+ \(.+\)\. Check the url/,
      ),
    });
  });

  it('fails clearly on bad credentials (401)', async () => {
    const server = await startFake({ auth: { users: [{ username: 'elastic', password: 'right' }] } });
    const sink = makeSink(server, { auth: { username: 'elastic', password: 'wrong' } });

    await expect(sink.healthcheck(AbortSignal.timeout(5000))).rejects.toThrow(
      /refused the credentials \(401 security_exception: unable to authenticate user \[elastic\] for REST request \[\/\]\)\. Check the sink's auth\./,
    );
  });

  it('fails clearly on a missing privilege (403)', async () => {
    const server = await startFake();
    server.denyAction('cluster:monitor/main');
    const sink = makeSink(server);

    await expect(sink.healthcheck(AbortSignal.timeout(5000))).rejects.toThrow(
      /The credentials lack the monitor cluster privilege needed for GET \/ \(403 security_exception/,
    );
  });

  it('fails clearly when the server is not Elasticsearch', async () => {
    const server = await startFake();
    server.failRequests({ type: 'no-product-header' }, { path: /^\/$/ });
    const sink = makeSink(server);

    await expect(sink.healthcheck(AbortSignal.timeout(5000))).rejects.toThrow(
      /is not Elasticsearch: its answer lacks the X-Elastic-Product header/,
    );
  });

  it('fails clearly when the server major refuses the client (7.x refuses compatible-with=8)', async () => {
    const server = await startFake({ version: '7.17.0' });
    const sink = makeSink(server);

    await expect(sink.healthcheck(AbortSignal.timeout(5000))).rejects.toThrow(
      /refuses this client's compatibility headers/,
    );
  });

  it('fails when the data stream does not exist and no data-stream template matches', async () => {
    const server = await startFake({ builtinLogsTemplate: false });
    const sink = makeSink(server);

    await expect(sink.healthcheck(AbortSignal.timeout(5000))).rejects.toThrow(
      /Data stream logs-kubernetes\.audit_logs-default does not exist and no index template with data_stream matches it/,
    );
  });

  it('passes when the built-in logs-*-* template would create the data stream, and when it exists', async () => {
    const server = await startFake();
    const sink = makeSink(server);

    await sink.healthcheck(AbortSignal.timeout(5000));
    await send(sink, synthetic(1));
    await makeSink(server).healthcheck(AbortSignal.timeout(5000));

    expect(server.requests.map((request) => `${request.method} ${request.path}`)).toEqual([
      'GET /',
      `GET /_data_stream/${DATA_STREAM}`,
      'GET /_index_template',
      'POST /_bulk',
      'GET /',
      `GET /_data_stream/${DATA_STREAM}`,
    ]);
  });

  it('installs template and ILM policy once, then leaves them alone', async () => {
    const server = await startFake();
    const options = { manageTemplate: true, ilm: { retentionDays: 30 } };

    await makeSink(server, options).healthcheck(AbortSignal.timeout(5000));
    await makeSink(server, options).healthcheck(AbortSignal.timeout(5000));

    const writes = server.requests
      .filter((request) => request.method === 'PUT')
      .map((request) => request.path);
    const name = 'k8s-audit-forwarder.logs-kubernetes.audit_logs-default';
    expect(writes).toEqual([`/_ilm/policy/${name}`, `/_index_template/${name}`]);
    const template = (await (await fetch(`${server.url}/_index_template/${name}`)).json()) as {
      index_templates: {
        index_template: { index_patterns: string[]; template: { settings: Record<string, unknown> } };
      }[];
    };
    expect(template.index_templates[0]!.index_template.index_patterns).toEqual([DATA_STREAM]);
    expect(template.index_templates[0]!.index_template.template.settings['index.lifecycle.name']).toBe(name);
  });

  it('reports a missing template privilege clearly when manageTemplate is on', async () => {
    const server = await startFake();
    server.denyAction('indices:admin/index_template/put');
    const sink = makeSink(server, { manageTemplate: true });

    await expect(sink.healthcheck(AbortSignal.timeout(5000))).rejects.toThrow(
      /lack the manage_index_templates and manage_ilm cluster privileges needed for PUT \/_index_template/,
    );
  });
});

describe('elasticsearch sink: TLS', () => {
  let pem: { key: string; cert: string; certFile: string } | undefined;

  beforeAll(() => {
    const dir = tempDir();
    try {
      execFileSync(
        'openssl',
        [
          'req',
          '-x509',
          '-newkey',
          'rsa:2048',
          '-nodes',
          '-keyout',
          join(dir, 'key.pem'),
          '-out',
          join(dir, 'cert.pem'),
          '-days',
          '1',
          '-subj',
          '/CN=127.0.0.1',
          '-addext',
          'subjectAltName=IP:127.0.0.1',
        ],
        { stdio: 'ignore' },
      );
      pem = {
        key: readFileSync(join(dir, 'key.pem'), 'utf8'),
        cert: readFileSync(join(dir, 'cert.pem'), 'utf8'),
        certFile: join(dir, 'cert.pem'),
      };
    } catch {
      pem = undefined;
    }
  });

  it('verifies the server against caFile', async ({ skip }) => {
    if (!pem) return skip('openssl is not available to make a test certificate');
    const server = await startFake({ tls: pem });
    const sink = makeSink(server, { tls: { caFile: pem.certFile } });

    await sink.healthcheck(AbortSignal.timeout(5000));

    expect(await send(sink, synthetic(1))).toEqual({ status: 'delivered' });
  });

  it('fails the healthcheck on an unknown CA with the TLS reason', async ({ skip }) => {
    if (!pem) return skip('openssl is not available to make a test certificate');
    const server = await startFake({ tls: pem });
    const sink = makeSink(server);

    await expect(sink.healthcheck(AbortSignal.timeout(5000))).rejects.toThrow(
      /Cannot reach Elasticsearch at https:.*self-signed certificate/,
    );
  });

  it('connects with insecureSkipVerify and logs a warning at start', async ({ skip }) => {
    if (!pem) return skip('openssl is not available to make a test certificate');
    const server = await startFake({ tls: pem });
    const { log, lines } = captureLog();
    const sink = makeSink(server, { tls: { insecureSkipVerify: true } }, log);

    await sink.healthcheck(AbortSignal.timeout(5000));

    expect(lines.find((line) => line.level === 40)?.msg).toBe(
      'TLS certificate verification is OFF for this sink (insecureSkipVerify); audit events and credentials can be intercepted.',
    );
  });
});

describe.skipIf(noFixtures)(
  `elasticsearch sink: fixture events (${noFixtures ? noFixturesReason : fixturesDir})`,
  () => {
    // Unique ids per line so that every one of the 921 events is really indexed (falco-traces holds two pairs
    // with the same auditID+stage but different content, see the fixtures README).
    function perLine(fixtures: readonly FixtureEvent[]): OutEvent[] {
      return fixtures.map(({ file, line, event }) => ({ ...event, id: `${file}:${line}` }));
    }

    async function sendAll(
      sink: ElasticsearchSink,
      events: readonly OutEvent[],
      size = 100,
    ): Promise<SendResult[]> {
      const results: SendResult[] = [];
      for (let start = 0; start < events.length; start += size) {
        results.push(
          await sink.send(
            batchOf(sink, events.slice(start, start + size), start / size),
            AbortSignal.timeout(30_000),
          ),
        );
      }
      return results;
    }

    it('indexes every fixture event into the data stream with dynamic mapping and no template of ours', async () => {
      const server = await startFake();
      const sink = makeSink(server);
      const events = perLine(loadFixtures());

      const results = await sendAll(sink, events);

      expect(results.filter((result) => result.status !== 'delivered')).toEqual([]);
      expect(server.documents(DATA_STREAM)).toHaveLength(events.length);
      expect(server.fieldCount(DATA_STREAM)).toBeLessThan(1000);
    });

    it('indexes every fixture event into one classic index with no template at all', async () => {
      const server = await startFake({ builtinLogsTemplate: false });
      const sink = makeSink(server, { index: 'k8s-audit' });
      const events = perLine(loadFixtures());

      const results = await sendAll(sink, events);

      expect(results.filter((result) => result.status !== 'delivered')).toEqual([]);
      expect(server.documents('k8s-audit')).toHaveLength(events.length);
    });

    it('indexes every fixture event with the managed template, which caps the mapping', async () => {
      const server = await startFake();
      const sink = makeSink(server, { manageTemplate: true, ilm: { retentionDays: 7 } });
      await sink.healthcheck(AbortSignal.timeout(5000));
      const events = perLine(loadFixtures());

      const results = await sendAll(sink, events);

      expect(results.filter((result) => result.status !== 'delivered')).toEqual([]);
      expect(server.documents(DATA_STREAM)).toHaveLength(events.length);
      const [backing] = server.documents(DATA_STREAM).map((doc) => doc.index);
      expect(server.mapping(backing!)).toMatchObject({ dynamic: 'false' });
    });

    it('keeps exactly one document per event after the same batches are replayed', async () => {
      const server = await startFake();
      const sink = makeSink(server);
      const fixtures = loadFixtures().filter(({ file }) => file !== 'falco-traces.jsonl');
      const events = fixtures.map(({ event }) => event);
      const distinctIds = new Set(events.map((event) => event.id));

      const first = await sendAll(sink, events);
      const replay = await sendAll(sink, events);

      expect([...first, ...replay].every((result) => result.status === 'delivered')).toBe(true);
      const ids = server.documents(DATA_STREAM).map((doc) => doc.id);
      expect(ids).toHaveLength(distinctIds.size);
      expect(new Set(ids)).toEqual(distinctIds);
      expect(server.documents(DATA_STREAM).every((doc) => doc.version === 1)).toBe(true);
    });
  },
);
