// The `elasticsearch` sink's configuration: zod schema, defaults and the field docs users read.
// Strict like every other object; cross-field rules (one auth method, index XOR namespace) report all at once.
// Self-contained on purpose: importing schema.ts's helpers here would make an import cycle with schema.ts.
import { z } from 'zod';
import { Secret } from '../../config/secret.ts';

const MiB = 1024 * 1024;

/** Default largest event: well under Elasticsearch's 100 MB http.max_content_length (sinks.md §1.1). */
export const DEFAULT_MAX_EVENT_BYTES = 10 * MiB;
/** Elasticsearch's default http.max_content_length; an event can never be bigger than a request. */
const MAX_CONTENT_LENGTH = 100 * MiB;
export const DEFAULT_NAMESPACE = 'default';
export { DATASET } from './dataset.ts';

const positiveInt = z.number({ error: 'expected a number' }).int({ error: 'expected an integer' }).positive({
  error: 'expected a positive integer',
});

const secret = z
  .string({ error: 'expected a string (use ${ENV_VAR} to inject a secret)' })
  .min(1, { error: 'expected a non-empty secret' })
  .transform((value) => new Secret(value));

const filePath = z.string({ error: 'expected a file path' }).min(1, { error: 'expected a file path' });

const url = z.string({ error: 'expected an http(s) URL' }).superRefine((value, ctx) => {
  let parsed: URL;
  try {
    parsed = new URL(value);
  } catch {
    ctx.addIssue({ code: 'custom', message: `expected an http(s) URL, got ${JSON.stringify(value)}` });
    return;
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    ctx.addIssue({ code: 'custom', message: `expected an http(s) URL, got ${JSON.stringify(value)}` });
  } else if (parsed.username !== '' || parsed.password !== '') {
    // Credentials in a URL end up in logs and /status; they belong in `auth`.
    ctx.addIssue({ code: 'custom', message: 'expected no credentials in the URL; put them in auth' });
  }
});

/** Characters Elasticsearch refuses in index and data stream names. */
const FORBIDDEN_NAME_CHARS = /[\\/*?"<>| ,#:]/;
/** Date tokens allowed inside %{+...} of an index pattern (a subset of Joda/Java patterns). */
const DATE_TOKENS = /^(yyyy|yy|MM|dd|HH|[.\-_])+$/;

export const elasticsearchAuthSchema = z
  .object({
    /** API key, the base64 "id:api_key" value Kibana shows as "Encoded" (sent as `Authorization: ApiKey …`). */
    apiKey: secret.optional(),
    /** File holding the API key (e.g. a mounted Kubernetes Secret); read at start, surrounding whitespace trimmed. */
    apiKeyFile: filePath.optional(),
    /** User for HTTP basic auth; requires password or passwordFile. */
    username: z.string().min(1).optional(),
    /** Password for `username`. */
    password: secret.optional(),
    /** File holding the password; read at start. */
    passwordFile: filePath.optional(),
    /** Bearer token (e.g. an Elasticsearch service-account token), sent as `Authorization: Bearer …`. */
    bearer: secret.optional(),
    /** File holding the bearer token; read at start. */
    bearerFile: filePath.optional(),
  })
  .strict()
  .superRefine((auth, ctx) => {
    const methods = [
      auth.apiKey !== undefined || auth.apiKeyFile !== undefined ? 'apiKey' : undefined,
      auth.username !== undefined || auth.password !== undefined || auth.passwordFile !== undefined
        ? 'username'
        : undefined,
      auth.bearer !== undefined || auth.bearerFile !== undefined ? 'bearer' : undefined,
    ].filter((method) => method !== undefined);
    if (methods.length !== 1) {
      ctx.addIssue({
        code: 'custom',
        message:
          methods.length === 0
            ? 'expected one of apiKey, username+password or bearer'
            : `expected one auth method, got ${methods.join(' and ')}`,
      });
    }
    const pairs: [unknown, unknown, string][] = [
      [auth.apiKey, auth.apiKeyFile, 'apiKey'],
      [auth.password, auth.passwordFile, 'password'],
      [auth.bearer, auth.bearerFile, 'bearer'],
    ];
    for (const [inline, file, name] of pairs) {
      if (inline !== undefined && file !== undefined) {
        ctx.addIssue({
          code: 'custom',
          path: [`${name}File`],
          message: `expected either ${name} or ${name}File`,
        });
      }
    }
    if (auth.username !== undefined && auth.password === undefined && auth.passwordFile === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['password'],
        message: 'expected password or passwordFile with username',
      });
    }
    if (auth.username === undefined && (auth.password !== undefined || auth.passwordFile !== undefined)) {
      ctx.addIssue({ code: 'custom', path: ['username'], message: 'expected username with password' });
    }
  });

