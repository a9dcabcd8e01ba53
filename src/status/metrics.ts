// Prometheus metrics of one forwarder instance, on a registry of its own (never the global one),
// so tests can run several instances in one process. Names follow Prometheus conventions: the
// audit_forwarder_ prefix, base units in names, _total on counters, and only low-cardinality labels
// (sink, reason, state): never a file path or an auditID. Counters are incremented where things
// happen (lanes, tailer); gauges derived from state are set from the /status snapshot at each scrape.
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { collectProcessMetrics } from './process-metrics.ts';
import type { SinkStateView, StatusSnapshot } from './snapshot.ts';

const PREFIX = 'audit_forwarder_';
const SINK_STATES: readonly SinkStateView[] = ['starting', 'ok', 'retrying', 'failing'];
const FILE_STATES = ['active', 'rotated', 'finished', 'lost'] as const;

export class ForwarderMetrics {
  readonly registry = new Registry();
  readonly eventsRead: Counter<'sink'>;
  readonly bytesRead: Counter<'sink'>;
  readonly eventsDelivered: Counter<'sink'>;
  readonly eventsDeadLettered: Counter<'sink' | 'reason'>;
  readonly eventsShrunk: Counter<'sink'>;
  readonly sendRetries: Counter<'sink'>;
  readonly batchDuration: Histogram<'sink'>;
  readonly inFlightBatches: Gauge<'sink'>;
  readonly bufferedBytes: Gauge<'sink'>;
  readonly skippedBytes: Counter<'reason'>;
  readonly dataLossBytes: Counter;
  readonly dataLossFiles: Counter;
  readonly lagBytes: Gauge<'sink'>;
  readonly lagSeconds: Gauge<'sink'>;
  readonly sinkState: Gauge<'sink' | 'state'>;
  readonly checkpointAge: Gauge;
  readonly checkpointPending: Gauge;
  readonly checkpointFiles: Gauge;
  readonly files: Gauge<'state'>;
  readonly dataLossRecords: Gauge;
  readonly ready: Gauge;
  readonly buildInfo: Gauge<'version'>;

