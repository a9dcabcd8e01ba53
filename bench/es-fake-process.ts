// Runs the test suite's fake Elasticsearch in its own process for the end-to-end benchmark, so the forwarder's
// measured RSS and CPU are its own (BENCH_FAKE_CHECK_EVERY=1 checks every document). Prints {"url"} at start and
// {"documents"} (what it stored) on SIGTERM. bench/es-fake.bench.ts measures this process too.
import { FakeElasticsearch } from '../test/fakes/es-bulk-server.ts';

// Parsing and mapping every 2-3 KB document would make the fake, not the forwarder, the bottleneck on a
// 2-core machine (~19 µs of CPU per document): one in 50 is, every action line and _id always is.
const CHECK_DOCUMENTS_EVERY = Number(process.env.BENCH_FAKE_CHECK_EVERY ?? 50);
// Without sources a million documents take ~150 MB instead of holding every 3 MB request body (3 GB); ids,
// versions and 409s on existing ids stay exact, which is all the forwarder can observe.
const fake = await FakeElasticsearch.start({
  recordRequests: false,
  checkDocumentsEvery: CHECK_DOCUMENTS_EVERY,
  keepSources: false,
});
process.stdout.write(`${JSON.stringify({ url: fake.url })}\n`);
process.once('SIGTERM', () => {
  const documents = fake.documentCount();
  process.stdout.write(`${JSON.stringify({ documents })}\n`);
  void fake.close().then(() => process.exit(0));
});
