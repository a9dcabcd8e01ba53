// Node flags for the fake Elasticsearch's own process (bench/es-fake-process.ts). The fake stands in for a
// cluster that would run elsewhere but shares the forwarder's two cores here, so its GC is tuned to take less
// of them: young-generation semi-spaces capped at 8 MB (V8's default lets them grow to 32 MB on these
// machines) took its CPU per million events from ~6.4 to ~4.3 s and the forwarder's throughput from ~78k to
// ~90k events/s (4 and 16 MB measured alike, 2 and 32 MB worse).
export const FAKE_PROCESS_NODE_ARGS: readonly string[] = ['--max-semi-space-size=8'];
