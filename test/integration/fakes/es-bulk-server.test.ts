// Shows that the fake Elasticsearch behaves as shared/reference/sinks.md §1 and §4.1 document, using raw HTTP
// (fetch) so that nothing of our sink or of the ES client is involved.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import type { FakeElasticsearch } from '../../fakes/es-bulk-server.ts';
import { fakeElasticsearchPerTest, ndjson } from '../../helpers/fake-elasticsearch.ts';

const COMPAT8_JSON = 'application/vnd.elasticsearch+json; compatible-with=8';
const COMPAT8_NDJSON = 'application/vnd.elasticsearch+x-ndjson; compatible-with=8';

const repoRoot = fileURLToPath(new URL('../../..', import.meta.url));
const fixturesDir = process.env.AUDIT_FIXTURES_DIR ?? resolve(repoRoot, '../shared/fixtures/audit');
const hasFixtures =
  existsSync(fixturesDir) && readdirSync(fixturesDir).some((name) => name.endsWith('.jsonl'));

const start = fakeElasticsearchPerTest();

async function bulk(
  server: FakeElasticsearch,
  body: string | Buffer,
  headers: Record<string, string> = {},
): Promise<{ status: number; headers: Headers; json: Record<string, unknown> }> {
  const response = await fetch(`${server.url}/_bulk`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-ndjson', ...headers },
    body,
  });
  const text = await response.text();
  return {
    status: response.status,
    headers: response.headers,
    json: text === '' ? {} : (JSON.parse(text) as Record<string, unknown>),
  };
}

interface Item {
  _index: string;
  _id: string;
  status: number;
  result?: string;
  error?: { type: string; reason: string; caused_by?: { type: string; reason: string } };
}

function items(json: Record<string, unknown>): Item[] {
  return (json.items as Record<string, Item>[]).map((item) => Object.values(item)[0]!);
}

describe('fake Elasticsearch: info, product header and content types', () => {
  it('answers GET / with the info document, the product header and a JSON content type', async () => {
    const server = await start({ version: '8.19.3' });

    const response = await fetch(`${server.url}/`);
    const body = (await response.json()) as Record<string, unknown>;

    expect(response.status).toBe(200);
    expect(response.headers.get('x-elastic-product')).toBe('Elasticsearch');
    expect(response.headers.get('content-type')).toBe('application/json');
    expect(body).toMatchObject({
      cluster_name: 'fake-cluster',
      version: { number: '8.19.3', build_flavor: 'default' },
      tagline: 'You Know, for Search',
    });
  });

  it('answers HEAD / with 200, the product header and no body', async () => {
    const server = await start();

    const response = await fetch(`${server.url}/`, { method: 'HEAD' });

    expect(response.status).toBe(200);
    expect(response.headers.get('x-elastic-product')).toBe('Elasticsearch');
    expect(await response.text()).toBe('');
  });

  it('echoes the compatible-with version in the response content type', async () => {
    const server = await start();

    const response = await fetch(`${server.url}/`, { headers: { accept: COMPAT8_JSON } });

    expect(response.headers.get('content-type')).toBe('application/vnd.elasticsearch+json;compatible-with=8');
  });

  it('as 8.x, rejects compatible-with=9 with 400 media_type_header_exception', async () => {
    const server = await start({ version: '8.19.3' });

    const response = await fetch(`${server.url}/`, {
      headers: { accept: 'application/vnd.elasticsearch+json; compatible-with=9' },
    });
    const body = (await response.json()) as { error: Record<string, unknown>; status: number };

    expect(response.status).toBe(400);
    expect(body.status).toBe(400);
    expect(body.error.type).toBe('media_type_header_exception');
    expect(body.error.reason).toBe('Invalid media-type value on headers [Accept, Content-Type]');
    expect(body.error.caused_by).toEqual({
      type: 'status_exception',
      reason:
        'Accept version must be either version 8 or 7, but found 9. Accept=application/vnd.elasticsearch+json; compatible-with=9',
    });
  });

  it('as 9.x, accepts compatible-with=8 and 9 but not 7', async () => {
    const server = await start({ version: '9.1.0' });

    const statuses = await Promise.all(
      [8, 9, 7].map(
        async (version) =>
          (
            await fetch(`${server.url}/`, {
              headers: { accept: `application/vnd.elasticsearch+json; compatible-with=${version}` },
            })
          ).status,
      ),
    );

    expect(statuses).toEqual([200, 200, 400]);
  });

  it('requires matching compatible-with versions on Accept and Content-Type', async () => {
    const server = await start({ version: '9.1.0' });

    const result = await bulk(server, ndjson({ create: { _index: 'a' } }, { a: 1 }), {
      'content-type': 'application/vnd.elasticsearch+x-ndjson; compatible-with=9',
      accept: COMPAT8_JSON,
    });

    expect(result.status).toBe(400);
    expect(JSON.stringify(result.json)).toContain(
      'A compatible version is required on both Content-Type and Accept',
    );
  });

  it('answers a body with an unsupported content type with 406', async () => {
    const server = await start();

    const result = await bulk(server, ndjson({ create: { _index: 'a' } }, { a: 1 }), {
      'content-type': 'text/plain',
    });

    expect(result.status).toBe(406);
    expect(result.json).toEqual({ error: 'Content-Type header [text/plain] is not supported', status: 406 });
  });
});

