import { describe, expect, it } from 'vitest';
import { Secret } from '../../../src/config/secret.ts';
import { collectSecrets, Redactor } from '../../../src/status/redact.ts';

describe('collectSecrets', () => {
  it('finds Secret values, credential-named strings, URL passwords and user:password pairs', () => {
    const config = {
      cluster: 'prod',
      sinks: [
        {
          name: 'es',
          url: 'https://elastic:p%40ss-in-url@es.example:9200',
          auth: { username: 'elastic', password: new Secret('hunter2-secret') },
        },
        { name: 'hec', token: 'plain-token-value', headers: { Authorization: 'Bearer abcdefghijklmnop' } },
        { name: 'other', apiKey: new Secret('api-key-value') },
      ],
    };

    const secrets = collectSecrets(config);

    expect(secrets).toEqual(
      expect.arrayContaining([
        'hunter2-secret',
        'elastic:hunter2-secret',
        'p%40ss-in-url',
        'p@ss-in-url',
        'elastic:p@ss-in-url',
        'plain-token-value',
        'Bearer abcdefghijklmnop',
        'api-key-value',
      ]),
    );
    expect(secrets).not.toContain('prod');
    expect(secrets).not.toContain('es');
  });
});

describe('Redactor', () => {
  const redactor = new Redactor(['hunter2-secret', 'elastic:hunter2-secret', 'abc']);

  it('replaces known secrets in every form a body can carry them', () => {
    const basic = Buffer.from('elastic:hunter2-secret').toString('base64');

    expect(redactor.text('auth failed with hunter2-secret')).toBe('auth failed with [redacted]');
    expect(redactor.text(`header Basic ${basic}`)).toBe('header Basic [redacted]');
    expect(redactor.text('q=hunter2-secret%20x')).toBe('q=[redacted]%20x');
  });

  it('removes URL userinfo and credential assignments even for secrets it was not told about', () => {
    expect(redactor.text('connect ECONNREFUSED https://bob:s3cr3t@es:9200/_bulk')).toBe(
      'connect ECONNREFUSED https://[redacted]@es:9200/_bulk',
    );
    expect(redactor.text('request headers: {"authorization":"ApiKey Zm9vOmJhcg=="}')).toBe(
      'request headers: {"authorization":"[redacted]"}',
    );
    expect(redactor.text('apiKey=xyz123 token: t0k3n')).toBe('apiKey=[redacted] token: [redacted]');
    expect(redactor.text('Bearer eyJhbGciOiJIUzI1NiJ9.payload')).toBe('Bearer [redacted]');
  });

  it('leaves prose, paths, names that contain a credential word, and short secrets alone', () => {
    const text = 'Basic authentication failed for /var/log/abc/audit.log at http://es:9200';
    const names = 'sink/es-apikey: start-up check failed; my.token: ok; {"es-password": {"a": 1}}';

    expect(redactor.text(text)).toBe(text);
    expect(redactor.text(names)).toBe(names);
  });

  it('scrubs every string of a document, keys included, without changing its shape', () => {
    const document = {
      sinks: [{ lastError: 'bad password hunter2-secret', delivered: 3 }],
      ok: true,
      none: null,
    };

    expect(redactor.value(document)).toEqual({
      sinks: [{ lastError: 'bad password [redacted]', delivered: 3 }],
      ok: true,
      none: null,
    });
    expect(document.sinks[0]?.lastError).toBe('bad password hunter2-secret');
  });
});
