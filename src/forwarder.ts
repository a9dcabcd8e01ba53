// Composes one forwarder instance: checkpoint → tailer → one lane per sink → status server.
// Start-up failures that an operator can fix (corrupt checkpoint, unwritable state dir, a sink
// that refuses us) do not exit: they are reported on /readyz and /status and retried, so a
// Kubernetes pod shows the reason instead of a crash loop.
import type { Writable } from 'node:stream';
import type { Logger } from 'pino';
import { CheckpointStore } from './checkpoint/store.ts';
import type { ResolvedConfig } from './config/load.ts';
import { describeError } from './errors.ts';
import { type BatchEncoder, createBatchEncoder, encodeWorkerCount } from './pipeline/encoder-pool.ts';
import { Lane } from './pipeline/lane.ts';
import { createSink } from './sinks/create-sink.ts';
import { DeadLetterFile } from './sinks/dead-letter.ts';
import { abortableDelay, backoffDelayMs } from './sinks/retry.ts';
import type { Sink } from './sinks/sink.ts';
import { AuditLogTailer } from './source/tailer.ts';
import { buildSnapshot } from './status/build-snapshot.ts';
import { ForwarderMetrics } from './status/metrics.ts';
import { collectSecrets, Redactor } from './status/redact.ts';
import { StatusServer } from './status/server.ts';
import type { StatusSnapshot } from './status/snapshot.ts';
import { VERSION } from './version.ts';

export interface ForwarderDeps {
  readonly log: Logger;
  readonly stdout: Writable;
  /** Replaces `status.listen` (tests use "127.0.0.1:0"). */
  readonly statusListen?: string;
  readonly collectProcessMetrics?: boolean;
  /**
   * Called when the pipeline fails in a way it cannot recover from in place (a bug, not a remote
   * failure). The daemon then stops gracefully and exits non-zero, so it restarts from the checkpoint
   * instead of standing still while looking alive.
   */
  readonly onFatal?: (error: unknown) => void;
}

interface SinkRuntime {
  readonly sink: Sink;
  lane?: Lane;
  lanePromise?: Promise<void>;
  healthy: boolean;
  healthError?: string;
  /** When the sink's start-up check first failed; cleared once it passes. */
  healthFailingSince?: Date;
}

const STARTUP_RETRY = { initialBackoffMs: 1000, maxBackoffMs: 30_000 };

export class Forwarder {
  readonly metrics: ForwarderMetrics;
  readonly #config: Readonly<ResolvedConfig>;
  readonly #deps: ForwarderDeps;
  readonly #log: Logger;
  readonly #startedAt = new Date();
  readonly #stopReading = new AbortController();
  readonly #sinks: SinkRuntime[];
  readonly #deadLetter: DeadLetterFile;
  /** Shared by the lanes: one pool of encoder threads for the process. */
  readonly #encoder: BatchEncoder;
  #status: StatusServer | undefined;
  #store: CheckpointStore | undefined;
  #storeError: string | undefined;
  #tailer: AuditLogTailer | undefined;
  #saveTimer: NodeJS.Timeout | undefined;
  #startup: Promise<void> | undefined;
  #statusAddress: string | undefined;

