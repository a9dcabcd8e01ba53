// The process and Node.js metrics of prom-client's collectDefaultMetrics(), but for its GC histogram. That
// one observes every collection through perf_hooks, and each entry Node builds for it (with wrappers for
// its deprecated properties) outlived young collections: in a catch-up over 115 rotated files they were a
// quarter of what the main thread tenured (1.7 of 6.5 MB in 30 s, sampling heap profile), and the old
// generation then grew that much faster between full collections. Heap sizes, event-loop lag and CPU stay.
import type { Registry } from 'prom-client';
import eventLoopLag from 'prom-client/lib/metrics/eventLoopLag.js';
import heapSizeAndUsed from 'prom-client/lib/metrics/heapSizeAndUsed.js';
import heapSpacesSizeAndUsed from 'prom-client/lib/metrics/heapSpacesSizeAndUsed.js';
import osMemoryHeap from 'prom-client/lib/metrics/osMemoryHeap.js';
import processCpuTotal from 'prom-client/lib/metrics/processCpuTotal.js';
import processHandles from 'prom-client/lib/metrics/processHandles.js';
import processMaxFileDescriptors from 'prom-client/lib/metrics/processMaxFileDescriptors.js';
import processOpenFileDescriptors from 'prom-client/lib/metrics/processOpenFileDescriptors.js';
import processRequests from 'prom-client/lib/metrics/processRequests.js';
import processResources from 'prom-client/lib/metrics/processResources.js';
import processStartTime from 'prom-client/lib/metrics/processStartTime.js';
import version from 'prom-client/lib/metrics/version.js';

const COLLECTORS = [
  processCpuTotal,
  processStartTime,
  osMemoryHeap,
  processOpenFileDescriptors,
  processMaxFileDescriptors,
  eventLoopLag,
  processResources,
  processHandles,
  processRequests,
  heapSizeAndUsed,
  heapSpacesSizeAndUsed,
  version,
];

/** Registers the process metrics on `registry`, their names prefixed with `prefix`. */
export function collectProcessMetrics(registry: Registry, prefix: string): void {
  // collectDefaultMetrics()'s default event-loop sampling resolution, in ms.
  for (const collect of COLLECTORS) collect(registry, { prefix, eventLoopMonitoringPrecision: 10 });
}
