// Builds the /status document from the pieces the forwarder holds: the checkpoint store, the
// tailer's files, each lane's status. Pure (time is an input), so every figure is unit-tested.
// Lag is derived here and only here, so /status, /metrics and the CLI always agree.
import type { DataLossRecord, FileCheckpoint } from '../checkpoint/store.ts';
import type { LaneStatus } from '../pipeline/lane.ts';
import type { FileStatus } from '../source/tailer.ts';
import type {
  DataLossView,
  FileSinkView,
  FileStatusView,
  ReadinessCheck,
  SinkStatusView,
  StatusSnapshot,
} from './snapshot.ts';

/** What the forwarder knows of one sink: its start-up check and, once running, its lane. */
export interface SinkRuntimeView {
  readonly name: string;
  readonly type: string;
  /** The start-up check passed. */
  readonly healthy: boolean;
  /** Why the last start-up check failed. */
  readonly healthError?: string | undefined;
  /** When start-up checks began failing. */
  readonly healthFailingSince?: Date | undefined;
  /** Present once the lane runs (after the start-up check). */
  readonly lane?: LaneStatus | undefined;
}

/** Everything /status is made of, read from the forwarder's components at one moment. */
export interface SnapshotInputs {
  readonly now: Date;
  readonly version: string;
  readonly startedAt: Date;
  readonly cluster: string;
  readonly node: string;
  readonly sourcePath: string;
  readonly checkpoint: {
    readonly path: string;
    /** False until CheckpointStore.open succeeded. */
    readonly isOpen: boolean;
    readonly error?: string | undefined;
    readonly lastSavedAt?: Date | undefined;
    readonly hasUnsavedChanges: boolean;
    readonly files: readonly FileCheckpoint[];
    readonly dataLoss: readonly DataLossRecord[];
  };
  /** The tailer's view; undefined before the tailer exists (checkpoint entries are shown instead). */
  readonly files?: readonly FileStatus[] | undefined;
  readonly sinks: readonly SinkRuntimeView[];
  readonly deadLetter: {
    readonly path: string;
    readonly total: number;
    /** Counts per "sink\u0000reason" (DeadLetterFile.counts). */
    readonly counts: ReadonlyMap<string, number>;
  };
}

/** The /status document for the given state at `inputs.now`. */
export function buildSnapshot(inputs: SnapshotInputs): StatusSnapshot {
  const nowMs = inputs.now.getTime();
  const sinkNames = inputs.sinks.map((sink) => sink.name);
  const identities = new Map(inputs.checkpoint.files.map((entry) => [entry.key, entry]));
  const files =
    inputs.files === undefined
      ? inputs.checkpoint.files.map((entry) => fileFromCheckpoint(entry, sinkNames))
      : inputs.files.map((file) =>
          fileFromTailer(file, identities.get(file.key), inputs.checkpoint.dataLoss, nowMs),
        );

  const readinessChecks = readiness(inputs);
  const lastSavedMs = inputs.checkpoint.lastSavedAt?.getTime();
  return {
    version: inputs.version,
    startedAt: inputs.startedAt.toISOString(),
    uptimeSeconds: seconds(nowMs - inputs.startedAt.getTime()),
    ready: readinessChecks.every((check) => check.ok),
    readinessChecks,
    notReadyReasons: readinessChecks
      .filter((check) => !check.ok)
      .map((check) => `${check.name}: ${check.reason ?? 'not ready'}`),
    cluster: inputs.cluster,
    node: inputs.node,
    source: { path: inputs.sourcePath },
    checkpoint: {
      path: inputs.checkpoint.path,
      ...(inputs.checkpoint.lastSavedAt && { lastPersistedAt: inputs.checkpoint.lastSavedAt.toISOString() }),
      ageSeconds: seconds(nowMs - (lastSavedMs ?? inputs.startedAt.getTime())),
      pendingChanges: inputs.checkpoint.hasUnsavedChanges,
      entries: inputs.checkpoint.files.length,
      ...(inputs.checkpoint.error !== undefined && { error: inputs.checkpoint.error }),
    },
    files,
    sinks: inputs.sinks.map((sink) => sinkView(sink, files, nowMs)),
    dataLoss: inputs.checkpoint.dataLoss.map(dataLossView),
    deadLetter: {
      path: inputs.deadLetter.path,
      count: inputs.deadLetter.total,
      bySink: deadLetterBySink(inputs.deadLetter.counts),
    },
  };
}

