// One sink's delivery lane: pulls items from its own cursor, batches their lines, has each batch
// parsed and encoded (on the encoder's worker threads), sends batches with bounded concurrency and
// retries, and reports the contiguous acknowledged offset.
// Invariant: a byte range is acknowledged only after its events were delivered to this sink or
// durably dead-lettered; memory stays under maxInFlightBatches × batch.maxBytes + one batch (the one being
// filled, which waits full for a slot) + one source item (the lines that did not fit in it yet).
import type { Logger } from 'pino';
import { AckTracker, type Segment } from '../checkpoint/ack-tracker.ts';
import { describeError } from '../errors.ts';
import type { DeadLetterFile, DeadLetterRecord } from '../sinks/dead-letter.ts';
import { abortableDelay, type BackoffOptions, backoffDelayMs } from '../sinks/retry.ts';
import type { Rejection, SendResult, Sink } from '../sinks/sink.ts';
import { type LineSource, lineStartIn, type SourceItem } from '../source/source.ts';
import type { ForwarderMetrics } from '../status/metrics.ts';
import { BatchBuilder, type BuiltBatch } from './batch-builder.ts';
import { lineOf, releaseBatchInput } from './batch-input.ts';
import { asBuffer, BufferPool } from './buffer-pool.ts';
import { type EncodedBatch, eventTableBytes, outputBytesFor } from './encode-batch.ts';
import type { BatchEncoder } from './encoder-pool.ts';
import type { EnrichContext } from './enrich.ts';
import { type EncodedEvents, selectEvents } from './payload.ts';

const MiB = 1024 * 1024;
/** The largest batch buffer the lane keeps for reuse: a usual batch's wire form is a few MB. */
const KEPT_BUFFER_BYTES = 8 * MiB;
/** A table buffer's smallest size: a 1,000-line batch's line table (16 KB) fits. */
const MIN_TABLE_BYTES = 16 * 1024;
/** A batch's tables are first sized for at most this many lines, then grow if it has more. */
const MAX_EXPECTED_LINES = 10_000;

export interface LaneOptions {
  readonly batch: { readonly maxEvents: number; readonly maxBytes: number; readonly maxWaitMs: number };
  readonly maxInFlightBatches: number;
  readonly maxBufferedBytes: number;
  readonly retry: BackoffOptions;
  /** Consecutive failed attempts after which the sink is reported as failing rather than retrying. */
  readonly failingAfterAttempts?: number;
}

export interface LaneDeps {
  readonly sink: Sink;
  readonly source: LineSource;
  readonly enrich: EnrichContext;
  readonly deadLetter: DeadLetterFile;
  /** Called with a file's new contiguous acknowledged offset for this sink. */
  readonly onAcknowledged: (fileKey: string, offset: number) => void;
  /** Bound to the sink's name already: records carry `sink` once. */
  readonly log: Logger;
  readonly metrics: ForwarderMetrics;
  /** Parses and encodes batches (on worker threads, or inline). */
  readonly encoder: BatchEncoder;
}

/** A dispatched batch until it settles; its oldest event time is known once it is encoded. */
interface InFlightBatch {
  readonly batch: BuiltBatch;
  oldestEventTime: string | undefined;
}

export type SinkState = 'ok' | 'retrying' | 'failing';

/** What /status shows of a lane; read-only snapshot. */
export interface LaneStatus {
  readonly name: string;
  /** The config's `type`: file, stdout, elasticsearch... */
  readonly type: string;
  readonly state: SinkState;
  /** The last failure (send or start-up check), secrets removed. */
  readonly lastError?: string;
  /** When the current run of failures began. */
  readonly failingSince?: string;
  readonly lastSuccessAt?: string;
  /** Events acknowledged by the sink since start. */
  readonly delivered: number;
  /** Failed attempts that were retried since start. */
  readonly retried: number;
  /** Events written to the dead-letter file instead of this sink since start. */
  readonly deadLettered: number;
  /** Events that lost request/response bodies to fit the sink since start. */
  readonly shrunk: number;
  readonly inFlightBatches: number;
  readonly inFlightBytes: number;
  /** Time of the oldest event read but not yet acknowledged, if any. */
  readonly oldestUnackedEventTime?: string;
}

