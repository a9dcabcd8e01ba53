// Builders of SnapshotInputs and StatusSnapshot documents for the status and CLI unit tests.
import type { FileCheckpoint } from '../../../src/checkpoint/store.ts';
import type { LaneStatus } from '../../../src/pipeline/lane.ts';
import type { FileStatus } from '../../../src/source/tailer.ts';
import { buildSnapshot, type SnapshotInputs } from '../../../src/status/build-snapshot.ts';
import type { StatusSnapshot } from '../../../src/status/snapshot.ts';

export const NOW = new Date('2026-03-01T12:00:00.000Z');
export const STARTED = new Date('2026-03-01T11:00:00.000Z');

export function entry(overrides: Partial<FileCheckpoint> = {}): FileCheckpoint {
  return {
    key: '2049:100:aaaaaa',
    path: '/var/log/audit/audit.log',
    dev: 2049,
    ino: 100,
    fingerprint: 'f'.repeat(64),
    fingerprintBytes: 1024,
    size: 10_000,
    state: 'active',
    offsets: { es: 10_000, local: 10_000 },
    ...overrides,
  };
}

export function tailerFile(overrides: Partial<FileStatus> = {}): FileStatus {
  return {
    key: '2049:100:aaaaaa',
    path: '/var/log/audit/audit.log',
    state: 'active',
    compressed: false,
    size: 10_000,
    bytesUnread: 0,
    modifiedAt: '2026-03-01T11:59:50.000Z',
    sinks: {
      es: { ackedOffset: 10_000, readOffset: 10_000, unackedBytes: 0 },
      local: { ackedOffset: 10_000, readOffset: 10_000, unackedBytes: 0 },
    },
    ...overrides,
  };
}

export function lane(overrides: Partial<LaneStatus> = {}): LaneStatus {
  return {
    name: 'es',
    type: 'elasticsearch',
    state: 'ok',
    lastSuccessAt: '2026-03-01T11:59:59.000Z',
    delivered: 1000,
    retried: 0,
    deadLettered: 0,
    shrunk: 0,
    inFlightBatches: 0,
    inFlightBytes: 0,
    ...overrides,
  };
}

export function inputs(overrides: Partial<SnapshotInputs> = {}): SnapshotInputs {
  return {
    now: NOW,
    version: '1.2.3',
    startedAt: STARTED,
    cluster: 'prod-eu-1',
    node: 'cp-1',
    sourcePath: '/var/log/audit/audit.log',
    checkpoint: {
      path: '/var/lib/kaf/checkpoint.json',
      isOpen: true,
      lastSavedAt: new Date('2026-03-01T11:59:59.500Z'),
      hasUnsavedChanges: false,
      files: [entry()],
      dataLoss: [],
    },
    files: [tailerFile()],
    sinks: [
      { name: 'es', type: 'elasticsearch', healthy: true, lane: lane() },
      { name: 'local', type: 'file', healthy: true, lane: lane({ name: 'local', type: 'file' }) },
    ],
    deadLetter: { path: '/var/lib/kaf/dead-letter.jsonl', total: 0, counts: new Map() },
    ...overrides,
  };
}

export function snapshot(overrides: Partial<SnapshotInputs> = {}): StatusSnapshot {
  return buildSnapshot(inputs(overrides));
}
