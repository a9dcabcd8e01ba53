import { describe, expect, it } from 'vitest';
import { configSchema } from '../../../../src/config/schema.ts';
import { Secret } from '../../../../src/config/secret.ts';
import { elasticsearchSinkSchema, parseIndexPattern } from '../../../../src/sinks/elasticsearch/config.ts';

function messages(input: unknown): string[] {
  const result = elasticsearchSinkSchema.safeParse(input);
  return result.success
    ? []
    : result.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`);
}

const base = { name: 'siem-es', type: 'elasticsearch', url: 'https://es.example:9200' };

describe('elasticsearchSinkSchema', () => {
  it('fills the defaults of a minimal sink', () => {
    const config = elasticsearchSinkSchema.parse(base);

    expect(config).toEqual({
      ...base,
      manageTemplate: false,
      compression: false,
      requestTimeoutMs: 60_000,
    });
  });

  it('wraps inline credentials in Secret, which never prints', () => {
    const config = elasticsearchSinkSchema.parse({
      ...base,
      auth: { username: 'elastic', password: 'hunter2' },
    });

    expect(config.auth?.password).toBeInstanceOf(Secret);
    expect(JSON.stringify(config)).not.toContain('hunter2');
  });

  it('requires exactly one auth method, and the password with the username', () => {
    expect(messages({ ...base, auth: {} })).toEqual([
      'auth: expected one of apiKey, username+password or bearer',
    ]);
    expect(messages({ ...base, auth: { apiKey: 'k', bearer: 't' } })).toEqual([
      'auth: expected one auth method, got apiKey and bearer',
    ]);
    expect(messages({ ...base, auth: { username: 'elastic' } })).toEqual([
      'auth.password: expected password or passwordFile with username',
    ]);
    expect(messages({ ...base, auth: { apiKey: 'k', apiKeyFile: '/k' } })).toEqual([
      'auth.apiKeyFile: expected either apiKey or apiKeyFile',
    ]);
  });

  it('rejects unknown keys, credentials in the URL and tls with http URLs', () => {
    expect(messages({ ...base, hosts: ['x'] })).toEqual([': Unrecognized key: "hosts"']);
    expect(messages({ ...base, url: 'https://elastic:pw@es:9200' })).toEqual([
      'url: expected no credentials in the URL; put them in auth',
    ]);
    expect(messages({ ...base, url: 'http://es:9200', tls: { insecureSkipVerify: true } })).toEqual([
      'tls: expected https URLs when tls is set',
    ]);
    expect(messages({ ...base, tls: { certFile: '/c' } })).toEqual([
      'tls.keyFile: expected certFile and keyFile together',
    ]);
  });

  it('takes url or urls, not both and not neither', () => {
    expect(messages({ name: 'a', type: 'elasticsearch' })).toEqual(['url: expected url or urls']);
    expect(messages({ ...base, urls: ['https://b:9200'] })).toEqual(['url: expected either url or urls']);
    expect(
      messages({ name: 'a', type: 'elasticsearch', urls: ['https://a:9200', 'https://b:9200'] }),
    ).toEqual([]);
  });

  it('keeps data stream and classic index apart, and ILM needs manageTemplate', () => {
    expect(messages({ ...base, index: 'k8s-audit', namespace: 'prod' })).toEqual([
      'namespace: expected either index (classic indices) or namespace (data stream)',
    ]);
    expect(messages({ ...base, ilm: { retentionDays: 30 } })).toEqual([
      'ilm: expected manageTemplate: true (the ILM policy is attached through the index template)',
    ]);
    expect(messages({ ...base, namespace: 'prod-eu' })).toEqual([
      'namespace: expected lowercase letters, digits, "_" or "." (no "-")',
    ]);
  });

  it('checks index patterns', () => {
    expect(messages({ ...base, index: 'k8s-audit-%{+yyyy.MM.dd}' })).toEqual([]);
    expect(messages({ ...base, index: 'K8s-%{+yyyy}' })).toEqual(['index: expected a lowercase index name']);
    expect(messages({ ...base, index: 'audit-%{+YYYY.ww}' })).toEqual([
      'index: expected a date pattern of yyyy, yy, MM, dd, HH and "." "-" "_", got "%{+YYYY.ww}"',
    ]);
    expect(messages({ ...base, index: 'logs-k8s-audit' })).toEqual([
      'index: expected a name that does not start with logs-, metrics- or traces- (those are data streams)',
    ]);
    expect(messages({ ...base, index: 'a b' })).toEqual([
      'index: expected an index name without \\ / * ? " < > | space , # :',
    ]);
  });

  it('bounds maxEventBytes by http.max_content_length and requestTimeoutMs by the client timer tick', () => {
    expect(messages({ ...base, maxEventBytes: 200 * 1024 * 1024 })).toEqual([
      'maxEventBytes: expected at most 104857600 (Elasticsearch http.max_content_length)',
    ]);
    expect(messages({ ...base, requestTimeoutMs: 200 })).toEqual([
      'requestTimeoutMs: expected at least 1000 (ms)',
    ]);
  });
});

describe('parseIndexPattern', () => {
  it('splits text and date parts', () => {
    expect(parseIndexPattern('k8s-%{+yyyy.MM}-audit-%{+dd}')).toEqual([
      { kind: 'text', text: 'k8s-' },
      { kind: 'date', format: 'yyyy.MM' },
      { kind: 'text', text: '-audit-' },
      { kind: 'date', format: 'dd' },
    ]);
  });
});

describe('configSchema with an elasticsearch sink', () => {
  it('accepts the elasticsearch sink type and lists it among the types', () => {
    const source = { path: '/var/log/kubernetes/audit.log' };

    const ok = configSchema.safeParse({ cluster: 'prod', source, sinks: [base] });
    const wrong = configSchema.safeParse({ cluster: 'prod', source, sinks: [{ ...base, type: 'elastic' }] });

    expect(ok.success).toBe(true);
    expect(wrong.success).toBe(false);
    expect(wrong.error?.issues[0]?.message).toBe('expected type to be one of: file, stdout, elasticsearch');
  });
});