export const elasticsearchTlsSchema = z
  .object({
    /** PEM file with the CA certificate(s) that signed the cluster's certificate; default: Node's CA store. */
    caFile: filePath.optional(),
    /** PEM client certificate for mutual TLS (PKI realm); requires keyFile. */
    certFile: filePath.optional(),
    /** PEM private key of certFile. */
    keyFile: filePath.optional(),
    /**
     * Skip certificate verification. Anyone on the path can then read and alter audit events and credentials;
     * a warning is logged at start. For throwaway test clusters only. Default false.
     */
    insecureSkipVerify: z.boolean().default(false),
  })
  .strict()
  .superRefine((tls, ctx) => {
    if ((tls.certFile === undefined) !== (tls.keyFile === undefined)) {
      ctx.addIssue({
        code: 'custom',
        path: [tls.certFile === undefined ? 'certFile' : 'keyFile'],
        message: 'expected certFile and keyFile together',
      });
    }
  });

export const elasticsearchSinkSchema = z
  .object({
    /** Unique name; label in metrics, /status and dead-letter records. */
    name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/, {
      error: 'expected a name of letters, digits, "_", "." or "-"',
    }),
    type: z.literal('elasticsearch'),
    /**
     * Largest serialized event this sink takes; bigger ones are shrunk (responseObject, then requestObject
     * dropped), then dead-lettered. Default 10 MiB; at most 100 MiB (Elasticsearch's http.max_content_length).
     */
    maxEventBytes: positiveInt
      .max(MAX_CONTENT_LENGTH, {
        error: 'expected at most 104857600 (Elasticsearch http.max_content_length)',
      })
      .optional(),
    /** Elasticsearch URL, e.g. https://es.example:9200 (a path prefix is kept). Use `urls` for several nodes. */
    url: url.optional(),
    /** Several nodes of one cluster; requests rotate over them and skip nodes that failed. */
    urls: z.array(url).min(1, { error: 'expected at least one URL' }).optional(),
    /** Credentials; omit for a cluster without security (not recommended). */
    auth: elasticsearchAuthSchema.optional(),
    /** TLS settings for https URLs. */
    tls: elasticsearchTlsSchema.optional(),
    /**
     * Namespace of the target data stream `logs-kubernetes.audit_logs-<namespace>` (the name Elastic's
     * Kubernetes integration uses). Lowercase, no "-". Default "default". Not allowed together with `index`.
     */
    namespace: z
      .string()
      .min(1)
      .max(100)
      .regex(/^[a-z0-9_.]+$/, { error: 'expected lowercase letters, digits, "_" or "." (no "-")' })
      .optional(),
    /**
     * Write to classic indices instead of a data stream: a name with an optional date pattern taken from each
     * event's @timestamp (UTC), e.g. "k8s-audit-%{+yyyy.MM.dd}". Tokens: yyyy, yy, MM, dd, HH.
     */
    index: z
      .string()
      .min(1)
      .superRefine((value, ctx) => {
        for (const problem of indexPatternProblems(value)) ctx.addIssue({ code: 'custom', message: problem });
      })
      .optional(),
    /**
     * Install (idempotently, at start) an index template for the target, and the ILM policy if `ilm` is set.
     * Needs the manage_index_templates (and manage_ilm) cluster privileges. Default false.
     */
    manageTemplate: z.boolean().default(false),
    /** Index lifecycle: delete data after retentionDays. Requires manageTemplate. */
    ilm: z
      .object({
        /** Days after which an index (data stream: a rolled-over backing index) is deleted. */
        retentionDays: positiveInt.max(36500),
      })
      .strict()
      .optional(),
    /** gzip request bodies (Elasticsearch inflates them; the size limit applies before compression). */
    compression: z.boolean().default(false),
    /**
     * Longest wait for one request. A timed-out bulk may still be applied; the retry is then answered with
     * 409s, which count as delivered. The HTTP client's timers tick about once a second, so the wait can run
     * up to ~1 s over. Default 60000, at least 1000.
     */
    requestTimeoutMs: positiveInt.min(1000, { error: 'expected at least 1000 (ms)' }).default(60_000),
  })
  .strict()
  .superRefine((sink, ctx) => {
    if ((sink.url === undefined) === (sink.urls === undefined)) {
      ctx.addIssue({
        code: 'custom',
        path: ['url'],
        message: sink.url === undefined ? 'expected url or urls' : 'expected either url or urls',
      });
    }
    if (sink.index !== undefined && sink.namespace !== undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['namespace'],
        message: 'expected either index (classic indices) or namespace (data stream)',
      });
    }
    if (sink.ilm !== undefined && !sink.manageTemplate) {
      ctx.addIssue({
        code: 'custom',
        path: ['ilm'],
        message: 'expected manageTemplate: true (the ILM policy is attached through the index template)',
      });
    }
    const urls = sink.urls ?? (sink.url === undefined ? [] : [sink.url]);
    if (sink.tls !== undefined && urls.some((value) => value.startsWith('http:'))) {
      ctx.addIssue({ code: 'custom', path: ['tls'], message: 'expected https URLs when tls is set' });
    }
  });

