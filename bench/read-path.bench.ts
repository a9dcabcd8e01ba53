// Read-path benchmark: file -> AuditLogTailer cursor (pread, line splitting, exact offsets, acks).
// Run: npm exec -- node bench/read-path.bench.ts [lines=1000000] [lineBytes=1200]
// Prints one JSON object: lines/s, MB/s, CPU seconds, peak RSS. The file is read from the page cache
// (just written). The target (issue 3) is >= 500,000 lines/s on one core.
import { open, mkdtemp, rm } from 'node:fs/promises';
import { arch, cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { CheckpointStore } from '../src/checkpoint/store.ts';
import { AuditLogTailer } from '../src/source/tailer.ts';

const lineCount = Number(process.argv[2] ?? 1_000_000);
const lineBytes = Number(process.argv[3] ?? 1200);

/** Audit-like lines of exactly lineBytes bytes (with '\n'), each with a unique auditID. */
async function generate(path: string): Promise<number> {
  const handle = await open(path, 'w');
  const template = JSON.stringify({
    kind: 'Event',
    apiVersion: 'audit.k8s.io/v1',
    level: 'Metadata',
    auditID: '00000000-0000-0000-0000-000000000000',
    stage: 'ResponseComplete',
    requestURI: '/api/v1/namespaces/kube-system/configmaps/extension-apiserver-authentication',
    verb: 'get',
    user: { username: 'system:kube-controller-manager', groups: ['system:authenticated'] },
    sourceIPs: ['10.0.0.12'],
    userAgent: 'kube-controller-manager/v1.31.0 (linux/amd64) kubernetes/abcdef0/leader-election',
    pad: '',
  });
  const padBytes = lineBytes - 1 - Buffer.byteLength(template);
  if (padBytes < 0) throw new Error(`lineBytes must be at least ${Buffer.byteLength(template) + 1}`);
  const base = Buffer.from(`${template.replace('"pad":""', `"pad":"${'p'.repeat(padBytes)}"`)}\n`);
  const idAt = base.indexOf('00000000-0000');
  const perWrite = Math.max(1, Math.floor((4 * 1024 * 1024) / base.length));
  const block = Buffer.alloc(perWrite * base.length);
  let written = 0;
  while (written < lineCount) {
    const n = Math.min(perWrite, lineCount - written);
    for (let i = 0; i < n; i++) {
      base.copy(block, i * base.length);
      block.write(String(written + i).padStart(12, '0'), i * base.length + idAt + 24, 'latin1');
    }
    await handle.write(block, 0, n * base.length);
    written += n;
  }
  await handle.close();
  return lineCount * base.length;
}

const dir = await mkdtemp(join(tmpdir(), 'kaf-bench-read-'));
try {
  const path = join(dir, 'audit.log');
  const fileBytes = await generate(path);
  const { store } = await CheckpointStore.open(join(dir, 'state'), 'fail');
  const tailer = new AuditLogTailer(
    {
      path,
      startAt: 'beginning',
      maxLineBytes: 4 * 1024 * 1024,
      pollIntervalMs: 250,
      readChunkBytes: 1024 * 1024,
      sinks: ['bench'],
    },
    { store, log: pino({ level: 'silent' }) },
  );
  await tailer.start();
  const cursor = tailer.openCursor('bench');
  const signal = new AbortController().signal;
  let lines = 0;
  let bytes = 0;
  const startedAt = process.hrtime.bigint();
  const cpuBefore = process.cpuUsage();
  while (lines < lineCount) {
    const item = await cursor.next(signal);
    if (item.kind === 'lines') lines += item.lineEnds.length;
    bytes = item.end;
    tailer.acknowledge('bench', item.file.key, item.end);
  }
  const seconds = Number(process.hrtime.bigint() - startedAt) / 1e9;
  const cpu = process.cpuUsage(cpuBefore);
  await cursor.close();
  await tailer.close();
  const result = {
    bench: 'read-path',
    lines,
    lineBytes,
    fileBytes,
    seconds: Number(seconds.toFixed(3)),
    linesPerSecond: Math.round(lines / seconds),
    mbPerSecond: Number((bytes / 1e6 / seconds).toFixed(1)),
    // User + system CPU of the whole process (main thread plus libuv's pread threads) while reading.
    cpuSeconds: Number(((cpu.user + cpu.system) / 1e6).toFixed(3)),
    peakRssMb: Math.round(process.resourceUsage().maxRSS / 1024),
    node: process.version,
    cpu: cpus()[0]?.model ?? 'unknown',
    arch: arch(),
  };
  console.log(JSON.stringify(result));
} finally {
  await rm(dir, { recursive: true, force: true });
}
