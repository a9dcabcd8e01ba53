// Crash torture with the Elasticsearch sink (issue 4): the real forwarder in a child process shipping to
// the protocol-faithful fake, SIGKILLed at random moments while the simulated API server writes and
// rotates, restarted each time. At the end the fake holds exactly one document per auditID+stage
// (deterministic _id + create + 409). Per run: the checkpoint never claims an event the fake did not
// store, and nothing the checkpoint acknowledged is sent again (re-sends are only events after it).
//
// KAF_TORTURE_ES_TRIALS (else KAF_TORTURE_TRIALS) sets the number of trials (default 8);
// KAF_TORTURE_SEED=S reproduces one.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { type DaemonHandle, fetchJson, startDaemon, writeConfig } from '../../helpers/daemon.ts';
import { FakeElasticsearch } from '../../fakes/es-bulk-server.ts';
import {
  acknowledgedIndexes,
  bulkSentKeys,
  type CheckpointDoc,
  delayFor,
  describeParams,
  headsOnDisk,
  readCheckpoint,
  readDirContents,
  storedKeyCounts,
  TortureRig,
  tortureParams,
  trialSeeds,
} from '../../helpers/torture.ts';
import { waitFor } from '../../helpers/wait.ts';
import type { StatusSnapshot } from '../../../src/status/snapshot.ts';

const SINK = 'es';
if (process.env.KAF_TORTURE_ES_TRIALS !== undefined) {
  process.env.KAF_TORTURE_TRIALS = process.env.KAF_TORTURE_ES_TRIALS;
}
const seeds = trialSeeds(8);

let live: { rig: TortureRig; fake: FakeElasticsearch; daemons: DaemonHandle[] } | undefined;

afterEach(async () => {
  if (!live) return;
  await Promise.all(live.daemons.map((daemon) => daemon.stop('SIGKILL')));
  await live.rig.stopWriting().catch(() => undefined);
  await live.fake.close();
  live = undefined;
});

interface Run {
  /** The checkpoint this run started from. */
  readonly checkpoint: CheckpointDoc | undefined;
  /** Keys the fake held when this run started. */
  readonly storedBefore: ReadonlySet<string>;
  /** Range of fake.requests this run made. */
  readonly requestsFrom: number;
  requestsTo: number;
}

async function status(daemon: DaemonHandle): Promise<StatusSnapshot> {
  return fetchJson<StatusSnapshot>(`${daemon.statusUrl}/status`);
}

function everyFileAcknowledged(snapshot: StatusSnapshot): boolean {
  return (
    snapshot.files.length > 0 &&
    snapshot.files.every((file) => file.state !== 'lost' && file.acknowledgedOffset === file.size) &&
    !snapshot.checkpoint.pendingChanges
  );
}