describe('fake Elasticsearch: _bulk', () => {
  it('rejects a body without the final newline with 400 illegal_argument_exception', async () => {
    const server = await start();

    const result = await bulk(
      server,
      JSON.stringify({ create: { _index: 'a' } }) + '\n' + JSON.stringify({ a: 1 }),
    );

    expect(result.status).toBe(400);
    expect(result.json).toMatchObject({
      error: {
        type: 'illegal_argument_exception',
        reason: 'The bulk request must be terminated by a newline [\\n]',
      },
      status: 400,
    });
  });

  it('answers 200 with one item per action, keyed by op type, with the documented fields', async () => {
    const server = await start();

    const result = await bulk(
      server,
      ndjson({ create: { _index: 'idx', _id: '1' } }, { a: 1 }, { index: { _index: 'idx' } }, { a: 2 }),
      { 'content-type': COMPAT8_NDJSON, accept: COMPAT8_JSON },
    );

    expect(result.status).toBe(200);
    expect(result.headers.get('x-elastic-product')).toBe('Elasticsearch');
    expect(result.json.errors).toBe(false);
    expect(typeof result.json.took).toBe('number');
    const [created, indexed] = result.json.items as Record<string, Record<string, unknown>>[];
    expect(Object.keys(created!)).toEqual(['create']);
    expect(created!.create).toMatchObject({
      _index: 'idx',
      _id: '1',
      _version: 1,
      result: 'created',
      _shards: { total: 2, successful: 1, failed: 0 },
      _primary_term: 1,
      status: 201,
    });
    expect(Object.keys(indexed!)).toEqual(['index']);
    expect(typeof indexed!.index!._id).toBe('string');
  });

  it('keeps documents across requests: a second create of the same _id gets 409, index replaces', async () => {
    const server = await start();
    await bulk(server, ndjson({ create: { _index: 'idx', _id: 'x' } }, { v: 1 }));

    const again = await bulk(server, ndjson({ create: { _index: 'idx', _id: 'x' } }, { v: 2 }));
    const replaced = await bulk(server, ndjson({ index: { _index: 'idx', _id: 'x' } }, { v: 3 }));

    expect(again.status).toBe(200);
    expect(again.json.errors).toBe(true);
    expect(items(again.json)[0]).toMatchObject({
      _index: 'idx',
      _id: 'x',
      status: 409,
      error: {
        type: 'version_conflict_engine_exception',
        reason: '[x]: version conflict, document already exists (current version [1])',
      },
    });
    expect(items(replaced.json)[0]).toMatchObject({ status: 200, result: 'updated' });
    expect(server.documents('idx').map((doc) => doc.source)).toEqual([{ v: 3 }]);
  });

  it('takes the default _index from the path and rejects actions without any index', async () => {
    const server = await start();

    const withPath = await fetch(`${server.url}/from-path/_bulk`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-ndjson' },
      body: ndjson({ create: {} }, { a: 1 }),
    });
    const without = await bulk(server, ndjson({ create: {} }, { a: 1 }));

    expect(withPath.status).toBe(200);
    expect(server.documents('from-path')).toHaveLength(1);
    expect(without.status).toBe(400);
    expect(without.json).toMatchObject({
      error: {
        type: 'action_request_validation_exception',
        reason: 'Validation Failed: 1: index is missing;',
      },
    });
  });
});

