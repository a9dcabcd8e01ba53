// No response of the status server carries a credential: secrets are set in the config through
// environment variables, used (one accepted, one refused so that error texts are produced), and
// every body of /status, /metrics, /readyz, /healthz and the status CLI is searched for them.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FakeElasticsearch } from '../../fakes/es-bulk-server.ts';
import { ForwarderFixture, getText, runCli, waitForStatus } from './forwarder-fixture.ts';

const PASSWORD = 'Pa55-w0rd-for-the-secrets-test';
const API_KEY = Buffer.from('kaf-key-id:api-key-secret-value-0123').toString('base64');
const BEARER = 'AAEAAWVsYXN0aWMvZmxlZXQtc2VydmVyL3Rva2VuLTE2ODQ';

let fixture: ForwarderFixture;
let fake: FakeElasticsearch | undefined;

beforeEach(async () => {
  fixture = await ForwarderFixture.create();
});

afterEach(async () => {
  await fixture.cleanup();
  await fake?.close();
  fake = undefined;
});

/** The forms a secret can leak in: as is, percent-encoded, and inside a basic-auth header. */
function forms(): string[] {
  return [
    PASSWORD,
    encodeURIComponent(PASSWORD),
    Buffer.from(`elastic:${PASSWORD}`).toString('base64'),
    API_KEY,
    Buffer.from(API_KEY, 'base64').toString('utf8'),
    'api-key-secret-value-0123',
    BEARER,
  ];
}

describe('secrets', () => {
  it('never appear in any status response, healthy or failing', async () => {
    fake = await FakeElasticsearch.start({ auth: { users: [{ username: 'elastic', password: PASSWORD }] } });
    await fixture.append(20);
    const daemon = await fixture.start(
      fixture.config({
        sinks: [
          {
            name: 'es-basic',
            type: 'elasticsearch',
            url: fake.url,
            auth: { username: 'elastic', password: '${ES_PASSWORD}' },
          },
          // Refused by the fake (401): the error path is where client libraries quote what they sent.
          { name: 'es-apikey', type: 'elasticsearch', url: fake.url, auth: { apiKey: '${ES_API_KEY}' } },
          { name: 'es-bearer', type: 'elasticsearch', url: fake.url, auth: { bearer: '${ES_BEARER}' } },
        ],
      }),
      { ES_PASSWORD: PASSWORD, ES_API_KEY: API_KEY, ES_BEARER: BEARER },
    );
    const status = await waitForStatus(
      daemon,
      (s) =>
        s.sinks.find((sink) => sink.name === 'es-basic')?.delivered === 20 &&
        s.sinks.filter((sink) => sink.lastError !== undefined).length === 2,
      'es-basic delivering and the two others refused',
    );
    expect(status.ready).toBe(false);

    const bodies = await Promise.all(
      ['/status', '/metrics', '/readyz', '/healthz', '/nope'].map(
        async (path) => (await getText(`${daemon.statusUrl}${path}`)).body,
      ),
    );
    const cli = await runCli(['status', '--url', daemon.statusUrl]);
    const cliJson = await runCli(['status', '--url', daemon.statusUrl, '--json']);
    bodies.push(cli.stdout, cli.stderr, cliJson.stdout);

    expect(bodies[2]).toContain('[-]sink/es-apikey failed');
    for (const body of bodies) {
      for (const secret of forms()) expect(body).not.toContain(secret);
    }
  });
});
