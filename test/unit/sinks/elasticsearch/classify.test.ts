import { describe, expect, it } from 'vitest';
import {
  type BulkOutcome,
  classifyBulk,
  classifyItem,
  describeError,
  retryAfterMs,
} from '../../../../src/sinks/elasticsearch/classify.ts';

const NOW = Date.parse('2025-03-04T05:06:07Z');
const containing = (text: string): string => expect.stringContaining(text) as string;

function response(statusCode: number, body: unknown, headers: Record<string, unknown> = {}): BulkOutcome {
  return { kind: 'response', statusCode, headers, body };
}

function created(id: string): Record<string, unknown> {
  return {
    create: {
      _index: '.ds-logs-kubernetes.audit_logs-default-2025.03.04-000001',
      _id: id,
      _version: 1,
      result: 'created',
      _shards: { total: 2, successful: 1, failed: 0 },
      _seq_no: 0,
      _primary_term: 1,
      status: 201,
    },
  };
}

function failed(op: string, status: number, error: Record<string, unknown>): Record<string, unknown> {
  return { [op]: { _index: 'i', _id: 'x', status, error } };
}

const conflict = failed('create', 409, {
  type: 'version_conflict_engine_exception',
  reason: '[x]: version conflict, document already exists (current version [1])',
});
const rejectedExecution = failed('create', 429, {
  type: 'es_rejected_execution_exception',
  reason: 'rejected execution of primary operation',
});
const parsing = failed('create', 400, {
  type: 'document_parsing_exception',
  reason:
    "[1:120] failed to parse field [source.ip] of type [ip] in document with id 'x'. Preview of field's value: 'secret-token'",
  caused_by: { type: 'illegal_argument_exception', reason: "'secret-token' is not an IP string literal." },
});

describe('classifyBulk: 2xx responses, per item', () => {
  it('delivers when every item was created', () => {
    const result = classifyBulk(
      response(200, { took: 3, errors: false, items: [created('a'), created('b')] }),
      2,
      NOW,
    );

    expect(result).toEqual({ status: 'delivered' });
  });

  it('counts 409 on create as delivered: an earlier attempt already indexed the event', () => {
    const result = classifyBulk(response(200, { errors: true, items: [created('a'), conflict] }), 2, NOW);

    expect(result).toEqual({ status: 'delivered' });
  });

  it('retries 429 and 5xx items, rejects 400 items with their reason, and accepts the rest', () => {
    const items = [
      created('a'),
      rejectedExecution,
      parsing,
      conflict,
      failed('create', 503, { type: 'unavailable_shards_exception', reason: 'primary shard is not active' }),
      failed('create', 500, { type: 'illegal_state_exception', reason: 'boom' }),
      failed('create', 429, { type: 'circuit_breaking_exception', reason: '[parent] Data too large' }),
    ];

    const result = classifyBulk(response(200, { errors: true, items }), items.length, NOW);

    expect(result).toEqual({
      status: 'partial',
      retry: [1, 4, 5, 6],
      rejected: [
        {
          index: 2,
          reason:
            "400 document_parsing_exception: [1:120] failed to parse field [source.ip] of type [ip] in document with id 'x'. Preview of field's value: [redacted] (caused by illegal_argument_exception: 'secret-token' is not an IP string literal.)",
        },
      ],
    });
  });

  it('reports every item rejected as partial with all indexes, not as one batch rejection', () => {
    const result = classifyBulk(response(200, { errors: true, items: [parsing, parsing] }), 2, NOW);

    expect(result).toMatchObject({ status: 'partial', retry: [], rejected: [{ index: 0 }, { index: 1 }] });
  });

  it('retries items refused for authentication or privileges', () => {
    const items = [
      failed('create', 403, {
        type: 'security_exception',
        reason: 'action [indices:data/write/bulk[s]] is unauthorized',
      }),
      failed('create', 401, { type: 'security_exception', reason: 'unable to authenticate' }),
    ];

    expect(classifyBulk(response(200, { errors: true, items }), 2, NOW)).toMatchObject({
      retry: [0, 1],
      rejected: [],
    });
  });

  it('rejects 404 index_not_found items (auto-create disabled) and a 409 on a non-create op', () => {
    const items = [
      failed('create', 404, {
        type: 'index_not_found_exception',
        reason: 'no such index [k8s-audit-2025.03.04]',
      }),
      failed('index', 409, { type: 'version_conflict_engine_exception', reason: '[x]: version conflict' }),
    ];

    expect(classifyBulk(response(200, { errors: true, items }), 2, NOW)).toEqual({
      status: 'partial',
      retry: [],
      rejected: [
        { index: 0, reason: '404 index_not_found_exception: no such index [k8s-audit-2025.03.04]' },
        { index: 1, reason: '409 version_conflict_engine_exception: [x]: version conflict' },
      ],
    });
  });

  it('retries the whole batch when the answer does not have one item per event', () => {
    expect(classifyBulk(response(200, { errors: false, items: [created('a')] }), 2, NOW)).toEqual({
      status: 'retryable',
      reason: 'malformed bulk response (expected 2 items)',
    });
    expect(classifyBulk(response(200, '<html>ok</html>'), 1, NOW)).toMatchObject({ status: 'retryable' });
  });

  it('retries a malformed item', () => {
    expect(classifyItem({ create: { _id: 'x' } })).toEqual({
      verdict: 'retry',
      reason: 'malformed bulk item',
    });
    expect(classifyItem('nonsense')).toEqual({ verdict: 'retry', reason: 'malformed bulk item' });
  });
});