describe('fake Elasticsearch: data streams', () => {
  it('creates logs-*-* data streams, names the backing index .ds-<stream>-<date>-000001 and accepts only create', async () => {
    const server = await start({ now: () => new Date('2025-03-04T05:06:07Z') });

    const result = await bulk(
      server,
      ndjson(
        { create: { _index: 'logs-app-default', _id: 'a' } },
        { '@timestamp': '2025-03-04T00:00:00Z', m: 1 },
        { index: { _index: 'logs-app-default', _id: 'b' } },
        { '@timestamp': '2025-03-04T00:00:00Z', m: 2 },
      ),
    );

    const [created, indexed] = items(result.json);
    expect(created).toMatchObject({ _index: '.ds-logs-app-default-2025.03.04-000001', status: 201 });
    expect(indexed).toMatchObject({
      status: 400,
      error: {
        type: 'illegal_argument_exception',
        reason: 'only write ops with an op_type of create are allowed in data streams',
      },
    });
    const streams = (await (await fetch(`${server.url}/_data_stream/logs-app-default`)).json()) as {
      data_streams: { name: string; template: string; indices: { index_name: string }[] }[];
    };
    expect(streams.data_streams[0]).toMatchObject({
      name: 'logs-app-default',
      template: 'logs',
      indices: [{ index_name: '.ds-logs-app-default-2025.03.04-000001' }],
    });
  });

  it('rejects a data-stream document without @timestamp with document_parsing_exception', async () => {
    const server = await start();

    const result = await bulk(server, ndjson({ create: { _index: 'logs-app-default' } }, { m: 1 }));

    const item = items(result.json)[0]!;
    expect(item.status).toBe(400);
    expect(item.error!.type).toBe('document_parsing_exception');
    expect(item.error!.reason).toMatch(
      /^\[1:\d+\] failed to parse: data stream timestamp field \[@timestamp\] is missing$/,
    );
    expect(item.error!.caused_by!.type).toBe('illegal_argument_exception');
  });

  it('rejects a data_stream.* value that differs from the constant_keyword already set', async () => {
    const server = await start();
    await bulk(
      server,
      ndjson(
        { create: { _index: 'logs-app-default' } },
        { '@timestamp': 1, data_stream: { namespace: 'default' } },
      ),
    );

    const result = await bulk(
      server,
      ndjson(
        { create: { _index: 'logs-app-default' } },
        { '@timestamp': 1, data_stream: { namespace: 'other' } },
      ),
    );

    expect(items(result.json)[0]!.error!.reason).toContain(
      '[constant_keyword] field [data_stream.namespace] only accepts values that are equal to the value defined in the mappings [default], but got [other]',
    );
  });
});

