// Shows that the fake Elasticsearch applies filter_path as Elasticsearch does (AbstractRestChannel, FilterPath,
// FilterPathBasedFilter: see the "Response filtering" section of test/fakes/es-bulk-server.ts) and that its
// keepSources: false mode keeps the write path exact, using raw HTTP (fetch) on 127.0.0.1.
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import type { FakeElasticsearch } from '../../fakes/es-bulk-server.ts';
import { fakeElasticsearchPerTest, ndjson } from '../../helpers/fake-elasticsearch.ts';

const BULK_FILTER = 'errors,items.*.error,items.*.status';

const start = fakeElasticsearchPerTest();

function create(id: string, source: unknown = { n: 1 }, index = 'f'): unknown[] {
  return [{ create: { _index: index, _id: id } }, source];
}

interface Answer {
  status: number;
  text: string;
  json: Record<string, unknown>;
}

async function answer(response: Response): Promise<Answer> {
  const text = await response.text();
  return {
    status: response.status,
    text,
    json: text === '' ? {} : (JSON.parse(text) as Record<string, unknown>),
  };
}

async function bulk(
  server: FakeElasticsearch,
  body: string | Buffer,
  filterPath?: string,
  headers: Record<string, string> = {},
): Promise<Answer> {
  const query = filterPath === undefined ? '' : `?filter_path=${encodeURIComponent(filterPath)}`;
  return answer(
    await fetch(`${server.url}/_bulk${query}`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-ndjson', ...headers },
      body,
    }),
  );
}

async function get(server: FakeElasticsearch, path: string, filterPath?: string): Promise<Answer> {
  const query = filterPath === undefined ? '' : `?filter_path=${encodeURIComponent(filterPath)}`;
  return answer(await fetch(`${server.url}${path}${query}`));
}