describe('classifyBulk: whole-request answers', () => {
  it('asks the lane to split on 413, whose body is empty', () => {
    expect(classifyBulk(response(413, ''), 10, NOW)).toEqual({
      status: 'too-large',
      reason: 'HTTP 413: request larger than http.max_content_length',
    });
  });

  it('retries 429 with the error and Retry-After in seconds', () => {
    const body = {
      error: {
        root_cause: [
          { type: 'es_rejected_execution_exception', reason: 'rejected execution of coordinating operation' },
        ],
        type: 'es_rejected_execution_exception',
        reason: 'rejected execution of coordinating operation',
      },
      status: 429,
    };

    expect(classifyBulk(response(429, body, { 'retry-after': '7' }), 1, NOW)).toEqual({
      status: 'retryable',
      reason:
        'HTTP 429: Elasticsearch is overloaded: es_rejected_execution_exception: rejected execution of coordinating operation',
      retryAfterMs: 7000,
    });
  });

  it('retries 5xx, including a proxy HTML page, honouring an HTTP-date Retry-After', () => {
    const result = classifyBulk(
      response(502, '<html><body><h1>502 Bad Gateway</h1></body></html>', {
        'retry-after': 'Tue, 04 Mar 2025 05:06:37 GMT',
      }),
      1,
      NOW,
    );

    expect(result).toEqual({
      status: 'retryable',
      reason: 'HTTP 502: Elasticsearch unavailable: 502 Bad Gateway',
      retryAfterMs: 30_000,
    });
  });

  it.each([
    [401, 'HTTP 401: Elasticsearch refused the credentials'],
    [403, 'HTTP 403: the credentials lack privileges'],
    [404, 'HTTP 404: no bulk endpoint at this URL'],
    [405, 'HTTP 405: no bulk endpoint at this URL'],
    [301, 'HTTP 301: no bulk endpoint at this URL'],
    [406, 'HTTP 406: content type refused'],
    [408, 'HTTP 408: Elasticsearch unavailable'],
    [500, 'HTTP 500: Elasticsearch unavailable'],
    [503, 'HTTP 503: Elasticsearch unavailable'],
    [504, 'HTTP 504: Elasticsearch unavailable'],
  ])('retries %i, which an operator or time can fix, never dropping the batch', (status, reason) => {
    const result = classifyBulk(response(status, { error: { type: 'x', reason: 'y' }, status }), 1, NOW);

    expect(result).toMatchObject({ status: 'retryable', reason: containing(reason) });
  });

  it('retries a 400 media_type_header_exception (client and server versions do not match)', () => {
    const body = {
      error: {
        type: 'media_type_header_exception',
        reason: 'Invalid media-type value on headers [Accept, Content-Type]',
        caused_by: {
          type: 'status_exception',
          reason: 'Accept version must be either version 8 or 7, but found 9.',
        },
      },
      status: 400,
    };

    expect(classifyBulk(response(400, body), 1, NOW)).toMatchObject({
      status: 'retryable',
      reason: containing('HTTP 400: client and server versions are not compatible'),
    });
  });

  it('rejects any other 400 on the whole request with the reason', () => {
    const body = {
      error: {
        type: 'illegal_argument_exception',
        reason: 'The bulk request must be terminated by a newline [\\n]',
      },
      status: 400,
    };

    expect(classifyBulk(response(400, body), 3, NOW)).toEqual({
      status: 'rejected',
      reason: 'HTTP 400: illegal_argument_exception: The bulk request must be terminated by a newline [\\n]',
    });
  });
});