describe('fake Elasticsearch: dynamic mapping', () => {
  async function indexOne(server: FakeElasticsearch, index: string, source: unknown): Promise<Item> {
    return items((await bulk(server, ndjson({ create: { _index: index } }, source))).json)[0]!;
  }

  it('fixes a field as object by the first document and rejects a concrete value later', async () => {
    const server = await start();
    await indexOne(server, 'm', { status: { phase: 'Running' } });

    const item = await indexOne(server, 'm', { status: 'Failure' });

    expect(item.status).toBe(400);
    expect(item.error!.type).toBe('document_parsing_exception');
    expect(item.error!.reason).toMatch(
      /^\[1:\d+\] object mapping for \[status\] tried to parse field \[status\] as object, but found a concrete value$/,
    );
  });

  it('fixes a field as a value by the first document and rejects an object later', async () => {
    const server = await start();
    await indexOne(server, 'm', { status: 'Failure' });

    const item = await indexOne(server, 'm', { status: { phase: 'Running' } });

    expect(item.status).toBe(400);
    expect(item.error!.reason).toMatch(
      /failed to parse field \[status\] of type \[text\] in document with id '.+'\. Preview of field's value: '\{phase=Running\}'/,
    );
  });

  it('expands dotted names into objects, so "app" and "app.kubernetes.io/name" collide', async () => {
    const server = await start();
    await indexOne(server, 'm', { labels: { app: 'web' } });

    const item = await indexOne(server, 'm', { labels: { 'app.kubernetes.io/name': 'web' } });

    expect(item.error!.reason).toContain(
      'Could not dynamically add mapping for field [labels.app.kubernetes.io/name]',
    );
  });

  it.each([
    ['.', 'field name cannot contain only dots'],
    ['..', 'field name cannot contain only dots'],
    ['', 'Field name cannot be an empty string'],
    ['.a', 'object field starting or ending with a [.] makes object resolution ambiguous: [.a]'],
    ['   ', 'Field name cannot contain only whitespace: [f.   ]'],
  ])('rejects the field name %j', async (name, reason) => {
    const server = await start();

    const item = await indexOne(server, 'm', { f: { [name]: {} } });

    expect(item.status).toBe(400);
    expect(item.error!.type).toBe('document_parsing_exception');
    expect(item.error!.reason).toContain(reason);
  });

  it('enforces index.mapping.total_fields.limit, counting text plus its keyword multi-field', async () => {
    const server = await start();
    const wide = Object.fromEntries(Array.from({ length: 501 }, (_, i) => [`f${i}`, 'x']));

    const item = await indexOne(server, 'm', wide);

    expect(item.status).toBe(400);
    expect(item.error!.caused_by).toEqual({
      type: 'illegal_argument_exception',
      reason: 'Limit of total fields [1000] has been exceeded while adding new fields [1002]',
    });
    expect(server.documents('m')).toHaveLength(0);
  });

  it('detects dates in strings and then rejects a non-date in the same field', async () => {
    const server = await start();
    await indexOne(server, 'm', { name: '2024-05-06' });

    const item = await indexOne(server, 'm', { name: 'web-1' });

    expect(server.mapping('m')).toMatchObject({ properties: { name: { type: 'date' } } });
    expect(item.error!.reason).toContain('failed to parse field [name] of type [date] in document with id');
  });

  it('refuses a keyword term longer than 32766 bytes but skips long values under ignore_above', async () => {
    const server = await start();
    await fetch(`${server.url}/_index_template/t`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        index_patterns: ['kw-*'],
        template: {
          mappings: {
            properties: { raw: { type: 'keyword' }, capped: { type: 'keyword', ignore_above: 1024 } },
          },
        },
      }),
    });
    const long = 'x'.repeat(40_000);

    const refused = await indexOne(server, 'kw-1', { raw: long });
    const capped = await indexOne(server, 'kw-1', { capped: long });

    expect(refused).toMatchObject({ status: 400, error: { type: 'illegal_argument_exception' } });
    expect(refused.error!.reason).toContain('Document contains at least one immense term in field="raw"');
    expect(capped.status).toBe(201);
  });

  it('honours dynamic:false, flattened and enabled:false from a matching template', async () => {
    const server = await start();
    const put = await fetch(`${server.url}/_index_template/audit`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        index_patterns: ['audit-*'],
        priority: 10,
        template: {
          mappings: {
            dynamic: false,
            properties: {
              annotations: { type: 'flattened' },
              object: { type: 'object', enabled: false },
              known: { type: 'keyword' },
            },
          },
        },
      }),
    });
    const sources = [
      {
        known: 'a',
        annotations: { 'authorization.k8s.io/decision': 'allow' },
        object: { status: { phase: 'x' } },
      },
      { known: 'b', annotations: { 'a.': 'x' }, object: { status: 'Failure', '.': {} }, unknown: { '.': 1 } },
      ...Array.from({ length: 3 }, (_, i) => ({
        [`wide${i}`]: Object.fromEntries(Array.from({ length: 600 }, (__, j) => [`k${j}`, 'v'])),
      })),
    ];

    const results = await Promise.all(
      sources.map(async (source) => (await indexOne(server, 'audit-1', source)).status),
    );

    expect(put.status).toBe(200);
    expect(results).toEqual([201, 201, 201, 201, 201]);
    expect(server.fieldCount('audit-1')).toBe(3);
  });

  it.skipIf(!hasFixtures)(
    `rejects raw audit events as real Elasticsearch does (negative control for the sink tests)${
      hasFixtures ? '' : ` [audit fixtures not found in ${fixturesDir}; set AUDIT_FIXTURES_DIR]`
    }`,
    async () => {
      const server = await start();
      const lines = readFileSync(resolve(fixturesDir, 'openshift-cluster-logging-operator.jsonl'), 'utf8')
        .split('\n')
        .filter((line) => line !== '');
      const body = lines
        .map((line) => `${JSON.stringify({ create: { _index: 'raw-audit' } })}\n${line}\n`)
        .join('');

      const result = await bulk(server, body);

      const rejected = items(result.json).filter((item) => item.status === 400);
      expect(rejected.length).toBeGreaterThan(0);
      expect(rejected.map((item) => item.error!.reason).join('\n')).toMatch(
        /as object, but found a concrete value|field name cannot contain only dots|Limit of total fields|of type \[/,
      );
    },
  );
});