export class Lane {
  readonly #options: LaneOptions;
  readonly #deps: LaneDeps;
  readonly #tracker = new AckTracker();
  readonly #sendAbort = new AbortController();
  /** Aborted with the error of a batch that failed unexpectedly. */
  readonly #failed = new AbortController();
  readonly #inFlight = new Set<InFlightBatch>();
  readonly #buffers: BufferPool;
  /** For the per-line and per-event tables of batches (KBs, not the MBs of #buffers). */
  readonly #tables: BufferPool;
  #builder: BatchBuilder;
  #batchTimer: NodeJS.Timeout | undefined;
  #bufferedBytes = 0;
  /**
   * The batch being filled is full (or its maxWaitMs passed) but every slot was taken: it is dispatched when
   * one frees, and no line is added to it meanwhile.
   */
  #due = false;
  /** The rest of an item that came while the batch was due: consumed first once it is dispatched. */
  #pending: { readonly item: SourceItem; readonly next: number } | undefined;
  /** Woken when a batch settles (a slot frees, and a due batch goes). */
  #settleWaiter: (() => void) | undefined;
  #idleWaiters: (() => void)[] = [];
  #nextSeq = 1;
  /** Settles when the previous batch has made its first send() call: sends start in dispatch order. */
  #sendTurn: Promise<void> = Promise.resolve();
  #state: SinkState = 'ok';
  #consecutiveFailures = 0;
  #lastError: string | undefined;
  #failingSince: Date | undefined;
  #lastSuccessAt: Date | undefined;
  #delivered = 0;
  #retried = 0;
  #deadLettered = 0;
  #shrunk = 0;

  constructor(options: LaneOptions, deps: LaneDeps) {
    this.#options = options;
    this.#deps = deps;
    // Free buffers kept: the batches in flight and the one being filled take them back out.
    this.#buffers = new BufferPool(options.maxInFlightBatches + 1, KEPT_BUFFER_BYTES);
    // Each batch in flight or being filled holds a line table and an event table.
    this.#tables = new BufferPool(2 * (options.maxInFlightBatches + 1), KEPT_BUFFER_BYTES, MIN_TABLE_BYTES);
    this.#builder = this.#newBuilder();
  }

  get name(): string {
    return this.#deps.sink.name;
  }

