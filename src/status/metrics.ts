// Prometheus metrics of one forwarder instance, on a registry of its own (never the global one),
// so tests can run several instances in one process. Names follow Prometheus conventions.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

const PREFIX = 'audit_forwarder_';

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
    if (options.collectProcessMetrics ?? true) {
      collectDefaultMetrics({ register: this.registry, prefix: PREFIX });
    }
  }
}