describe('fake Elasticsearch: index templates and ILM policies', () => {
  it('stores and returns index templates, including the built-in logs template', async () => {
    const server = await start();
    const template = {
      index_patterns: ['a-*'],
      priority: 5,
      template: { settings: { 'index.lifecycle.name': 'p' } },
      _meta: { x: 1 },
    };
    await fetch(`${server.url}/_index_template/mine`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(template),
    });

    const one = (await (await fetch(`${server.url}/_index_template/mine`)).json()) as Record<string, unknown>;
    const all = (await (await fetch(`${server.url}/_index_template`)).json()) as {
      index_templates: { name: string }[];
    };
    const missing = await fetch(`${server.url}/_index_template/nope`);

    expect(one).toEqual({ index_templates: [{ name: 'mine', index_template: template }] });
    expect(all.index_templates.map((entry) => entry.name).sort()).toEqual(['logs', 'mine']);
    expect(missing.status).toBe(404);
  });

  it('refuses two templates with overlapping patterns and the same priority', async () => {
    const server = await start();
    const put = async (name: string, patterns: string[]): Promise<number> =>
      (
        await fetch(`${server.url}/_index_template/${name}`, {
          method: 'PUT',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ index_patterns: patterns, priority: 100 }),
        })
      ).status;

    expect(await put('clash', ['logs-kubernetes.audit_logs-*'])).toBe(400);
    expect(await put('fine', ['metrics-x-*'])).toBe(200);
  });

  it('stores ILM policies and bumps their version on each PUT', async () => {
    const server = await start();
    const policy = { policy: { phases: { delete: { min_age: '30d', actions: { delete: {} } } } } };
    const put = async (): Promise<Response> =>
      fetch(`${server.url}/_ilm/policy/p`, {
        method: 'PUT',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(policy),
      });
    await put();
    await put();

    const got = (await (await fetch(`${server.url}/_ilm/policy/p`)).json()) as Record<
      string,
      { version: number; policy: unknown }
    >;
    const missing = await fetch(`${server.url}/_ilm/policy/none`);

    expect(got.p).toMatchObject({ version: 2, policy: policy.policy });
    expect(missing.status).toBe(404);
  });
});

