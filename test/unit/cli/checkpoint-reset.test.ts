import { describe, expect, it } from 'vitest';
import type { CheckpointDocument, FileOnDisk } from '../../../src/cli/checkpoint-file.ts';
import { parseResetTarget, planReset, type ResetPlan } from '../../../src/cli/checkpoint-reset.ts';
import { entry } from '../status/snapshot-fixtures.ts';

function document(files = [entry()]): CheckpointDocument {
  return { version: 1, writtenAt: '2026-03-01T11:00:00.000Z', files, dataLoss: [] };
}

const active = entry({ offsets: { es: 4000, local: 10_000 } });
const finished = entry({
  key: '2049:99:bbbbbb',
  path: '/var/log/audit/audit-2026-03-01T10-00-00.000.log',
  ino: 99,
  state: 'finished',
  size: 5000,
  offsets: { es: 5000, local: 5000 },
});
function errorOf(plan: ResetPlan): string {
  return plan.ok ? 'no error' : plan.error;
}

const here: FileOnDisk = { isSameFile: true, isCompressed: false, size: 12_000, lineAlignedEnd: 11_900 };

describe('parseResetTarget', () => {
  it('takes beginning, end or a byte offset', () => {
    expect(['beginning', 'end', '0', '1234', '-1', '1e3', 'middle'].map(parseResetTarget)).toEqual([
      'beginning',
      'end',
      0,
      1234,
      undefined,
      undefined,
      undefined,
    ]);
  });
});

describe('planReset', () => {
  it('moves every sink of a file named by path to the beginning', () => {
    const plan = planReset(
      document([active]),
      { file: active.path, all: false, to: 'beginning', sinks: [] },
      new Map(),
    );

    expect(plan).toMatchObject({
      ok: true,
      changes: [
        { key: active.key, sink: 'es', from: 4000, to: 0 },
        { key: active.key, sink: 'local', from: 10_000, to: 0 },
      ],
    });
    if (plan.ok) expect(plan.document.files[0]?.offsets).toEqual({ es: 0, local: 0 });
  });

  it('moves only the named sink, to the end of the last complete line of the file as it is now', () => {
    const plan = planReset(
      document([active]),
      { file: active.key, all: false, to: 'end', sinks: ['es'] },
      new Map([[active.key, here]]),
    );

    expect(plan).toMatchObject({ ok: true, changes: [{ sink: 'es', from: 4000, to: 11_900 }] });
    if (plan.ok)
      expect(plan.document.files[0]).toMatchObject({ size: 12_000, offsets: { es: 11_900, local: 10_000 } });
  });

  it('reopens a finished file that is rewound so the daemon reads it again', () => {
    const plan = planReset(
      document([active, finished]),
      { all: true, to: 'beginning', sinks: ['es'] },
      new Map(),
    );

    expect(plan.ok && plan.document.files.map((file) => [file.state, file.offsets])).toEqual([
      ['active', { es: 0, local: 10_000 }],
      ['rotated', { es: 0, local: 5000 }],
    ]);
  });

  it('refuses an offset inside a line and names the next line start', () => {
    const plan = planReset(
      document([active]),
      { file: active.key, all: false, to: 5000, sinks: [] },
      new Map([[active.key, { ...here, boundary: { isLineStart: false, nextLineStart: 5120 } }]]),
    );

    expect(plan).toEqual({
      ok: false,
      error: `${active.path}: offset 5000 is inside a line (its tail would be dead-lettered as invalid JSON); the next line starts at 5120: use --to 5120`,
    });
  });

  it('refuses an offset beyond the file, an unknown sink, an unknown file and --all with an offset', () => {
    const facts = new Map([[active.key, here]]);
    const doc = document([active]);

    expect(errorOf(planReset(doc, { file: active.key, all: false, to: 20_000, sinks: [] }, facts))).toContain(
      "offset 20000 is beyond the file's size of 12000 bytes",
    );
    expect(
      errorOf(planReset(doc, { file: active.key, all: false, to: 0, sinks: ['splunk'] }, facts)),
    ).toContain('has no offset for sink splunk; it records: es, local');
    expect(errorOf(planReset(doc, { file: '/nope.log', all: false, to: 0, sinks: [] }, facts))).toContain(
      'no checkpoint entry has the key or path "/nope.log"; known:',
    );
    expect(planReset(doc, { all: true, to: 10, sinks: [] }, facts)).toMatchObject({ ok: false });
  });

  it('asks for the key when two entries were recorded at the same path', () => {
    const replaced = entry({ key: '2049:101:dddddd', ino: 101, state: 'rotated' });

    const plan = planReset(
      document([active, replaced]),
      { file: active.path, all: false, to: 0, sinks: [] },
      new Map(),
    );

    expect(errorOf(plan)).toContain('name one by its key');
  });

  it('accepts an offset it cannot check against a missing file, and says so', () => {
    const plan = planReset(
      document([active]),
      { file: active.key, all: false, to: 2000, sinks: [] },
      new Map(),
    );

    expect(plan.ok && plan.notes.join()).toContain('not checked against the file');
  });
});