async function runTrial(seed: number): Promise<void> {
  // A little gentler than the file-sink torture: the fake indexes in the test process, on the same 2 cores.
  const params = tortureParams(seed, { kills: [2, 3], ratePerSec: [2000, 3500] });
  const reproduce = `(seed ${seed}; reproduce: KAF_TORTURE_SEED=${seed} npm exec -- vitest run test/integration/torture/crash-elasticsearch.test.ts)`;
  console.log(`[es-crash-torture] ${describeParams(params)}`);
  const startedAt = Date.now();
  const rig = await TortureRig.create(params, 'kaf-es-torture-');
  const fake = await FakeElasticsearch.start();
  const daemons: DaemonHandle[] = [];
  live = { rig, fake, daemons };
  const configPath = await writeConfig(
    rig.dir,
    rig.config([{ name: SINK, type: 'elasticsearch', url: fake.url, requestTimeoutMs: 20_000 }]),
  );
  const storedKeys = (): Set<string> => new Set(storedKeyCounts(fake.documents()).keys());
  const runs: Run[] = [];
  const start = async (): Promise<DaemonHandle> => {
    const daemon = await startDaemon(configPath);
    daemons.push(daemon);
    return daemon;
  };
  let keep = true;
  try {
    rig.startWriting();
    await delayFor(params.preWriteMs);
    let checkpoint: CheckpointDoc | undefined;
    for (const [kill, killAfterMs] of params.killAfterMs.entries()) {
      const run: Run = {
        checkpoint,
        storedBefore: storedKeys(),
        requestsFrom: fake.requests.length,
        requestsTo: 0,
      };
      runs.push(run);
      const daemon = await start();
      await delayFor(killAfterMs);
      expect(await daemon.stop('SIGKILL'), `run ${kill} ended by itself ${reproduce}`).toBe('SIGKILL');
      run.requestsTo = fake.requests.length;
      checkpoint = await readCheckpoint(rig.stateDir);
      await delayFor(params.downMs[kill] ?? 0);
    }
    await rig.stopWriting();
    const written = rig.writer.linesWritten;

    const finalRun: Run = {
      checkpoint,
      storedBefore: storedKeys(),
      requestsFrom: fake.requests.length,
      requestsTo: 0,
    };
    runs.push(finalRun);
    const daemon = await start();
    await waitFor(
      async () => fake.documents().length >= written && everyFileAcknowledged(await status(daemon)),
      {
        timeoutMs: 90_000,
        intervalMs: 200,
        what: `every written event stored and acknowledged ${reproduce}`,
      },
    );
    const finalStatus = await status(daemon);
    expect(finalStatus.dataLoss, `data loss reported ${reproduce}`).toEqual([]);
    expect(await daemon.stop('SIGTERM'), `exit code of the final run ${reproduce}`).toBe(0);
    finalRun.requestsTo = fake.requests.length;
    const finalCheckpoint = await readCheckpoint(rig.stateDir);

    const model = rig.model();
    const heads = headsOnDisk(model, await readDirContents(rig.auditDir));
    const violations: string[] = [];
    const name = (index: number | undefined): string =>
      index === undefined
        ? 'nothing'
        : `#${index} ${model.keys[index] ?? '?'} (file ${model.fileOf[index] ?? '?'} @${model.startOf[index] ?? '?'})`;
    const sendCounts = new Map<number, number>();
    let previousAcked = new Set<number>();
    for (const [r, run] of runs.entries()) {
      const acked = acknowledgedIndexes(run.checkpoint, SINK, model, heads);
      const backwards = [...previousAcked].filter((index) => !acked.has(index));
      if (backwards.length > 0) {
        violations.push(
          `run ${r}: the checkpoint went backwards for ${backwards.length} events, e.g. ${name(backwards[0])}`,
        );
      }
      const notStored = [...acked].filter((index) => !run.storedBefore.has(model.keys[index] ?? ''));
      if (notStored.length > 0) {
        violations.push(
          `run ${r}: the checkpoint acknowledges ${notStored.length} events the fake never stored, e.g. ${name(notStored[0])}`,
        );
      }
      const sent: number[] = [];
      for (const key of bulkSentKeys(fake.requests.slice(run.requestsFrom, run.requestsTo))) {
        const index = model.indexOf.get(key);
        if (index === undefined) violations.push(`run ${r}: sent ${key}, which was never written`);
        else sent.push(index);
      }
      for (const index of sent) sendCounts.set(index, (sendCounts.get(index) ?? 0) + 1);
      const again = sent.filter((index) => acked.has(index));
      if (again.length > 0) {
        violations.push(
          `run ${r}: sent ${again.length} events again that the checkpoint had acknowledged, e.g. ${name(again[0])}`,
        );
      }
      previousAcked = acked;
    }
    // Exactly one document per auditID+stage.
    const counts = storedKeyCounts(fake.documents());
    const missing = model.keys.filter((key) => !counts.has(key));
    if (missing.length > 0) {
      violations.push(
        `${missing.length} events not stored, e.g. ${name(model.indexOf.get(missing[0] ?? ''))}`,
      );
    }
    const doubled = [...counts].filter(([, count]) => count !== 1);
    if (doubled.length > 0) {
      violations.push(`${doubled.length} events stored more than once, e.g. ${JSON.stringify(doubled[0])}`);
    }
    const unknown = [...counts.keys()].filter((key) => !model.indexOf.has(key));
    if (unknown.length > 0)
      violations.push(`${unknown.length} documents of events never written: ${unknown[0] ?? ''}`);
    if (fake.documents().length !== model.keys.length) {
      violations.push(`the fake holds ${fake.documents().length} documents for ${model.keys.length} events`);
    }
    const finalAcked = acknowledgedIndexes(finalCheckpoint, SINK, model, heads).size;
    if (finalAcked !== model.keys.length) {
      violations.push(`the final checkpoint acknowledges ${finalAcked} of ${model.keys.length} events`);
    }
    expect(violations.join('\n'), `${violations.length} violations ${reproduce}`).toBe('');
    keep = false;
    const resent = [...sendCounts.values()].filter((count) => count > 1).length;
    console.log(
      `[es-crash-torture] seed=${seed} ok: ${model.keys.length} events in ${model.files.length} files, ` +
        `${runs.length} runs, ${fake.bulkRequests.length} bulk requests, ${resent} events sent more than once ` +
        `(answered 409), ${Date.now() - startedAt} ms`,
    );
  } finally {
    if (keep) {
      for (const [index, daemon] of daemons.entries()) {
        await writeFile(
          join(rig.dir, `daemon-${index}.log`),
          `${daemon.logs.map((entry) => JSON.stringify(entry)).join('\n')}\n${daemon.stderr()}`,
        );
      }
      console.log(`[es-crash-torture] seed=${seed} FAILED; trial directory kept: ${rig.dir}`);
    } else {
      await rig.cleanup();
    }
  }
}

describe('crash torture with the Elasticsearch sink: exactly one document per event', () => {
  for (const seed of seeds) {
    const variant = tortureParams(seed).variant;
    it(`seed ${seed} (${variant}): one document per auditID+stage; re-sends only after the checkpoint`, async () => {
      await runTrial(seed);
    }, 150_000);
  }
});