function readiness(inputs: SnapshotInputs): ReadinessCheck[] {
  // The config is loaded before a forwarder exists: an invalid one exits at once.
  const checks: ReadinessCheck[] = [{ name: 'config', ok: true }];
  checks.push(
    inputs.checkpoint.isOpen
      ? { name: 'checkpoint', ok: true }
      : { name: 'checkpoint', ok: false, reason: inputs.checkpoint.error ?? 'opening' },
  );
  for (const sink of inputs.sinks) {
    checks.push(
      sink.healthy
        ? { name: `sink/${sink.name}`, ok: true }
        : {
            name: `sink/${sink.name}`,
            ok: false,
            reason:
              sink.healthError === undefined
                ? 'start-up check pending'
                : `start-up check failed: ${sink.healthError}`,
          },
    );
  }
  return checks;
}

function fileFromTailer(
  file: FileStatus,
  entry: FileCheckpoint | undefined,
  dataLoss: readonly DataLossRecord[],
  nowMs: number,
): FileStatusView {
  const sinks: Record<string, FileSinkView> = {};
  let acknowledgedOffset: number | undefined;
  for (const [name, progress] of Object.entries(file.sinks)) {
    sinks[name] = {
      acknowledgedOffset: progress.ackedOffset,
      readOffset: progress.readOffset,
      lagBytes: Math.max(0, file.size - progress.ackedOffset),
    };
    acknowledgedOffset = Math.min(acknowledgedOffset ?? progress.ackedOffset, progress.ackedOffset);
  }
  acknowledgedOffset ??= file.size;
  // A lost file is gone from the checkpoint; its loss record still names its device and inode.
  const lost = entry === undefined ? dataLoss.findLast((record) => record.key === file.key) : undefined;
  const identity = entry
    ? {
        dev: entry.dev,
        ino: entry.ino,
        fingerprint: entry.fingerprint,
        fingerprintBytes: entry.fingerprintBytes,
      }
    : lost?.dev !== undefined && lost.ino !== undefined
      ? { dev: lost.dev, ino: lost.ino }
      : undefined;
  // Lost bytes are reported as data loss, not as lag: nobody will ever catch up on them.
  const lagBytes = file.state === 'lost' ? 0 : Math.max(0, file.size - acknowledgedOffset);
  const modifiedMs = Date.parse(file.modifiedAt);
  return {
    key: file.key,
    path: file.path,
    ...(identity && { identity }),
    state: file.state,
    compressed: file.compressed,
    size: file.size,
    acknowledgedOffset,
    lagBytes,
    lagSeconds: lagBytes > 0 && !Number.isNaN(modifiedMs) ? seconds(nowMs - modifiedMs) : 0,
    ...(!Number.isNaN(modifiedMs) && { modifiedAt: file.modifiedAt }),
    sinks,
  };
}

/** Before the tailer runs, the persisted checkpoint is the best account of the files. */
function fileFromCheckpoint(entry: FileCheckpoint, sinkNames: readonly string[]): FileStatusView {
  const sinks: Record<string, FileSinkView> = {};
  for (const name of new Set([...sinkNames, ...Object.keys(entry.offsets)])) {
    const offset = entry.offsets[name] ?? 0;
    sinks[name] = { acknowledgedOffset: offset, lagBytes: Math.max(0, entry.size - offset) };
  }
  const offsets = Object.values(sinks).map((progress) => progress.acknowledgedOffset);
  const acknowledgedOffset = offsets.length > 0 ? Math.min(...offsets) : entry.size;
  return {
    key: entry.key,
    path: entry.path,
    identity: {
      dev: entry.dev,
      ino: entry.ino,
      fingerprint: entry.fingerprint,
      fingerprintBytes: entry.fingerprintBytes,
    },
    state: entry.state,
    compressed: false,
    size: entry.size,
    acknowledgedOffset,
    lagBytes: Math.max(0, entry.size - acknowledgedOffset),
    lagSeconds: 0,
    sinks,
  };
}

