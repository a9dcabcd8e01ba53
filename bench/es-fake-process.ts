// Runs the test suite's fake Elasticsearch in its own process for the end-to-end benchmark, so
// the forwarder's measured RSS and CPU are its own. Prints {"url"} at start and
// {"documents"} (what it stored) on SIGTERM.
import { FakeElasticsearch } from '../test/fakes/es-bulk-server.ts';

const fake = await FakeElasticsearch.start({ recordRequests: false });
process.stdout.write(`${JSON.stringify({ url: fake.url })}\n`);
process.once('SIGTERM', () => {
  const documents = fake.documents().length;
  process.stdout.write(`${JSON.stringify({ documents })}\n`);
  void fake.close().then(() => process.exit(0));
});