describe('fake Elasticsearch: faults', () => {
  const oneDoc = ndjson({ create: { _index: 'f', _id: '1' } }, { a: 1 });

  it('answers a scripted whole-request 429 with the error envelope and Retry-After', async () => {
    const server = await start();
    server.failRequests({ type: 'status', status: 429, headers: { 'Retry-After': '7' } });

    const first = await bulk(server, oneDoc);
    const second = await bulk(server, oneDoc);

    expect(first.status).toBe(429);
    expect(first.headers.get('retry-after')).toBe('7');
    expect(first.json).toMatchObject({
      error: {
        root_cause: [{ type: 'es_rejected_execution_exception' }],
        type: 'es_rejected_execution_exception',
      },
      status: 429,
    });
    expect(second.status).toBe(200);
    expect(server.documents('f')).toHaveLength(1);
  });

  it('answers 503 as Elasticsearch and 502/504 as a proxy (plain text, no product header)', async () => {
    const server = await start();
    server.failRequests({ type: 'status', status: 503 });
    server.failRequests({ type: 'status', status: 502 });
    server.failRequests({ type: 'status', status: 504 });

    const responses = [];
    for (let i = 0; i < 3; i++) {
      const response = await fetch(`${server.url}/_bulk`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-ndjson' },
        body: oneDoc,
      });
      responses.push({
        status: response.status,
        product: response.headers.get('x-elastic-product'),
        type: response.headers.get('content-type'),
        text: await response.text(),
      });
    }

    expect(responses[0]).toMatchObject({ status: 503, product: 'Elasticsearch', type: 'application/json' });
    expect(responses[0]!.text).toContain('cluster_block_exception');
    expect(responses[1]).toMatchObject({ status: 502, product: null });
    expect(responses[2]).toMatchObject({ status: 504, product: null });
    expect(server.documents('f')).toHaveLength(0);
  });

  it('answers a body over max_content_length with 413, an empty body and content-length 0', async () => {
    const server = await start({ maxContentLength: 100 });

    const response = await fetch(`${server.url}/_bulk`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-ndjson' },
      body: ndjson({ create: { _index: 'f' } }, { pad: 'x'.repeat(200) }),
    });

    expect(response.status).toBe(413);
    expect(response.headers.get('content-length')).toBe('0');
    expect(await response.text()).toBe('');
  });

  it('applies the size limit to the decompressed size of a gzip body', async () => {
    const server = await start({ maxContentLength: 1000 });
    const body = ndjson({ create: { _index: 'f' } }, { pad: 'x'.repeat(5000) });
    const gzipped = gzipSync(body);

    const result = await bulk(server, gzipped, { 'content-encoding': 'gzip' });

    expect(gzipped.length).toBeLessThan(1000);
    expect(result.status).toBe(413);
  });

  it('accepts gzip request bodies', async () => {
    const server = await start();

    const result = await bulk(server, gzipSync(oneDoc), { 'content-encoding': 'gzip' });

    expect(result.status).toBe(200);
    expect(server.documents('f')).toHaveLength(1);
    expect(server.requests[0]!.body).toBe(oneDoc);
  });

  it('fails scripted items with 429 es_rejected_execution_exception and 400 document_parsing_exception', async () => {
    const server = await start();
    server.failItems('es_rejected_execution_exception', { where: (item) => item.id === 'b' });
    server.failItems('document_parsing_exception', { where: (item) => item.id === 'c' });

    const result = await bulk(
      server,
      ndjson(
        { create: { _index: 'f', _id: 'a' } },
        { a: 1 },
        { create: { _index: 'f', _id: 'b' } },
        { a: 2 },
        { create: { _index: 'f', _id: 'c' } },
        { a: 3 },
      ),
    );

    expect(result.json.errors).toBe(true);
    expect(items(result.json).map((item) => [item._id, item.status, item.error?.type])).toEqual([
      ['a', 201, undefined],
      ['b', 429, 'es_rejected_execution_exception'],
      ['c', 400, 'document_parsing_exception'],
    ]);
    expect(server.documents('f').map((doc) => doc.id)).toEqual(['a']);
  });

  it('resets the connection mid-request', async () => {
    const server = await start();
    server.failRequests({ type: 'reset' });

    const error = await bulk(server, oneDoc).catch((caught: unknown) => caught);

    expect(error).toBeInstanceOf(TypeError);
    expect(server.documents('f')).toHaveLength(0);
  });

  it('applies a slow request and answers only after the delay', async () => {
    const server = await start();
    server.failRequests({ type: 'delay', ms: 300 });
    const started = Date.now();

    const result = await bulk(server, oneDoc);

    expect(Date.now() - started).toBeGreaterThanOrEqual(290);
    expect(result.status).toBe(200);
  });

  it('can leave out the product header', async () => {
    const server = await start();
    server.failRequests({ type: 'no-product-header' }, { path: /^\/$/ });

    const response = await fetch(`${server.url}/`);

    expect(response.status).toBe(200);
    expect(response.headers.get('x-elastic-product')).toBeNull();
  });
});

