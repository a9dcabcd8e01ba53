// The fake Elasticsearch's per-test lifecycle for raw-HTTP tests of the fake itself: started by the test,
// closed after it.
import { afterEach } from 'vitest';
import { FakeElasticsearch, type FakeEsOptions } from '../fakes/es-bulk-server.ts';

/** Registers an afterEach that closes the fake the test started; returns the function that starts it. */
export function fakeElasticsearchPerTest(): (options?: FakeEsOptions) => Promise<FakeElasticsearch> {
  let fake: FakeElasticsearch | undefined;
  afterEach(async () => {
    await fake?.close();
    fake = undefined;
  });
  return async (options = {}) => {
    fake = await FakeElasticsearch.start(options);
    return fake;
  };
}

/** An NDJSON body: each value serialized on its own line, the last one "\n"-terminated too. */
export function ndjson(...lines: unknown[]): string {
  return `${lines.map((line) => JSON.stringify(line)).join('\n')}\n`;
}
