// Pure classification of a `_bulk` outcome into a SendResult, encoding shared/reference/sinks.md §1.3-§1.4.
// Invariant: only data problems reject; anything an operator can fix (auth, URL, versions, outages) retries,
// because a rejected event goes to dead-letter and is gone from the sink for good.
import type { Rejection, SendResult } from '../sink.ts';

/** What came back from one bulk request: an HTTP answer, or no answer at all. */
export type BulkOutcome =
  | {
      readonly kind: 'response';
      readonly statusCode: number;
      readonly headers: Readonly<Record<string, unknown>>;
      readonly body: unknown;
    }
  /** The transport's error class name (ConnectionError, TimeoutError, ProductNotSupportedError, ...). */
  | { readonly kind: 'transport-error'; readonly name: string; readonly message: string };

export type ItemVerdict =
  | { readonly verdict: 'ok' }
  | { readonly verdict: 'retry'; readonly reason: string }
  | { readonly verdict: 'reject'; readonly reason: string };

const MAX_REASON_CHARS = 1000;
/** One object for every delivered item (nearly all of them), not one per item. */
const OK: ItemVerdict = Object.freeze({ verdict: 'ok' });

/** Classifies the outcome of a bulk request that carried `sentCount` events, in order. */
export function classifyBulk(outcome: BulkOutcome, sentCount: number, nowMs: number): SendResult {
  if (outcome.kind === 'transport-error') return classifyTransportError(outcome.name, outcome.message);
  const { statusCode, body } = outcome;
  if (statusCode >= 200 && statusCode < 300) return classifyItems(body, sentCount);

  const retryAfter = retryAfterMs(outcome.headers['retry-after'], nowMs);
  const detail = describeErrorBody(body);
  const reason = (text: string): string => truncate(detail === '' ? text : `${text}: ${detail}`);
  const retryable = (text: string): SendResult =>
    retryAfter === undefined
      ? { status: 'retryable', reason: reason(text) }
      : { status: 'retryable', reason: reason(text), retryAfterMs: retryAfter };

  if (statusCode === 413) {
    return { status: 'too-large', reason: reason('HTTP 413: request larger than http.max_content_length') };
  }
  if (statusCode === 429) return retryable('HTTP 429: Elasticsearch is overloaded');
  if (statusCode === 408 || statusCode >= 500)
    return retryable(`HTTP ${statusCode}: Elasticsearch unavailable`);
  if (statusCode === 401)
    return retryable("HTTP 401: Elasticsearch refused the credentials; check the sink's auth");
  if (statusCode === 403) {
    return retryable('HTTP 403: the credentials lack privileges (create_doc, auto_configure) on the target');
  }
  if (statusCode === 404 || statusCode === 405 || (statusCode >= 300 && statusCode < 400)) {
    return retryable(
      `HTTP ${statusCode}: no bulk endpoint at this URL; check the sink's url (path prefix, proxy)`,
    );
  }
  if (statusCode === 406 || statusCode === 415) {
    return retryable(`HTTP ${statusCode}: content type refused; a proxy may alter headers`);
  }
  if (statusCode === 400 && errorType(body) === 'media_type_header_exception') {
    // The client's compatible-with header does not suit the server's major version: a deployment problem.
    return retryable('HTTP 400: client and server versions are not compatible');
  }
  if (statusCode >= 400 && statusCode < 500)
    return { status: 'rejected', reason: reason(`HTTP ${statusCode}`) };
  return retryable(`HTTP ${statusCode}: unexpected answer`);
}

function classifyTransportError(name: string, message: string): SendResult {
  switch (name) {
    case 'ConnectionError':
    case 'NoLivingConnectionsError':
      return { status: 'retryable', reason: truncate(`connection failed: ${message}`) };
    case 'TimeoutError':
      return {
        status: 'retryable',
        reason: 'request timed out (it may still be applied; a retry then gets 409s)',
      };
    case 'RequestAbortedError':
      return { status: 'retryable', reason: 'request aborted' };
    case 'ProductNotSupportedError':
      // The 2xx answer lacked X-Elastic-Product (sinks.md §1.6): a proxy or another product answered.
      return {
        status: 'retryable',
        reason: 'the server did not identify itself as Elasticsearch (no X-Elastic-Product header)',
      };
    case 'DeserializationError':
      return { status: 'retryable', reason: truncate(`unparsable response: ${message}`) };
    default:
      return { status: 'retryable', reason: truncate(`${name}: ${message}`) };
  }
}