export type ElasticsearchSinkInput = z.input<typeof elasticsearchSinkSchema>;
export type ElasticsearchSinkConfig = z.output<typeof elasticsearchSinkSchema>;

/** A classic index name with optional %{+date} parts, compiled once. */
export type IndexPattern = readonly IndexPatternPart[];
export type IndexPatternPart =
  | { readonly kind: 'text'; readonly text: string }
  | { readonly kind: 'date'; readonly format: string };

/** Splits "k8s-audit-%{+yyyy.MM.dd}" into text and date parts; throws on a malformed pattern. */
export function parseIndexPattern(pattern: string): IndexPattern {
  const parts: IndexPatternPart[] = [];
  const token = /%\{\+([^}]*)\}/g;
  let last = 0;
  for (let match = token.exec(pattern); match !== null; match = token.exec(pattern)) {
    if (match.index > last) parts.push({ kind: 'text', text: pattern.slice(last, match.index) });
    parts.push({ kind: 'date', format: match[1] ?? '' });
    last = match.index + match[0].length;
  }
  if (last < pattern.length) parts.push({ kind: 'text', text: pattern.slice(last) });
  return parts;
}

function indexPatternProblems(pattern: string): string[] {
  const problems: string[] = [];
  const parts = parseIndexPattern(pattern);
  for (const part of parts) {
    if (part.kind === 'date' && !DATE_TOKENS.test(part.format)) {
      problems.push(
        `expected a date pattern of yyyy, yy, MM, dd, HH and "." "-" "_", got "%{+${part.format}}"`,
      );
    }
    if (part.kind === 'text' && (part.text.includes('%{') || part.text.includes('}'))) {
      problems.push('expected date patterns written as %{+yyyy.MM.dd}');
    }
  }
  const literal = parts.map((part) => (part.kind === 'text' ? part.text : '')).join('');
  if (literal !== literal.toLowerCase()) problems.push('expected a lowercase index name');
  if (FORBIDDEN_NAME_CHARS.test(literal)) {
    problems.push('expected an index name without \\ / * ? " < > | space , # :');
  }
  if (/^[-_+.]/.test(pattern)) problems.push('expected an index name not starting with "-", "_", "+" or "."');
  if (pattern.startsWith('logs-') || pattern.startsWith('metrics-') || pattern.startsWith('traces-')) {
    // Elasticsearch's built-in templates turn such names into data streams: one per day, by accident.
    problems.push(
      'expected a name that does not start with logs-, metrics- or traces- (those are data streams)',
    );
  }
  return problems;
}