describe('fake Elasticsearch: filter_path', () => {
  it('cuts a successful bulk response down to errors and each item status, as Logstash and Beats ask', async () => {
    const server = await start();

    const result = await bulk(server, ndjson(...create('a'), ...create('b')), BULK_FILTER);

    expect(result.status).toBe(200);
    expect(result.text).toBe(
      '{"errors":false,"items":[{"create":{"status":201}},{"create":{"status":201}}]}',
    );
  });

  it('keeps the whole error object of failed items (409, 429 and 400) and drops the rest of each item', async () => {
    const server = await start();
    await bulk(server, ndjson(...create('taken')));
    server.failItems('es_rejected_execution_exception', { where: (item) => item.id === 'b' });
    server.failItems('document_parsing_exception', { where: (item) => item.id === 'c' });
    const body = ndjson(...create('a'), ...create('b'), ...create('c'), ...create('taken'));

    const result = await bulk(server, body, BULK_FILTER);

    expect(result.json.errors).toBe(true);
    const items = result.json.items as { create: { status: number; error?: Record<string, unknown> } }[];
    expect(items.map((item) => Object.keys(item.create))).toEqual([
      ['status'],
      ['status', 'error'],
      ['status', 'error'],
      ['status', 'error'],
    ]);
    expect(items.map((item) => item.create.status)).toEqual([201, 429, 400, 409]);
    expect(items[1]?.create.error).toEqual({
      type: 'es_rejected_execution_exception',
      reason: expect.stringContaining('rejected execution of primary operation') as unknown,
      index_uuid: expect.any(String) as unknown,
      shard: '0',
      index: 'f',
    });
    expect(items[2]?.create.error).toMatchObject({
      type: 'document_parsing_exception',
      caused_by: { type: 'illegal_argument_exception', reason: 'For input string: "create"' },
    });
    expect(items[3]?.create.error).toMatchObject({
      type: 'version_conflict_engine_exception',
      reason: '[taken]: version conflict, document already exists (current version [1])',
    });
  });

  it('answers an unfiltered bulk request in full, as before', async () => {
    const server = await start();

    const result = await bulk(server, ndjson(...create('a')));

    expect(Object.keys(result.json)).toEqual(['errors', 'took', 'items']);
    expect(Object.keys((result.json.items as { create: object }[])[0]!.create)).toEqual([
      '_index',
      '_id',
      '_version',
      'result',
      '_shards',
      '_seq_no',
      '_primary_term',
      'status',
    ]);
  });

  it('filters GET /, where * matches any part of a name within one level', async () => {
    const server = await start({ version: '8.19.3' });

    const number = await get(server, '/', 'version.number');
    const anyParent = await get(server, '/', '*.number');
    const prefix = await get(server, '/', 'cluster_*,tag*');

    expect(number.text).toBe('{"version":{"number":"8.19.3"}}');
    expect(anyParent.text).toBe('{"version":{"number":"8.19.3"}}');
    expect(prefix.json).toEqual({
      cluster_name: 'fake-cluster',
      cluster_uuid: expect.any(String) as unknown,
      tagline: 'You Know, for Search',
    });
  });

  it('lets ** match any number of levels (one or more)', async () => {
    const server = await start();

    const info = await get(server, '/', '**.build_flavor');
    const shards = await bulk(server, ndjson(...create('a')), 'items.**.successful');
    const notAtTheTop = await get(server, '/', '**.tagline');

    expect(info.text).toBe('{"version":{"build_flavor":"default"}}');
    expect(shards.text).toBe('{"items":[{"create":{"_shards":{"successful":1}}}]}');
    expect(notAtTheTop.text).toBe('{}');
  });

  it('leaves out what a path starting with - names, and keeps everything else', async () => {
    const server = await start();

    const info = await get(server, '/', '-version,-tagline');
    const items = await bulk(server, ndjson(...create('a')), '-took,-items.*._shards,-items.*._index');

    expect(Object.keys(info.json)).toEqual(['name', 'cluster_name', 'cluster_uuid']);
    expect(items.json).toEqual({
      errors: false,
      items: [
        {
          create: {
            _id: 'a',
            _version: 1,
            result: 'created',
            _seq_no: 0,
            _primary_term: 1,
            status: 201,
          },
        },
      ],
    });
  });

  it('applies exclusions to what the inclusions let through', async () => {
    const server = await start({ version: '8.19.3' });

    const result = await get(server, '/', 'version,-version.build_*,-version.minimum_*');

    expect(result.json).toEqual({ version: { number: '8.19.3', lucene_version: '9.12.0' } });
  });

  it('answers {} when nothing matches', async () => {
    const server = await start();

    const bulkResult = await bulk(server, ndjson(...create('a')), 'nothing.here');
    const info = await get(server, '/', 'nope');

    expect(bulkResult.status).toBe(200);
    expect(bulkResult.text).toBe('{}');
    expect(info.text).toBe('{}');
    // The request was handled all the same.
    expect(server.documents('f').map((document) => document.id)).toEqual(['a']);
  });

  it('filters each element of an array and drops the elements (and arrays) it empties', async () => {
    const server = await start();
    server.failItems('es_rejected_execution_exception', { where: (item) => item.id === 'b' });
    const body = ndjson(...create('a'), ...create('b'), ...create('c'));

    const onlyErrors = await bulk(server, body, 'items.*.error.type');
    const noItems = await bulk(server, ndjson(...create('d')), '-items.*,-took');

    expect(onlyErrors.text).toBe(
      '{"items":[{"create":{"error":{"type":"es_rejected_execution_exception"}}}]}',
    );
    expect(noItems.text).toBe('{"errors":false}');
  });

  it('keeps an array that was empty to begin with under exclusions only (ES #109668), not under inclusions', async () => {
    const server = await start();

    const excluded = await get(server, '/_data_stream', '-data_streams.name');
    const included = await get(server, '/_data_stream', 'data_streams.name');

    expect(excluded.text).toBe('{"data_streams":[]}');
    expect(included.text).toBe('{}');
  });

  it('matches a field name that contains a dot through an escaped dot', async () => {
    const server = await start();
    await fetch(`${server.url}/_index_template/dotted`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        index_patterns: ['dotted-*'],
        template: { settings: { 'index.number_of_shards': 1, 'index.codec': 'best_compression' } },
      }),
    });

    const result = await get(
      server,
      '/_index_template/dotted',
      'index_templates.index_template.template.settings.index\\.codec',
    );

    expect(result.json).toEqual({
      index_templates: [
        { index_template: { template: { settings: { 'index.codec': 'best_compression' } } } },
      ],
    });
  });

  it('filters a non-error 404 (GET _doc found:false is built like any response)', async () => {
    const server = await start();
    await bulk(server, ndjson(...create('a')));

    const result = await get(server, '/f/_doc/missing', 'found');

    expect(result.status).toBe(404);
    expect(result.text).toBe('{"found":false}');
  });

  it('does not filter a whole-request error: 401, a scripted 429, a 400 for a bad body', async () => {
    const server = await start({ auth: { bearerTokens: ['t'] } });
    const body = ndjson(...create('a'));

    const unauthenticated = await bulk(server, body, BULK_FILTER);
    server.failRequests({ type: 'status', status: 429 });
    const rejected = await bulk(server, body, BULK_FILTER, { authorization: 'Bearer t' });
    const unterminated = await bulk(server, '{"create":{"_index":"f"}}', BULK_FILTER, {
      authorization: 'Bearer t',
    });

    expect(unauthenticated.status).toBe(401);
    expect(unauthenticated.json).toMatchObject({
      error: { root_cause: [{ type: 'security_exception' }], type: 'security_exception' },
      status: 401,
    });
    expect(rejected.status).toBe(429);
    expect(rejected.json).toMatchObject({
      error: {
        root_cause: [{ type: 'es_rejected_execution_exception' }],
        type: 'es_rejected_execution_exception',
      },
      status: 429,
    });
    expect(unterminated.status).toBe(400);
    expect(unterminated.json).toMatchObject({
      error: {
        type: 'illegal_argument_exception',
        reason: 'The bulk request must be terminated by a newline [\\n]',
      },
      status: 400,
    });
  });

  it('ignores an empty filter_path and empty entries in it', async () => {
    const server = await start();

    const empty = await get(server, '/', '');
    const blanks = await get(server, '/', ' , tagline ,');

    expect(Object.keys(empty.json)).toEqual(['name', 'cluster_name', 'cluster_uuid', 'version', 'tagline']);
    expect(blanks.text).toBe('{"tagline":"You Know, for Search"}');
  });
});