describe('classifyBulk: no answer', () => {
  it.each([
    ['ConnectionError', 'read ECONNRESET', 'connection failed: read ECONNRESET'],
    [
      'NoLivingConnectionsError',
      'There are no living connections',
      'connection failed: There are no living connections',
    ],
    [
      'TimeoutError',
      'Request timed out',
      'request timed out (it may still be applied; a retry then gets 409s)',
    ],
    ['RequestAbortedError', 'Request aborted', 'request aborted'],
    [
      'ProductNotSupportedError',
      'x',
      'the server did not identify itself as Elasticsearch (no X-Elastic-Product header)',
    ],
    ['DeserializationError', 'Unexpected token <', 'unparsable response: Unexpected token <'],
    ['TypeError', 'oops', 'TypeError: oops'],
  ])('retries after a %s', (name, message, reason) => {
    expect(classifyBulk({ kind: 'transport-error', name, message }, 1, NOW)).toEqual({
      status: 'retryable',
      reason,
    });
  });
});

describe('retryAfterMs', () => {
  it('reads seconds and HTTP dates, and ignores garbage', () => {
    expect(retryAfterMs('0', NOW)).toBe(0);
    expect(retryAfterMs(['120'], NOW)).toBe(120_000);
    expect(retryAfterMs('Tue, 04 Mar 2025 05:06:00 GMT', NOW)).toBe(0);
    expect(retryAfterMs('soon', NOW)).toBeUndefined();
    expect(retryAfterMs(undefined, NOW)).toBeUndefined();
  });
});

describe('describeError', () => {
  it('redacts quoted field values and immense-term prefixes, which may hold secrets', () => {
    expect(
      describeError({
        type: 'illegal_argument_exception',
        reason:
          'Document contains at least one immense term in field="x" (whose UTF8 encoding is longer than the max length 32766), all of which were skipped. The prefix of the first immense term is: \'[115, 101, 99]...\', original message: bytes can be at most 32766 in length; got 40000',
      }),
    ).toBe(
      'illegal_argument_exception: Document contains at least one immense term in field="x" (whose UTF8 encoding is longer than the max length 32766), all of which were skipped. The prefix of the first immense term is: [redacted], original message: bytes can be at most 32766 in length; got 40000',
    );
  });

  it('truncates long reasons to 1000 characters', () => {
    const item = failed('create', 400, { type: 'mapper_parsing_exception', reason: 'x'.repeat(5000) });

    const verdict = classifyItem(item);

    expect(verdict.verdict).toBe('reject');
    expect((verdict as { reason: string }).reason).toHaveLength(1000);
  });
});
