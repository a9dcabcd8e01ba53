// Permanent per-item rejections through the real daemon (issue 4): the refused events go to the
// dead-letter file with Elasticsearch's reason and are counted; the rest are stored once, and the
// checkpoint passes both.
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { fetchJson, startDaemon, writeConfig } from '../../helpers/daemon.ts';
import { eventKey, storedKeyCounts } from '../../helpers/torture.ts';
import { waitFor } from '../../helpers/wait.ts';
import { FakeElasticsearch } from '../../fakes/es-bulk-server.ts';
import { AuditEventGenerator } from '../../../src/simulator/generator.ts';
import type { StatusSnapshot } from '../../../src/status/snapshot.ts';

let cleanup: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const step of cleanup.reverse()) await step().catch(() => undefined);
  cleanup = [];
});

describe('per-item rejections', () => {
  it('dead-letters the events Elasticsearch refuses for good, stores the rest once and checkpoints past both', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'kaf-rejections-'));
    cleanup.push(() => rm(dir, { recursive: true, force: true }));
    const fake = await FakeElasticsearch.start();
    cleanup.push(() => fake.close());
    const generator = new AuditEventGenerator({ seed: 77 });
    const events = Array.from({ length: 400 }, () => generator.nextEvent());
    const refused = new Set(
      events.filter((_event, index) => index % 97 === 5).map((e) => eventKey(e.auditID, e.stage)),
    );
    fake.failItems('document_parsing_exception', {
      times: refused.size,
      where: (item) => {
        const audit = (item.source as { kubernetes?: { audit?: { auditID?: string; stage?: string } } })
          .kubernetes?.audit;
        return refused.has(eventKey(audit?.auditID, audit?.stage));
      },
    });
    await mkdir(join(dir, 'audit'));
    const log = join(dir, 'audit', 'audit.log');
    const text = `${events.map((event) => event.line).join('\n')}\n`;
    await writeFile(log, text);
    const stateDir = join(dir, 'state');
    const daemon = await startDaemon(
      await writeConfig(dir, {
        cluster: 'rejections',
        node: 'cp-1',
        source: { path: log },
        state: { dir: stateDir },
        checkpoint: { intervalMs: 100 },
        batch: { maxEvents: 100, maxWaitMs: 50 },
        sinks: [{ name: 'es', type: 'elasticsearch', url: fake.url }],
      }),
    );
    cleanup.push(() => daemon.stop('SIGKILL'));
    let status: StatusSnapshot | undefined;
    await waitFor(
      async () => {
        status = await fetchJson<StatusSnapshot>(`${daemon.statusUrl}/status`);
        const file = status.files[0];
        return file !== undefined && file.acknowledgedOffset === Buffer.byteLength(text);
      },
      { timeoutMs: 20_000, what: 'the whole file acknowledged' },
    );
    expect(status?.sinks[0]).toMatchObject({
      delivered: events.length - refused.size,
      deadLettered: refused.size,
    });
    expect(await daemon.stop('SIGTERM')).toBe(0);

    const counts = storedKeyCounts(fake.documents());
    const keys = events.map((event) => eventKey(event.auditID, event.stage));
    expect(keys.filter((key) => !refused.has(key) && counts.get(key) !== 1)).toEqual([]);
    expect(keys.filter((key) => refused.has(key) && counts.has(key))).toEqual([]);
    const deadLetters = (await readFile(join(stateDir, 'dead-letter.jsonl'), 'utf8'))
      .trim()
      .split('\n')
      .map(
        (line) =>
          JSON.parse(line) as {
            sink: string;
            reason: string;
            detail: string;
            event: { auditID: string; stage: string };
          },
      );
    expect(new Set(deadLetters.map((record) => eventKey(record.event.auditID, record.event.stage)))).toEqual(
      refused,
    );
    for (const record of deadLetters) {
      expect(record).toMatchObject({ sink: 'es', reason: 'rejected-by-sink' });
      expect(record.detail).toContain('document_parsing_exception');
    }
  });
});