/** Per-item outcomes of a 2xx bulk response (HTTP 200 even when every item failed, sinks.md §1.2). */
function classifyItems(body: unknown, sentCount: number): SendResult {
  const items = isRecord(body) ? body.items : undefined;
  if (!Array.isArray(items) || items.length !== sentCount) {
    // Resending is safe: `create` with our _id turns already-indexed events into 409s.
    return { status: 'retryable', reason: `malformed bulk response (expected ${sentCount} items)` };
  }
  const retry: number[] = [];
  const rejected: Rejection[] = [];
  items.forEach((item: unknown, index) => {
    const verdict = classifyItem(item);
    if (verdict.verdict === 'retry') retry.push(index);
    else if (verdict.verdict === 'reject') rejected.push({ index, reason: verdict.reason });
  });
  if (retry.length === 0 && rejected.length === 0) return { status: 'delivered' };
  return { status: 'partial', retry, rejected };
}

/** One bulk item: 2xx ok, 409 on create = already there, 429/5xx retry, auth retry, other 4xx reject. */
export function classifyItem(item: unknown): ItemVerdict {
  // The item's one key is its operation; for-in takes it without an array per item (1,000 per answer).
  let op: string | undefined;
  let result: unknown;
  if (isRecord(item)) {
    for (const key in item) {
      op = key;
      result = item[key];
      break;
    }
  }
  if (!isRecord(result) || typeof result.status !== 'number') {
    return { verdict: 'retry', reason: 'malformed bulk item' };
  }
  const { status } = result;
  if (status >= 200 && status < 300) return OK;
  const reason = truncate(`${status} ${describeError(result.error)}`);
  // A `create` that finds our deterministic _id means an earlier attempt got through: delivered.
  if (status === 409 && op === 'create') return OK;
  if (status === 429 || status === 408 || status >= 500) return { verdict: 'retry', reason };
  // Item-level security failures (privileges on one index) are fixed by an operator, not by the data.
  if (status === 401 || status === 403) return { verdict: 'retry', reason };
  return { verdict: 'reject', reason };
}

/** Retry-After as delay-seconds or HTTP-date (RFC 9110 §10.2.3), in ms from now. */
export function retryAfterMs(value: unknown, nowMs: number): number | undefined {
  const text: unknown = Array.isArray(value) ? (value as unknown[])[0] : value;
  if (typeof text !== 'string' || text.trim() === '') return undefined;
  if (/^\d+$/.test(text.trim())) return Number(text.trim()) * 1000;
  const at = Date.parse(text);
  return Number.isNaN(at) ? undefined : Math.max(0, at - nowMs);
}

/** "type: reason (caused by type: reason)" for an ErrorCause, with field-value previews redacted. */
export function describeError(error: unknown): string {
  if (typeof error === 'string') return redact(error);
  if (!isRecord(error)) return 'unknown error';
  const type = typeof error.type === 'string' ? error.type : 'error';
  const text = typeof error.reason === 'string' ? `${type}: ${redact(error.reason)}` : type;
  const cause = isRecord(error.caused_by) ? describeError(error.caused_by) : undefined;
  return cause === undefined ? text : `${text} (caused by ${cause})`;
}

function describeErrorBody(body: unknown): string {
  if (isRecord(body) && body.error !== undefined) return describeError(body.error);
  if (typeof body === 'string')
    return redact(
      body
        .replace(/<[^>]*>/g, ' ')
        .replace(/\s+/g, ' ')
        .trim(),
    ).slice(0, 200);
  return '';
}

function errorType(body: unknown): string | undefined {
  return isRecord(body) && isRecord(body.error) && typeof body.error.type === 'string'
    ? body.error.type
    : undefined;
}

/**
 * Elasticsearch quotes field values in some reasons ("Preview of field's value: '...'", immense-term prefixes);
 * audit events carry secrets, and reasons end up in logs and /status.
 */
function redact(reason: string): string {
  return reason
    .replace(/Preview of field's value: [\s\S]*$/, "Preview of field's value: [redacted]")
    .replace(
      /The prefix of the first immense term is: '[^']*'/,
      'The prefix of the first immense term is: [redacted]',
    );
}

function truncate(text: string): string {
  return text.length <= MAX_REASON_CHARS ? text : `${text.slice(0, MAX_REASON_CHARS - 1)}…`;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}