describe('fake Elasticsearch: authentication', () => {
  const auth = {
    apiKeys: [Buffer.from('id1:secret').toString('base64')],
    users: [{ username: 'elastic', password: 'changeme' }],
    bearerTokens: ['token-1'],
  };

  it('answers a request without credentials with 401 security_exception and three WWW-Authenticate challenges', async () => {
    const server = await start({ auth });

    const response = await fetch(`${server.url}/_bulk`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-ndjson' },
      body: ndjson({ create: { _index: 'a' } }, { a: 1 }),
    });
    const body = (await response.json()) as { error: { type: string; reason: string } };

    expect(response.status).toBe(401);
    expect(body.error.type).toBe('security_exception');
    expect(body.error.reason).toBe('missing authentication credentials for REST request [/_bulk]');
    expect(response.headers.get('www-authenticate')).toBe(
      'Basic realm="security", charset="UTF-8", Bearer realm="security", ApiKey',
    );
  });

  it.each([
    ['ApiKey', `ApiKey ${Buffer.from('id1:secret').toString('base64')}`, 200],
    ['Basic', `Basic ${Buffer.from('elastic:changeme').toString('base64')}`, 200],
    ['Bearer', 'Bearer token-1', 200],
    ['wrong Basic', `Basic ${Buffer.from('elastic:nope').toString('base64')}`, 401],
    ['wrong ApiKey', 'ApiKey bm9wZTpub3Bl', 401],
  ])('authenticates %s credentials', async (_name, authorization, status) => {
    const server = await start({ auth });

    const response = await fetch(`${server.url}/`, { headers: { authorization } });

    expect(response.status).toBe(status);
  });

  it('answers a denied action with 403 security_exception', async () => {
    const server = await start({ auth });
    server.denyAction('cluster:monitor/main');

    const response = await fetch(`${server.url}/`, { headers: { authorization: 'Bearer token-1' } });
    const body = (await response.json()) as { error: { type: string; reason: string } };

    expect(response.status).toBe(403);
    expect(body.error.type).toBe('security_exception');
    expect(body.error.reason).toContain('action [cluster:monitor/main] is unauthorized for user [bearer]');
  });
});

describe('fake Elasticsearch: checkDocumentsEvery (the benchmark mode)', () => {
  it('parses only every Nth document, yet stores each once, answers 409 on an existing _id and checks what is not an object', async () => {
    const server = await start({ checkDocumentsEvery: 3 });
    const action = (id: string): unknown => ({ create: { _index: 'k8s-audit', _id: id } });
    const first = await bulk(
      server,
      ndjson(
        // Checked (the 1st of 3): maps n as text.
        action('a'),
        { n: 'text' },
        action('b'),
        { n: 1 },
        action('c'),
        // Not checked, but not an object: checked anyway.
        [1, 2],
        action('d'),
        { n: 'x' },
        // Not checked: an object where n is text would be refused if it were parsed.
        action('e'),
        { n: { deep: true } },
        action('f'),
        { n: 3 },
      ),
    );
    expect(items(first.json).map((item) => item.status)).toEqual([201, 201, 400, 201, 201, 201]);
    const second = await bulk(server, ndjson(action('f'), { n: 4 }, action('e'), { n: 5 }));
    expect(items(second.json).map((item) => item.status)).toEqual([409, 409]);
    expect(
      server
        .documents()
        .map((document) => document.id)
        .sort(),
    ).toEqual(['a', 'b', 'd', 'e', 'f']);
    expect(server.documents().find((document) => document.id === 'e')?.source).toEqual({ n: { deep: true } });
  });
});