describe('fake Elasticsearch: keepSources: false (the benchmark mode)', () => {
  it('still answers 409 on an existing _id and keeps versions, seq_nos and counts exact', async () => {
    const server = await start({ keepSources: false, recordRequests: false });

    const first = await bulk(server, ndjson(...create('a'), ...create('b')), BULK_FILTER);
    const second = await bulk(
      server,
      ndjson(...create('b'), ...create('c'), { index: { _index: 'f', _id: 'a' } }, { n: 2 }),
      BULK_FILTER,
    );

    expect(first.text).toBe('{"errors":false,"items":[{"create":{"status":201}},{"create":{"status":201}}]}');
    const items = second.json.items as { [op: string]: { status: number; error?: { reason: string } } }[];
    expect(items.map((item) => Object.values(item)[0]?.status)).toEqual([409, 201, 200]);
    expect(items[0]?.create?.error?.reason).toBe(
      '[b]: version conflict, document already exists (current version [1])',
    );
    expect(Object.fromEntries(server.itemStatusCounts())).toEqual({ 201: 3, 409: 1, 200: 1 });
    expect(server.documentCount('f')).toBe(3);
    expect(server.documentCount()).toBe(3);
    expect(server.documents('f').map(({ id, version, seqNo }) => ({ id, version, seqNo }))).toEqual([
      { id: 'a', version: 2, seqNo: 3 },
      { id: 'b', version: 1, seqNo: 1 },
      { id: 'c', version: 1, seqNo: 2 },
    ]);
  });

  it('forgets a deleted _id (a new create of it is 201) and still finds every id once there are thousands', async () => {
    const server = await start({ keepSources: false });
    const ids = Array.from({ length: 3000 }, (_, at) => `id-${at}`);
    await bulk(server, ndjson(...ids.flatMap((id) => create(id))));

    const deleted = await bulk(server, ndjson({ delete: { _index: 'f', _id: 'id-7' } }), BULK_FILTER);
    const again = await bulk(server, ndjson(...ids.flatMap((id) => create(id))), 'items.*.status');

    expect(deleted.text).toBe('{"errors":false,"items":[{"delete":{"status":200}}]}');
    const statuses = (again.json.items as { create: { status: number } }[]).map((item) => item.create.status);
    expect(statuses.filter((status) => status === 409)).toHaveLength(2999);
    expect(statuses[7]).toBe(201);
    expect(server.documentCount('f')).toBe(3000);
    // seq_nos 0-2999 for the creates, 3000 for the delete; a 409 takes none.
    expect(server.documents('f').at(-1)).toMatchObject({ id: 'id-7', version: 1, seqNo: 3001 });
  });

  it('fails loudly where a source would be read: documents()[i].source and GET _doc', async () => {
    const server = await start({ keepSources: false });
    await bulk(server, ndjson(...create('a')));

    const lookup = await get(server, '/f/_doc/a');

    expect(() => server.documents('f')[0]?.source).toThrow(/not kept \(started with keepSources: false\)/);
    expect(lookup.status).toBe(500);
    expect(JSON.stringify(lookup.json)).toContain('keepSources: false');
  });

  it('keeps checkDocumentsEvery as documented: unchecked documents are stored, non-objects are checked', async () => {
    const server = await start({ keepSources: false, checkDocumentsEvery: 3 });

    const first = await bulk(
      server,
      ndjson(...create('a', { n: 'text' }), ...create('b', { n: 1 }), ...create('c', [1, 2]), ...create('d')),
    );
    const second = await bulk(server, ndjson(...create('b'), ...create('d')));

    const statuses = (answer: Answer): number[] =>
      (answer.json.items as { create: { status: number } }[]).map((item) => item.create.status);
    expect(statuses(first)).toEqual([201, 201, 400, 201]);
    expect(statuses(second)).toEqual([409, 409]);
    expect(server.documentCount()).toBe(3);
  });

  it('reads concurrent, chunked and gzip bodies into reused buffers without mixing them up', async () => {
    const server = await start({ keepSources: false });
    const request = (round: number, size: number): Promise<Answer> => {
      const lines = Array.from({ length: size }, (_, at) =>
        create(`r${round}-${at}`, { pad: 'x'.repeat(100 * (round % 7)) }),
      ).flat();
      const body = ndjson(...lines);
      if (round % 3 === 1) return bulk(server, gzipSync(body), BULK_FILTER, { 'content-encoding': 'gzip' });
      if (round % 3 === 2) {
        // No content-length: chunked, so the body outgrows its first buffer.
        const stream = new ReadableStream<Uint8Array>({
          start(controller) {
            const bytes = Buffer.from(body);
            for (let at = 0; at < bytes.length; at += 16 * 1024)
              controller.enqueue(bytes.subarray(at, at + 16 * 1024));
            controller.close();
          },
        });
        return fetch(`${server.url}/_bulk?filter_path=${BULK_FILTER}`, {
          method: 'POST',
          headers: { 'content-type': 'application/x-ndjson' },
          body: stream,
          duplex: 'half',
        }).then(answer);
      }
      return bulk(server, body, BULK_FILTER);
    };
    const sizes = Array.from({ length: 24 }, (_, round) => 50 + ((round * 37) % 400));

    const answers = await Promise.all(sizes.map((size, round) => request(round, size)));

    for (const [round, result] of answers.entries()) {
      expect(result.status).toBe(200);
      expect(result.json.errors).toBe(false);
      expect((result.json.items as unknown[]).length).toBe(sizes[round]);
    }
    const total = sizes.reduce((sum, size) => sum + size, 0);
    expect(server.documentCount()).toBe(total);
    expect(new Set(server.documents().map((document) => document.id)).size).toBe(total);
    expect(server.itemStatusCounts().get(201)).toBe(total);
    const chunked = server.bulkRequests.filter((request) => request.headers['content-length'] === undefined);
    expect(Math.max(...chunked.map((request) => request.body.length))).toBeGreaterThan(64 * 1024);
  });

  it('records each request body as it was received, even though the buffers are reused', async () => {
    const server = await start({ keepSources: false });
    const bodies = ['a', 'b', 'c'].map((id) => ndjson(...create(id, { id })));

    await Promise.all(bodies.map((body) => bulk(server, body)));
    await bulk(server, ndjson(...create('d', { big: 'y'.repeat(10_000) })));

    expect(new Set(server.bulkRequests.slice(0, 3).map((request) => request.body))).toEqual(new Set(bodies));
  });
});
