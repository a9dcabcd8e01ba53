// The status server's HTTP contract on a real socket, with a scripted provider.
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { ForwarderMetrics } from '../../../src/status/metrics.ts';
import { Redactor } from '../../../src/status/redact.ts';
import { StatusServer } from '../../../src/status/server.ts';
import type { StatusSnapshot } from '../../../src/status/snapshot.ts';
import { snapshot } from '../../unit/status/snapshot-fixtures.ts';

let servers: StatusServer[] = [];
afterEach(async () => {
  await Promise.all(servers.map((server) => server.close()));
  servers = [];
});

async function serve(
  current: () => StatusSnapshot,
  redactor?: Redactor,
): Promise<{ url: string; scrapes: () => number }> {
  let scrapes = 0;
  const metrics = new ForwarderMetrics({ collectProcessMetrics: false });
  const server = new StatusServer(
    {
      snapshot: current,
      refreshMetrics: () => {
        scrapes++;
        metrics.observeSnapshot(current());
      },
    },
    metrics,
    pino({ level: 'silent' }),
    redactor ? { redactor } : {},
  );
  servers.push(server);
  const address = await server.listen('127.0.0.1:0');
  return { url: `http://127.0.0.1:${address.port}`, scrapes: () => scrapes };
}

describe('StatusServer', () => {
  it('serves /healthz, /readyz, /status and /metrics with their content types', async () => {
    const { url, scrapes } = await serve(() => snapshot());

    const health = await fetch(`${url}/healthz`);
    const ready = await fetch(`${url}/readyz`);
    const status = await fetch(`${url}/status`);
    const metrics = await fetch(`${url}/metrics`);

    expect([health.status, health.headers.get('content-type'), await health.text()]).toEqual([
      200,
      'text/plain',
      'ok\n',
    ]);
    expect([ready.status, await ready.text()]).toEqual([
      200,
      '[+]config ok\n[+]checkpoint ok\n[+]sink/es ok\n[+]sink/local ok\nreadyz check passed\n',
    ]);
    expect(status.headers.get('content-type')).toBe('application/json');
    expect(status.headers.get('cache-control')).toBe('no-store');
    expect(await status.json()).toEqual(JSON.parse(JSON.stringify(snapshot())));
    expect(metrics.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(await metrics.text()).toContain('audit_forwarder_lag_bytes{sink="es"} 0');
    expect(scrapes()).toBe(1);
  });

  it('answers 503 on /readyz with one line per failing check', async () => {
    const { url } = await serve(() =>
      snapshot({ sinks: [{ name: 'es', type: 'elasticsearch', healthy: false, healthError: 'HTTP 401' }] }),
    );

    const ready = await fetch(`${url}/readyz`);

    expect(ready.status).toBe(503);
    expect(await ready.text()).toBe(
      '[+]config ok\n[+]checkpoint ok\n[-]sink/es failed: start-up check failed: HTTP 401\nreadyz check failed\n',
    );
  });

  it('answers 404 for unknown paths, 405 for other methods, and HEAD without a body', async () => {
    const { url } = await serve(() => snapshot());

    const missing = await fetch(`${url}/nope`);
    const post = await fetch(`${url}/status`, { method: 'POST', body: '{}' });
    const head = await fetch(`${url}/status`, { method: 'HEAD' });

    expect([missing.status, await missing.text()]).toEqual([
      404,
      'not found: try /status, /metrics, /healthz or /readyz\n',
    ]);
    expect([post.status, post.headers.get('allow')]).toEqual([405, 'GET, HEAD']);
    expect([head.status, await head.text()]).toEqual([200, '']);
  });

  it('removes secrets from every body, whatever field they sneak into', async () => {
    const leaky = snapshot({
      sinks: [
        {
          name: 'es',
          type: 'elasticsearch',
          healthy: false,
          healthError: 'HTTP 401 for https://elastic:Sup3rS3cret!@es:9200 with password Sup3rS3cret!',
        },
      ],
    });
    const { url } = await serve(() => leaky, new Redactor(['Sup3rS3cret!']));

    const bodies = await Promise.all(
      ['/status', '/readyz', '/metrics', '/healthz'].map(async (path) =>
        (await fetch(`${url}${path}`)).text(),
      ),
    );

    for (const body of bodies) expect(body).not.toContain('Sup3rS3cret');
    expect(bodies[1]).toContain('https://[redacted]@es:9200 with password [redacted]');
    expect((JSON.parse(bodies[0] ?? '{}') as StatusSnapshot).sinks[0]?.lastError).toBe(
      'HTTP 401 for https://[redacted]@es:9200 with password [redacted]',
    );
  });
});