function sinkView(sink: SinkRuntimeView, files: readonly FileStatusView[], nowMs: number): SinkStatusView {
  let lagBytes = 0;
  let oldestUnfinishedWriteMs: number | undefined;
  for (const file of files) {
    if (file.state === 'lost') continue;
    const progress = file.sinks[sink.name];
    const behind = progress === undefined ? file.size : progress.lagBytes;
    if (behind <= 0) continue;
    lagBytes += behind;
    const modifiedMs = file.modifiedAt === undefined ? Number.NaN : Date.parse(file.modifiedAt);
    if (!Number.isNaN(modifiedMs))
      oldestUnfinishedWriteMs = Math.min(oldestUnfinishedWriteMs ?? modifiedMs, modifiedMs);
  }
  const lane = sink.lane;
  const oldestEventMs =
    lane?.oldestUnackedEventTime === undefined ? Number.NaN : Date.parse(lane.oldestUnackedEventTime);
  // Both are lower bounds of the true lag (the age of the oldest event not yet acknowledged): the
  // oldest event in flight is at least that old, and so are the unacknowledged bytes of a file
  // last written at modifiedAt. The larger one is the better estimate.
  let lagSeconds = 0;
  if (!Number.isNaN(oldestEventMs)) lagSeconds = Math.max(lagSeconds, seconds(nowMs - oldestEventMs));
  if (oldestUnfinishedWriteMs !== undefined)
    lagSeconds = Math.max(lagSeconds, seconds(nowMs - oldestUnfinishedWriteMs));
  const base = lane ?? startingLane(sink);
  return {
    name: sink.name,
    type: sink.type,
    state: lane ? lane.state : sink.healthError === undefined ? 'starting' : 'failing',
    ...(base.lastError !== undefined && { lastError: base.lastError }),
    ...(base.failingSince !== undefined && { failingSince: base.failingSince }),
    ...(base.lastSuccessAt !== undefined && { lastSuccessAt: base.lastSuccessAt }),
    delivered: base.delivered,
    retried: base.retried,
    deadLettered: base.deadLettered,
    shrunk: base.shrunk,
    inFlightBatches: base.inFlightBatches,
    inFlightBytes: base.inFlightBytes,
    ...(base.oldestUnackedEventTime !== undefined && { oldestUnackedEventTime: base.oldestUnackedEventTime }),
    lagBytes,
    lagSeconds,
  };
}

/** What a sink whose lane has not started yet (start-up check pending or failing) reports. */
function startingLane(sink: SinkRuntimeView): Omit<LaneStatus, 'state'> {
  return {
    name: sink.name,
    type: sink.type,
    ...(sink.healthError !== undefined && { lastError: sink.healthError }),
    ...(sink.healthFailingSince !== undefined && { failingSince: sink.healthFailingSince.toISOString() }),
    delivered: 0,
    retried: 0,
    deadLettered: 0,
    shrunk: 0,
    inFlightBatches: 0,
    inFlightBytes: 0,
  };
}

function dataLossView(record: DataLossRecord): DataLossView {
  return {
    path: record.path,
    key: record.key,
    ...(record.dev !== undefined && { dev: record.dev }),
    ...(record.ino !== undefined && { ino: record.ino }),
    unreadBytes: record.unreadBytes,
    ...(record.unreadBytesBySink !== undefined && { unreadBytesBySink: { ...record.unreadBytesBySink } }),
    ...(record.unreadBytesIsLowerBound !== undefined && {
      unreadBytesIsLowerBound: record.unreadBytesIsLowerBound,
    }),
    detectedAt: record.detectedAt,
    reason: record.reason,
  };
}

function deadLetterBySink(counts: ReadonlyMap<string, number>): Record<string, Record<string, number>> {
  const bySink: Record<string, Record<string, number>> = {};
  for (const [key, count] of counts) {
    const separator = key.indexOf('\u0000');
    const sink = separator === -1 ? key : key.slice(0, separator);
    const reason = separator === -1 ? 'unknown' : key.slice(separator + 1);
    const reasons = (bySink[sink] ??= {});
    reasons[reason] = (reasons[reason] ?? 0) + count;
  }
  return bySink;
}

/** Milliseconds to seconds with millisecond precision, never negative (clocks and event times skew). */
function seconds(ms: number): number {
  return Math.max(0, Math.round(ms) / 1000);
}
