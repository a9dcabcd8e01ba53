// Delivery core (issue 4), through the real daemon: Elasticsearch goes down (connections refused and
// reset, on the same address) while the simulated API server writes at 2,000 events/s. The forwarder's
// memory stays within the bound it has in normal running (the audit log on disk is the buffer), and once
// the sink is back every event arrives, one document each.
//
// KAF_OUTAGE_SECONDS sets the outage (default 25; the figure is 600).
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { type DaemonHandle, fetchJson, startDaemon, writeConfig } from '../../helpers/daemon.ts';
import { FakeElasticsearch } from '../../fakes/es-bulk-server.ts';
import {
  delayFor,
  mb,
  procMemory,
  RateWriter,
  resetPeakRss,
  RssSampler,
  TcpProxy,
} from '../../helpers/torture.ts';
import { waitFor } from '../../helpers/wait.ts';
import { eventId } from '../../../src/pipeline/enrich.ts';
import { SimulatedApiServer } from '../../../src/simulator/apiserver.ts';
import type { StatusSnapshot } from '../../../src/status/snapshot.ts';

const MiB = 1024 * 1024;
const RATE_PER_SEC = 2000;
const WARMUP_SECONDS = 3;
const NORMAL_SECONDS = 10;
const OUTAGE_SECONDS = Number(process.env.KAF_OUTAGE_SECONDS ?? 25);
/**
 * A long run (the figure is a 10-minute outage), so it runs only when KAF_OUTAGE_SECONDS is
 * set. Measured with the image's flags and malloc tuning (2 cores): KAF_OUTAGE_SECONDS=30, 130.5 MB normal,
 * 134.5 MB outage, 137.9 MB recovery (catching up at full speed); KAF_OUTAGE_SECONDS=600 (2026-12-07, ~13
 * minutes in all), 124.9 / 129.6 / 140.8 MB.
 */
const OUTAGE_RUN_REQUESTED = process.env.KAF_OUTAGE_SECONDS !== undefined;
/** The target for the forwarder's peak RSS (also the benchmark's). */
const RSS_BOUND_BYTES = 150 * MiB;
/** An outage may cost at most this much more than normal running's peak. */
const OUTAGE_MARGIN_BYTES = 20 * MiB;
/** Product defaults, which this test keeps. */
const MAX_IN_FLIGHT_BATCHES = 2;
const BATCH_MAX_EVENTS = 1000;

let cleanup: (() => Promise<void>)[] = [];

afterEach(async () => {
  for (const step of cleanup.reverse()) await step().catch(() => undefined);
  cleanup = [];
});

function itemsAnswered(fake: FakeElasticsearch): number {
  let total = 0;
  for (const count of fake.itemStatusCounts().values()) total += count;
  return total;
}

async function status(daemon: DaemonHandle): Promise<StatusSnapshot> {
  return fetchJson<StatusSnapshot>(`${daemon.statusUrl}/status`);
}