  /**
   * Reads and dispatches until `signal` aborts, then dispatches what it holds. Rejects if a batch fails
   * in a way the lane cannot recover from (a bug, a dead encoder worker): the forwarder then stops, and
   * the batch is re-read from the checkpoint on start.
   */
  async run(signal: AbortSignal): Promise<void> {
    const log = this.#deps.log;
    const stop = AbortSignal.any([signal, this.#failed.signal]);
    try {
      // Reading goes on while every slot is taken, until the next batch is full: when a slot frees, that
      // batch goes at once rather than after the lines for it are read and copied.
      while (!stop.aborted) {
        await this.#waitWhileDue(stop);
        const pending = this.#pending;
        this.#pending = undefined;
        if (pending !== undefined) this.#consume(pending.item, pending.next);
        else this.#consume(await this.#deps.source.next(stop), 0);
      }
    } catch (error) {
      if (!signal.aborted) throw error;
    } finally {
      this.#dispatch();
    }
    if (this.#failed.signal.aborted && !signal.aborted) throw this.#failed.signal.reason as Error;
    log.debug('Lane stopped reading.');
  }

  /** Resolves true when every dispatched batch is settled, false at the deadline. */
  async drain(timeoutMs: number): Promise<boolean> {
    this.#dispatch();
    if (this.#inFlight.size === 0) return true;
    const idle = new Promise<true>((resolve) =>
      this.#idleWaiters.push(() => {
        resolve(true);
      }),
    );
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<false>((resolve) => {
      timer = setTimeout(() => {
        resolve(false);
      }, timeoutMs);
    });
    const drained = await Promise.race([idle, deadline]);
    clearTimeout(timer);
    return drained;
  }

  /** Abandons in-flight sends (shutdown deadline): their ranges stay unacknowledged and are re-read. */
  abort(): void {
    this.#sendAbort.abort(new Error('Lane aborted at shutdown deadline.'));
  }

  status(): LaneStatus {
    let oldest: string | undefined;
    for (const { oldestEventTime } of this.#inFlight) {
      if (oldestEventTime !== undefined && (oldest === undefined || oldestEventTime < oldest)) {
        oldest = oldestEventTime;
      }
    }
    oldest ??= this.#builder.firstEventTime();
    return {
      name: this.name,
      type: this.#deps.sink.type,
      state: this.#state,
      ...(this.#lastError !== undefined && { lastError: this.#lastError }),
      ...(this.#failingSince && { failingSince: this.#failingSince.toISOString() }),
      ...(this.#lastSuccessAt && { lastSuccessAt: this.#lastSuccessAt.toISOString() }),
      delivered: this.#delivered,
      retried: this.#retried,
      deadLettered: this.#deadLettered,
      shrunk: this.#shrunk,
      inFlightBatches: this.#inFlight.size,
      inFlightBytes: this.#bufferedBytes,
      ...(oldest !== undefined && { oldestUnackedEventTime: oldest }),
    };
  }

  #newBuilder(): BatchBuilder {
    // Most batches end at maxEvents well before maxBytes; the buffer grows (and the pool keeps it) if needed.
    return new BatchBuilder(
      this.#tracker,
      this.#buffers,
      Math.min(this.#options.batch.maxBytes, MiB),
      this.#tables,
      Math.min(this.#options.batch.maxEvents, MAX_EXPECTED_LINES),
    );
  }

  #hasRoom(): boolean {
    return (
      this.#inFlight.size < this.#options.maxInFlightBatches &&
      this.#bufferedBytes < this.#options.maxBufferedBytes
    );
  }

  async #waitWhileDue(signal: AbortSignal): Promise<void> {
    while (this.#due) {
      await new Promise<void>((resolve, reject) => {
        const onAbort = (): void => {
          reject(signal.reason as Error);
        };
        if (signal.aborted) {
          onAbort();
          return;
        }
        signal.addEventListener('abort', onAbort, { once: true });
        this.#settleWaiter = () => {
          signal.removeEventListener('abort', onAbort);
          resolve();
        };
      });
    }
  }

  /** Adds the item's entries from `from` on; what comes while the batch is due is kept for later (#pending). */
  #consume(item: SourceItem, from: number): void {
    const { metrics } = this.#deps;
    const sinkName = this.name;
    if (this.#due) {
      this.#pending = { item, next: from };
      return;
    }
    if (from === 0) metrics.bytesRead.inc({ sink: sinkName }, item.end - item.start);
    switch (item.kind) {
      case 'lines': {
        const { data, lineEnds, file } = item;
        let index = from;
        let lineStart = lineStartIn(item, index);
        while (index < lineEnds.length) {
          const lineEnd = lineEnds[index] as number;
          const offset = item.start + lineStart;
          this.#builder.addLine(
            data,
            lineStart,
            lineEnd,
            file,
            offset,
            Math.min(item.start + lineEnd + 1, item.end),
          );
          lineStart = lineEnd + 1;
          index++;
          if (!this.#afterAdd()) break;
        }
        metrics.eventsRead.inc({ sink: sinkName }, index - from);
        if (index < lineEnds.length) this.#pending = { item, next: index };
        return;
      }
      case 'oversize':
        this.#addDeadLetter(item.file.key, item.start, item.end, {
          sink: sinkName,
          reason: 'line-too-long',
          detail: `line of ${item.length} bytes exceeds source.maxLineBytes; its first ${item.head.length} bytes are kept`,
          path: item.file.path,
          fileKey: item.file.key,
          offset: item.start,
          length: item.length,
          line: item.head.toString('utf8'),
          lineEncoding: 'utf8',
          truncated: true,
        });
        return;
      case 'skipped':
        metrics.skippedBytes.inc({ reason: item.reason }, item.end - item.start);
        this.#deps.log.warn(
          { path: item.file.path, offset: item.start, bytes: item.end - item.start },
          'Skipped a run of NUL bytes in the audit log (left by an external truncation).',
        );
        this.#builder.addRange(item.file.key, item.start, item.end);
        this.#afterAdd();
        return;
    }
  }

  #addDeadLetter(fileKey: string, start: number, end: number, record: DeadLetterRecord): void {
    this.#builder.addDeadLetter(record, fileKey, start, end);
    this.#afterAdd();
  }

  /** Dispatches the batch if it is full (or arms its maxWaitMs timer); false when it is due instead. */
  #afterAdd(): boolean {
    const builder = this.#builder;
    const { maxEvents, maxBytes, maxWaitMs } = this.#options.batch;
    if (builder.lineCount >= maxEvents || builder.bytes >= maxBytes || builder.deadLetterCount >= maxEvents) {
      this.#dispatchWhenRoom();
      return !this.#due;
    }
    this.#batchTimer ??= setTimeout(() => {
      this.#batchTimer = undefined;
      this.#dispatchWhenRoom();
    }, maxWaitMs);
    return true;
  }

  /** Dispatches the batch being filled if a slot is free; else it is due, and goes when one frees. */
  #dispatchWhenRoom(): void {
    if (this.#hasRoom()) this.#dispatch();
    else if (!this.#builder.isEmpty) this.#due = true;
  }

  #dispatch(): void {
    this.#due = false;
    if (this.#batchTimer) {
      clearTimeout(this.#batchTimer);
      this.#batchTimer = undefined;
    }
    if (this.#builder.isEmpty) return;
    const batch = this.#builder.build(this.#nextSeq++);
    this.#builder = this.#newBuilder();
    const entry: InFlightBatch = { batch, oldestEventTime: undefined };
    this.#inFlight.add(entry);
    this.#bufferedBytes += batch.bytes;
    this.#updateGauges();
    const turn = this.#sendTurn;
    let releaseTurn!: () => void;
    this.#sendTurn = new Promise((resolve) => {
      releaseTurn = resolve;
    });
    void this.#deliver(entry, turn, releaseTurn);
  }

  async #deliver(entry: InFlightBatch, turn: Promise<void>, releaseTurn: () => void): Promise<void> {
    const { batch } = entry;
    const startedAt = performance.now();
    const signal = this.#sendAbort.signal;
    let encoded: EncodedBatch | undefined;
    try {
      encoded = await this.#encode(batch);
      entry.oldestEventTime = encoded?.oldestEventTime;
      // send() is called in dispatch order (reached without an await once the turn comes): a sink that
      // appends, like the file sink, then keeps the file's order.
      await turn;
      const sent =
        encoded !== undefined && encoded.eventEnds.length > 0
          ? this.#sendUntilSettled(batch, encoded, signal)
          : undefined;
      releaseTurn();
      await sent;
      await this.#writeDeadLetters([...batch.deadLetters, ...(encoded?.deadLetters ?? [])], signal);
      for (const segment of batch.segments) this.#ack(segment);
      this.#deps.metrics.batchDuration.observe({ sink: this.name }, (performance.now() - startedAt) / 1000);
    } catch (error) {
      if (!signal.aborted) {
        this.#deps.log.error(
          { err: error },
          'Batch delivery failed unexpectedly; stopping so that it is re-read from the checkpoint.',
        );
        this.#failed.abort(error);
      }
    } finally {
      releaseTurn();
      releaseBatchInput(batch.input, encoded?.lines ?? batch.input.lines, this.#buffers, this.#tables);
      if (encoded !== undefined) {
        this.#buffers.release(encoded.payload);
        this.#tables.release(new Uint8Array(encoded.eventEnds.buffer));
      }
      this.#inFlight.delete(entry);
      this.#bufferedBytes -= batch.bytes;
      this.#updateGauges();
      if (this.#due && this.#hasRoom()) this.#dispatch();
      const waiter = this.#settleWaiter;
      this.#settleWaiter = undefined;
      waiter?.();
      if (this.#inFlight.size === 0) {
        const waiters = this.#idleWaiters;
        this.#idleWaiters = [];
        for (const resolve of waiters) resolve();
      }
    }
  }

  async #encode(batch: BuiltBatch): Promise<EncodedBatch | undefined> {
    if (batch.input.lineEnds.length === 0) return undefined;
    const { sink, enrich } = this.#deps;
    const encoded = await this.#deps.encoder.encode({
      sink: sink.name,
      encoding: sink.encoding,
      enrich,
      maxEventBytes: sink.maxEventBytes,
      input: batch.input,
      output: this.#buffers.acquire(outputBytesFor(batch.input.lines.byteLength)),
      eventTable: this.#tables.acquire(eventTableBytes(batch.input.lineEnds.length)),
    });
    if (encoded.shrunk > 0) {
      this.#shrunk += encoded.shrunk;
      this.#deps.metrics.eventsShrunk.inc({ sink: this.name }, encoded.shrunk);
    }
    return encoded;
  }

  #ack(segment: Segment): void {
    const watermark = this.#tracker.ack(segment);
    if (watermark !== undefined) this.#deps.onAcknowledged(segment.fileKey, watermark);
  }

  /** Dead-letter writes are retried like a sink: a full disk must not turn into a skipped range. */
  async #writeDeadLetters(records: readonly DeadLetterRecord[], signal: AbortSignal): Promise<void> {
    if (records.length === 0) return;
    for (let attempt = 1; ; attempt++) {
      try {
        await this.#deps.deadLetter.write(records);
        break;
      } catch (error) {
        this.#deps.log.error({ err: error, attempt }, 'Cannot write the dead-letter file, retrying.');
        await abortableDelay(backoffDelayMs(attempt, this.#options.retry), signal);
      }
    }
    this.#deadLettered += records.length;
    for (const record of records)
      this.#deps.metrics.eventsDeadLettered.inc({ sink: this.name, reason: record.reason });
  }

  /** Sends until every event is delivered or dead-lettered; retries without end, as the file is the buffer. */
  async #sendUntilSettled(
    batch: BuiltBatch,
    encoded: EncodedBatch,
    signal: AbortSignal,
    indices?: readonly number[],
  ): Promise<void> {
    const all: EncodedEvents = { payload: asBuffer(encoded.payload), ends: encoded.eventEnds };
    // Indices into the encoded batch of the events still to send; undefined while that is all of them (the
    // first attempt sends the batch as encoded, without a list of its indices).
    let pending = indices;
    let attempt = 0;
    while (pending === undefined || pending.length > 0) {
      const result = await this.#sendOnce(
        batch.seq,
        pending === undefined ? all : selectEvents(all, pending),
        signal,
      );
      if (result.status === 'delivered') {
        this.#recordSuccess(pending?.length ?? all.ends.length);
        return;
      }
      pending ??= Array.from({ length: all.ends.length }, (_end, index) => index);
      switch (result.status) {
        case 'partial': {
          const current = pending;
          await this.#rejectEvents(
            batch,
            encoded,
            result.rejected.map(({ index, reason }) => ({ index: current[index] as number, reason })),
            signal,
          );
          const delivered = current.length - result.retry.length - result.rejected.length;
          if (delivered > 0) this.#recordSuccess(delivered);
          pending = result.retry.map((index) => current[index] as number);
          if (pending.length === 0) return;
          attempt++;
          this.#recordFailure(`${result.retry.length} of the batch's events need another attempt`, attempt);
          await abortableDelay(backoffDelayMs(attempt, this.#options.retry), signal);
          continue;
        }
        case 'retryable':
          attempt++;
          this.#recordFailure(result.reason, attempt);
          await abortableDelay(backoffDelayMs(attempt, this.#options.retry, result.retryAfterMs), signal);
          continue;
        case 'rejected':
          await this.#rejectEvents(
            batch,
            encoded,
            pending.map((index) => ({ index, reason: result.reason })),
            signal,
          );
          return;
        case 'too-large': {
          if (pending.length === 1) {
            await this.#rejectEvents(
              batch,
              encoded,
              [{ index: pending[0] as number, reason: `too large for the sink: ${result.reason}` }],
              signal,
            );
            return;
          }
          const half = Math.ceil(pending.length / 2);
          await this.#sendUntilSettled(batch, encoded, signal, pending.slice(0, half));
          await this.#sendUntilSettled(batch, encoded, signal, pending.slice(half));
          return;
        }
      }
    }
  }

  async #sendOnce(seq: number, events: EncodedEvents, signal: AbortSignal): Promise<SendResult> {
    try {
      return await this.#deps.sink.send({ seq, payload: events.payload, ends: events.ends }, signal);
    } catch (error) {
      if (signal.aborted) throw error;
      // A sink should classify its failures; a throw is treated as retryable so nothing is lost.
      return { status: 'retryable', reason: describeError(error) };
    }
  }

  /** Dead-letters events of the encoded batch (`index` into it), each with its original line. */
  async #rejectEvents(
    batch: BuiltBatch,
    encoded: EncodedBatch,
    rejected: readonly Rejection[],
    signal: AbortSignal,
  ): Promise<void> {
    // The lines as the encoder handed them back (a worker had them).
    const input = { ...batch.input, lines: encoded.lines };
    const records = rejected.map(({ index, reason }): DeadLetterRecord => {
      const line = encoded.eventLines[index] as number;
      const file = input.files[input.lineFiles[line] as number];
      return {
        sink: this.name,
        reason: 'rejected-by-sink',
        detail: reason,
        path: file?.path ?? '',
        fileKey: file?.key ?? '',
        offset: input.lineOffsets[line] as number,
        // The line parsed when the batch was encoded.
        event: JSON.parse(asBuffer(lineOf(input, line)).toString('utf8')) as unknown,
      };
    });
    if (records.length > 0) {
      this.#deps.log.warn(
        { count: records.length, reason: rejected[0]?.reason },
        'Sink rejected events permanently; they were written to the dead-letter file.',
      );
    }
    await this.#writeDeadLetters(records, signal);
  }

  #recordSuccess(count: number): void {
    this.#delivered += count;
    this.#deps.metrics.eventsDelivered.inc({ sink: this.name }, count);
    this.#lastSuccessAt = new Date();
    if (this.#state !== 'ok') this.#deps.log.info('Sink recovered.');
    this.#state = 'ok';
    this.#consecutiveFailures = 0;
    this.#failingSince = undefined;
  }

  #recordFailure(reason: string, attempt: number): void {
    this.#retried++;
    this.#consecutiveFailures++;
    this.#deps.metrics.sendRetries.inc({ sink: this.name });
    this.#lastError = reason;
    this.#failingSince ??= new Date();
    const failingAfter = this.#options.failingAfterAttempts ?? 3;
    this.#state = this.#consecutiveFailures >= failingAfter ? 'failing' : 'retrying';
    this.#deps.log.warn({ attempt, reason }, 'Send failed, retrying.');
  }

  #updateGauges(): void {
    this.#deps.metrics.inFlightBatches.set({ sink: this.name }, this.#inFlight.size);
    this.#deps.metrics.bufferedBytes.set({ sink: this.name }, this.#bufferedBytes);
  }
}
