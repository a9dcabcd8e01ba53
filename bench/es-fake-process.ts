// Runs the test suite's fake Elasticsearch in its own process for the end-to-end benchmark, so
// the forwarder's measured RSS and CPU are its own (BENCH_FAKE_CHECK_EVERY=1 checks every document). Prints {"url"} at start and
// {"documents"} (what it stored) on SIGTERM.
import { FakeElasticsearch } from '../test/fakes/es-bulk-server.ts';

// Parsing and mapping every 2-3 KB document would make the fake, not the forwarder, the bottleneck on a
// 2-core machine (~19 µs of CPU per document): one in 50 is, every action line and _id always is.
const CHECK_DOCUMENTS_EVERY = Number(process.env.BENCH_FAKE_CHECK_EVERY ?? 50);
const fake = await FakeElasticsearch.start({
  recordRequests: false,
  checkDocumentsEvery: CHECK_DOCUMENTS_EVERY,
});
process.stdout.write(`${JSON.stringify({ url: fake.url })}\n`);
process.once('SIGTERM', () => {
  const documents = fake.documents().length;
  process.stdout.write(`${JSON.stringify({ documents })}\n`);
  void fake.close().then(() => process.exit(0));
});