describe.skipIf(!OUTAGE_RUN_REQUESTED)(
  'a sink outage while the API server writes (long run: set KAF_OUTAGE_SECONDS)',
  () => {
    it(
      `keeps the forwarder's memory at its normal bound during a ${OUTAGE_SECONDS} s Elasticsearch outage at ${RATE_PER_SEC} events/s, then delivers every event once`,
      async () => {
        const dir = await mkdtemp(join(tmpdir(), 'kaf-outage-'));
        cleanup.push(() => rm(dir, { recursive: true, force: true }));
        // Requests are not recorded: a 10-minute run sends over a million events.
        const fake = await FakeElasticsearch.start({ recordRequests: false });
        cleanup.push(() => fake.close());
        const proxy = await TcpProxy.start(fake.port);
        cleanup.push(() => proxy.down());
        const sim = new SimulatedApiServer({
          path: join(dir, 'audit', 'audit.log'),
          // Rotations during the outage: rotated files are held until the sink has read them.
          maxSizeBytes: 16 * MiB,
          seed: 4242,
          record: true,
        });
        const writer = new RateWriter(sim, RATE_PER_SEC);
        cleanup.push(() => writer.stop());
        const configPath = await writeConfig(dir, {
          cluster: 'outage',
          node: 'cp-1',
          source: { path: sim.path },
          state: { dir: join(dir, 'state') },
          // Everything else at the product's defaults, except a shorter backoff cap so recovery is prompt.
          delivery: { retry: { initialBackoffMs: 200, maxBackoffMs: 2000 } },
          sinks: [{ name: 'es', type: 'elasticsearch', url: proxy.url }],
        });
        writer.start();
        // The built forwarder with the image's Node flags: this measures what ships.
        const daemon = await startDaemon(configPath, {}, { built: true });
        cleanup.push(async () => {
          await daemon.stop('SIGKILL');
        });
        const pid = daemon.child.pid ?? 0;
        const sampler = new RssSampler(pid);
        cleanup.push(() => {
          sampler.stop();
          return Promise.resolve();
        });

        // Normal running (after start-up): its peak is the reference.
        await delayFor(WARMUP_SECONDS * 1000);
        const startup = await procMemory(pid);
        await resetPeakRss(pid);
        sampler.reset();
        await delayFor(NORMAL_SECONDS * 1000);
        const normal = await procMemory(pid);
        const normalSampled = sampler.peakBytes;
        const normalLagEvents = writer.linesWritten - fake.documents().length;
        // Elasticsearch keeps up in normal running (at most ~2 s of events behind: batch wait, in flight).
        expect(normalLagEvents).toBeLessThan(RATE_PER_SEC * 2);

        // The outage.
        await resetPeakRss(pid);
        sampler.reset();
        const outageStartedAt = Date.now();
        await proxy.down();
        await waitFor(async () => (await status(daemon)).sinks[0]?.state === 'failing', {
          timeoutMs: 15_000,
          what: 'the sink to be reported failing',
        });
        const storedAtDown = fake.documents().length;
        let maxInFlightBatches = 0;
        let maxInFlightBytes = 0;
        while (Date.now() - outageStartedAt < OUTAGE_SECONDS * 1000) {
          const snapshot = await status(daemon);
          const sink = snapshot.sinks[0];
          maxInFlightBatches = Math.max(maxInFlightBatches, sink?.inFlightBatches ?? 0);
          maxInFlightBytes = Math.max(maxInFlightBytes, sink?.inFlightBytes ?? 0);
          expect(sink?.state, 'sink state during the outage').toBe('failing');
          await delayFor(Math.min(1000, OUTAGE_SECONDS * 1000 - (Date.now() - outageStartedAt)));
        }
        const outage = await procMemory(pid);
        const outageSampled = sampler.peakBytes;
        const writtenDuringOutage = writer.linesWritten;
        const lagAtEnd = (await status(daemon)).sinks[0]?.lagBytes ?? 0;
        expect(fake.documents().length, 'documents stored while the sink was down').toBe(storedAtDown);

        // Recovery: the writer goes on a little, then stops; everything must arrive.
        await resetPeakRss(pid);
        sampler.reset();
        const itemsBeforeUp = itemsAnswered(fake);
        await proxy.up();
        const recoveredAt = Date.now();
        await delayFor(3000);
        await writer.stop();
        const written = sim.written();
        await waitFor(
          async () => {
            if (fake.documents().length < written.length) return false;
            const snapshot = await status(daemon);
            return snapshot.files.every((file) => file.acknowledgedOffset === file.size);
          },
          { timeoutMs: 60_000 + OUTAGE_SECONDS * 500, intervalMs: 250, what: 'every event in Elasticsearch' },
        );
        const catchUpMs = Date.now() - recoveredAt;
        const recovery = await procMemory(pid);
        const recoverySampled = sampler.peakBytes;
        expect(await daemon.stop('SIGTERM')).toBe(0);

        // Exactly one document per written event, and nothing else: each event's _id is derived from its
        // auditID and stage, and a sample of documents is checked to hold the event its _id names.
        const documents = fake.documents();
        const expectedIds = written.map(({ auditID, stage }) => eventId('outage', { auditID, stage }, ''));
        const storedIds = new Set(documents.map((document) => document.id));
        expect(expectedIds.filter((id) => !storedIds.has(id))).toEqual([]);
        expect(new Set(expectedIds).size).toBe(expectedIds.length);
        expect(documents).toHaveLength(expectedIds.length);
        for (let sample = 0; sample < documents.length; sample += Math.ceil(documents.length / 200)) {
          const document = documents[sample];
          const audit = (document?.source.kubernetes as { audit: { auditID: string; stage: string } }).audit;
          expect(eventId('outage', audit, '')).toBe(document?.id);
        }
        // A batch cut off in flight when the sink went down may be sent again (answered 409): nothing more.
        const resent = fake.itemStatusCounts().get(409) ?? 0;
        expect(resent).toBeLessThanOrEqual(MAX_IN_FLIGHT_BATCHES * BATCH_MAX_EVENTS);
        expect(itemsAnswered(fake)).toBeGreaterThan(itemsBeforeUp);
        const keys = expectedIds;

        const figures = {
          outageSeconds: OUTAGE_SECONDS,
          eventsWritten: keys.length,
          eventsWrittenDuringOutage: writtenDuringOutage - storedAtDown,
          lagBytesAtEndOfOutage: lagAtEnd,
          maxInFlightBatchesDuringOutage: maxInFlightBatches,
          maxInFlightBytesDuringOutage: maxInFlightBytes,
          catchUpMs,
          eventsSentTwice: resent,
          vmHwm: {
            startupAndWarmup: mb(startup.hwmBytes),
            normal: mb(normal.hwmBytes),
            outage: mb(outage.hwmBytes),
            recovery: mb(recovery.hwmBytes),
          },
          sampledPeakRss: {
            normal: mb(normalSampled),
            outage: mb(outageSampled),
            recovery: mb(recoverySampled),
          },
        };
        console.log(`[outage] ${JSON.stringify(figures)}`);

        // Memory: the outage's peak within the bound and within normal running's peak plus a small margin.
        expect(normal.hwmBytes).toBeLessThanOrEqual(RSS_BOUND_BYTES);
        expect(outage.hwmBytes).toBeLessThanOrEqual(RSS_BOUND_BYTES);
        expect(outage.hwmBytes).toBeLessThanOrEqual(normal.hwmBytes + OUTAGE_MARGIN_BYTES);
        expect(recovery.hwmBytes).toBeLessThanOrEqual(RSS_BOUND_BYTES);
      },
      (WARMUP_SECONDS + NORMAL_SECONDS + OUTAGE_SECONDS) * 1000 + 180_000,
    );
  },
);