  constructor(options: { collectProcessMetrics?: boolean } = {}) {
    const registers = [this.registry];
    this.eventsRead = new Counter({
      name: `${PREFIX}events_read_total`,
      help: 'Audit lines read and parsed, per sink lane.',
      labelNames: ['sink'],
      registers,
    });
    this.bytesRead = new Counter({
      name: `${PREFIX}read_bytes_total`,
      help: 'Bytes of the audit log read, per sink lane.',
      labelNames: ['sink'],
      registers,
    });
    this.eventsDelivered = new Counter({
      name: `${PREFIX}events_sent_total`,
      help: 'Events acknowledged by the sink.',
      labelNames: ['sink'],
      registers,
    });
    this.eventsDeadLettered = new Counter({
      name: `${PREFIX}events_dead_lettered_total`,
      help: 'Events written to the dead-letter file instead of the sink, by reason.',
      labelNames: ['sink', 'reason'],
      registers,
    });
    this.eventsShrunk = new Counter({
      name: `${PREFIX}events_shrunk_total`,
      help: 'Events whose request/response bodies were dropped to fit the sink.',
      labelNames: ['sink'],
      registers,
    });
    this.sendRetries = new Counter({
      name: `${PREFIX}send_retries_total`,
      help: 'Send attempts that failed with a retryable error and were retried.',
      labelNames: ['sink'],
      registers,
    });
    this.batchDuration = new Histogram({
      name: `${PREFIX}batch_duration_seconds`,
      help: 'Time from dispatching a batch to its acknowledgement, retries included.',
      labelNames: ['sink'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
      registers,
    });
    this.inFlightBatches = new Gauge({
      name: `${PREFIX}in_flight_batches`,
      help: 'Batches sent or being retried, not yet acknowledged.',
      labelNames: ['sink'],
      registers,
    });
    this.bufferedBytes = new Gauge({
      name: `${PREFIX}buffered_bytes`,
      help: 'Bytes of events held in memory for a sink.',
      labelNames: ['sink'],
      registers,
    });
    this.skippedBytes = new Counter({
      name: `${PREFIX}skipped_bytes_total`,
      help: 'Bytes of the audit log that held no events (NUL runs), by reason.',
      labelNames: ['reason'],
      registers,
    });
    this.dataLossBytes = new Counter({
      name: `${PREFIX}data_loss_bytes_total`,
      help: 'Bytes of audit log deleted or truncated before they were read.',
      registers,
    });
    this.dataLossFiles = new Counter({
      name: `${PREFIX}data_loss_files_total`,
      help: 'Audit files deleted or truncated before they were fully read.',
      registers,
    });
    this.lagBytes = new Gauge({
      name: `${PREFIX}lag_bytes`,
      help: 'Bytes of the audit files not yet acknowledged by the sink (read or not).',
      labelNames: ['sink'],
      registers,
    });
    this.lagSeconds = new Gauge({
      name: `${PREFIX}lag_seconds`,
      help: 'Age of the oldest event not yet acknowledged by the sink (a lower bound); 0 when caught up.',
      labelNames: ['sink'],
      registers,
    });
    this.sinkState = new Gauge({
      name: `${PREFIX}sink_state`,
      help: '1 for the state the sink is in (starting, ok, retrying, failing), 0 for the others.',
      labelNames: ['sink', 'state'],
      registers,
    });
    this.checkpointAge = new Gauge({
      name: `${PREFIX}checkpoint_age_seconds`,
      help: 'Seconds since the checkpoint was last written (or since start, when it never was).',
      registers,
    });
    this.checkpointPending = new Gauge({
      name: `${PREFIX}checkpoint_pending`,
      help: '1 while acknowledgements are waiting to be written to the checkpoint.',
      registers,
    });
    this.checkpointFiles = new Gauge({
      name: `${PREFIX}checkpoint_files`,
      help: 'Files described by the checkpoint.',
      registers,
    });
    this.files = new Gauge({
      name: `${PREFIX}files`,
      help: 'Audit files followed, by state (active, rotated, finished, lost).',
      labelNames: ['state'],
      registers,
    });
    this.dataLossRecords = new Gauge({
      name: `${PREFIX}data_loss_records`,
      help: 'Data-loss records kept in the checkpoint; unlike the counters, survives restarts until cleared.',
      registers,
    });
    this.ready = new Gauge({
      name: `${PREFIX}ready`,
      help: '1 when the checkpoint is open and every sink passed its start-up check (as /readyz).',
      registers,
    });
    this.buildInfo = new Gauge({
      name: `${PREFIX}build_info`,
      help: 'Always 1; the forwarder version as a label.',
      labelNames: ['version'],
      registers,
    });
    if (options.collectProcessMetrics ?? true) {
      collectProcessMetrics(this.registry, PREFIX);
    }
  }

  /** Sets the gauges derived from state; called before each scrape with a fresh snapshot. */
  observeSnapshot(snapshot: StatusSnapshot): void {
    this.buildInfo.reset();
    this.buildInfo.set({ version: snapshot.version }, 1);
    this.ready.set(snapshot.ready ? 1 : 0);
    this.checkpointAge.set(snapshot.checkpoint.ageSeconds);
    this.checkpointPending.set(snapshot.checkpoint.pendingChanges ? 1 : 0);
    this.checkpointFiles.set(snapshot.checkpoint.entries);
    this.dataLossRecords.set(snapshot.dataLoss.length);
    this.files.reset();
    for (const state of FILE_STATES) this.files.set({ state }, 0);
    for (const file of snapshot.files) this.files.inc({ state: file.state });
    this.lagBytes.reset();
    this.lagSeconds.reset();
    this.sinkState.reset();
    for (const sink of snapshot.sinks) {
      this.lagBytes.set({ sink: sink.name }, sink.lagBytes);
      this.lagSeconds.set({ sink: sink.name }, sink.lagSeconds);
      for (const state of SINK_STATES)
        this.sinkState.set({ sink: sink.name, state }, sink.state === state ? 1 : 0);
    }
  }
}