  constructor(config: Readonly<ResolvedConfig>, deps: ForwarderDeps) {
    this.#config = config;
    this.#deps = deps;
    this.#log = deps.log;
    this.metrics = new ForwarderMetrics({ collectProcessMetrics: deps.collectProcessMetrics ?? true });
    this.#deadLetter = new DeadLetterFile(config.state.dir);
    this.#encoder = createBatchEncoder(encodeWorkerCount(config.delivery.encodeWorkers), deps.log);
    this.#sinks = config.sinks.map((sinkConfig) => ({
      sink: createSink(sinkConfig, { log: deps.log.child({ sink: sinkConfig.name }), stdout: deps.stdout }),
      healthy: false,
    }));
  }

  /** Address the status server listens on, once started. */
  get statusAddress(): string | undefined {
    return this.#statusAddress;
  }

  /** Starts the status server, then the pipeline in the background; resolves once listening. */
  async start(): Promise<void> {
    this.#status = new StatusServer(
      {
        snapshot: () => this.snapshot(),
        refreshMetrics: () => {
          this.metrics.observeSnapshot(this.snapshot());
        },
      },
      this.metrics,
      this.#log,
      { redactor: new Redactor(collectSecrets(this.#config)) },
    );
    const address = await this.#status.listen(this.#deps.statusListen ?? this.#config.status.listen);
    this.#statusAddress = `${address.address}:${address.port}`;
    this.#log.info(
      {
        status: `http://${this.#statusAddress}/status`,
        version: VERSION,
        sinks: this.#sinks.map((s) => s.sink.name),
      },
      'Forwarder started.',
    );
    this.#startup = this.#startPipeline().catch((error: unknown) => {
      if (this.#stopReading.signal.aborted) return;
      this.#log.fatal({ err: error }, 'Pipeline start-up failed.');
      this.#deps.onFatal?.(error);
    });
  }

  async #startPipeline(): Promise<void> {
    const signal = this.#stopReading.signal;
    const store = await this.#openCheckpoint(signal);
    const { config } = { config: this.#config };
    const tailer = new AuditLogTailer(
      {
        path: config.source.path,
        startAt: config.source.startAt,
        maxLineBytes: config.source.maxLineBytes,
        ...(config.source.backupGlob !== undefined && { backupGlob: config.source.backupGlob }),
        ...(config.source.missingFileGraceMs !== undefined && {
          missingFileGraceMs: config.source.missingFileGraceMs,
        }),
        pollIntervalMs: config.source.pollIntervalMs,
        readChunkBytes: config.source.readChunkBytes,
        sinks: this.#sinks.map((runtime) => runtime.sink.name),
        ...(store.resetTo !== undefined && { resetTo: store.resetTo }),
      },
      {
        store: store.store,
        log: this.#log.child({ component: 'tailer' }),
        observer: {
          onDataLoss: (record) => {
            this.metrics.dataLossFiles.inc();
            this.metrics.dataLossBytes.inc(record.unreadBytes);
          },
        },
      },
    );
    this.#tailer = tailer;
    await tailer.start(signal);
    this.#saveTimer = setInterval(() => {
      this.#saveCheckpoint();
    }, config.checkpoint.intervalMs);
    await Promise.all(this.#sinks.map((runtime) => this.#startLane(runtime, tailer, signal)));
  }

  async #openCheckpoint(
    signal: AbortSignal,
  ): Promise<{ store: CheckpointStore; resetTo?: 'beginning' | 'end' }> {
    for (let attempt = 1; ; attempt++) {
      try {
        const opened = await CheckpointStore.open(this.#config.state.dir, this.#config.checkpoint.onCorrupt);
        this.#store = opened.store;
        this.#storeError = undefined;
        if (opened.corruptCopy !== undefined) {
          this.#log.error(
            { corruptCopy: opened.corruptCopy, restartAt: opened.resetTo },
            'The checkpoint was corrupt; it was set aside and every file restarts as checkpoint.onCorrupt says.',
          );
        }
        return opened.resetTo === undefined
          ? { store: opened.store }
          : { store: opened.store, resetTo: opened.resetTo };
      } catch (error) {
        this.#storeError = describeError(error);
        this.#log.error(
          { err: error, attempt },
          'Cannot open the checkpoint; not reading until it is fixed.',
        );
        await abortableDelay(backoffDelayMs(attempt, STARTUP_RETRY), signal);
      }
    }
  }

  async #startLane(runtime: SinkRuntime, tailer: AuditLogTailer, signal: AbortSignal): Promise<void> {
    const { sink } = runtime;
    for (let attempt = 1; !runtime.healthy; attempt++) {
      try {
        await sink.healthcheck(signal);
        runtime.healthy = true;
        delete runtime.healthError;
        delete runtime.healthFailingSince;
      } catch (error) {
        if (signal.aborted) return;
        runtime.healthError = describeError(error);
        runtime.healthFailingSince ??= new Date();
        this.#log.error({ sink: sink.name, err: error, attempt }, 'Sink start-up check failed, retrying.');
        await abortableDelay(backoffDelayMs(attempt, STARTUP_RETRY), signal);
      }
    }
    const { delivery, batch } = this.#config;
    const lane = new Lane(
      {
        batch,
        maxInFlightBatches: delivery.maxInFlightBatches,
        maxBufferedBytes: delivery.maxBufferedBytes,
        retry: delivery.retry,
      },
      {
        sink,
        source: tailer.openCursor(sink.name),
        enrich: { cluster: this.#config.cluster, node: this.#config.node },
        deadLetter: this.#deadLetter,
        encoder: this.#encoder,
        onAcknowledged: (fileKey, offset) => {
          tailer.acknowledge(sink.name, fileKey, offset);
        },
        log: this.#log.child({ sink: sink.name }),
        metrics: this.metrics,
      },
    );
    runtime.lane = lane;
    runtime.lanePromise = lane.run(signal).catch((error: unknown) => {
      this.#log.fatal(
        { sink: sink.name, err: error },
        'Lane failed; stopping so the forwarder restarts from the checkpoint.',
      );
      this.#deps.onFatal?.(error);
    });
    await runtime.lanePromise;
  }

  #saveCheckpoint(): void {
    this.#store?.save().catch((error: unknown) => {
      this.#log.error({ err: error }, 'Cannot write the checkpoint; will retry.');
    });
  }

  /**
   * Graceful stop: stop reading, deliver what is in flight within the deadline, persist the
   * checkpoint. What is not acknowledged by then is re-read on the next start, never lost.
   */
  async stop(): Promise<{ drained: boolean }> {
    this.#stopReading.abort(new Error('Forwarder stopping.'));
    await this.#startup;
    await Promise.all(this.#sinks.flatMap((runtime) => (runtime.lanePromise ? [runtime.lanePromise] : [])));
    const timeoutMs = this.#config.delivery.shutdownTimeoutMs;
    const results = await Promise.all(
      this.#sinks.map((runtime) => runtime.lane?.drain(timeoutMs) ?? Promise.resolve(true)),
    );
    const drained = results.every(Boolean);
    if (!drained) {
      this.#log.warn(
        { timeoutMs },
        'Shutdown deadline reached; unacknowledged events will be re-read on start.',
      );
      for (const runtime of this.#sinks) runtime.lane?.abort();
    }
    clearInterval(this.#saveTimer);
    try {
      await this.#store?.save();
    } catch (error) {
      this.#log.error(
        { err: error },
        'Cannot write the checkpoint at shutdown; events since the last one will be re-sent.',
      );
    }
    await this.#tailer?.close();
    await Promise.all(this.#sinks.map((runtime) => runtime.sink.close().catch(() => undefined)));
    await this.#deadLetter.close();
    await this.#encoder.close();
    await this.#status?.close();
    this.#log.info({ drained }, 'Forwarder stopped.');
    return { drained };
  }

  snapshot(): StatusSnapshot {
    const store = this.#store;
    return buildSnapshot({
      now: new Date(),
      version: VERSION,
      startedAt: this.#startedAt,
      cluster: this.#config.cluster,
      node: this.#config.node,
      sourcePath: this.#config.source.path,
      checkpoint: {
        path: store?.path ?? `${this.#config.state.dir}/checkpoint.json`,
        isOpen: store !== undefined,
        error: this.#storeError,
        lastSavedAt: store?.lastSavedAt,
        hasUnsavedChanges: store ? store.isDirty || store.isSaving : false,
        files: store?.files ?? [],
        dataLoss: store?.dataLoss ?? [],
      },
      files: this.#tailer?.files(),
      sinks: this.#sinks.map((runtime) => ({
        name: runtime.sink.name,
        type: runtime.sink.type,
        healthy: runtime.healthy,
        healthError: runtime.healthError,
        healthFailingSince: runtime.healthFailingSince,
        lane: runtime.lane?.status(),
      })),
      deadLetter: {
        path: this.#deadLetter.path,
        total: this.#deadLetter.total,
        counts: this.#deadLetter.counts,
      },
    });
  }
}
