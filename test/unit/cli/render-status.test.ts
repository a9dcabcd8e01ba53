import { describe, expect, it } from 'vitest';
import { formatBytes, formatDuration } from '../../../src/cli/format.ts';
import { painter, useColor } from '../../../src/cli/io.ts';
import { assessStatus, renderStatus } from '../../../src/cli/render-status.ts';
import { lane, NOW, snapshot, tailerFile } from '../status/snapshot-fixtures.ts';

const plain = { paint: painter(false), nowMs: NOW.getTime() };
const lossRecord = {
  path: '/var/log/audit/audit-2026-01-01T00-00-00.000.log',
  key: '2049:77:cccccc',
  unreadBytes: 3 * 1024 * 1024,
  unreadBytesBySink: { es: 3 * 1024 * 1024, local: 0 },
  detectedAt: '2026-03-01T11:59:00.000Z',
  reason: 'deleted-before-read',
};

describe('assessStatus', () => {
  it('is healthy when every sink is ok, even with retries in progress', () => {
    const status = snapshot({
      sinks: [
        {
          name: 'es',
          type: 'elasticsearch',
          healthy: true,
          lane: lane({ state: 'retrying', lastError: '503' }),
        },
      ],
    });

    expect(assessStatus(status)).toEqual({
      exitCode: 0,
      problems: [],
      warnings: ['sink es is retrying: 503'],
    });
  });

  it('fails when a sink is failing, data was lost or the checkpoint is unusable', () => {
    const status = snapshot({
      sinks: [
        {
          name: 'es',
          type: 'elasticsearch',
          healthy: true,
          lane: lane({ state: 'failing', lastError: 'ECONNREFUSED' }),
        },
      ],
      checkpoint: {
        path: '/x/checkpoint.json',
        isOpen: false,
        error: 'corrupt',
        hasUnsavedChanges: false,
        files: [],
        dataLoss: [lossRecord],
      },
    });

    expect(assessStatus(status)).toEqual({
      exitCode: 1,
      problems: [
        'sink es is failing: ECONNREFUSED',
        'data was lost: 1 file removed before every sink read it (3.0 MiB)',
        'the checkpoint cannot be used: corrupt',
      ],
      warnings: [],
    });
  });
});

describe('assessStatus right after start', () => {
  it('warns that data-loss records are not known while the checkpoint is being opened', () => {
    const status = snapshot({
      checkpoint: { path: '/c', isOpen: false, hasUnsavedChanges: false, files: [], dataLoss: [] },
      files: undefined,
      sinks: [{ name: 'es', type: 'elasticsearch', healthy: false }],
    });

    expect(assessStatus(status)).toEqual({
      exitCode: 0,
      problems: [],
      warnings: [
        'sink es has not passed its start-up check yet',
        'the checkpoint is still being opened (data-loss records not known yet)',
      ],
    });
  });
});

describe('renderStatus', () => {
  it('summarizes a healthy forwarder in a few lines ending in OK', () => {
    const text = renderStatus(snapshot(), plain);

    expect(text).toBe(
      [
        'k8s-audit-forwarder 1.2.3 · cluster prod-eu-1 · node cp-1 · up 1h00m · ready',
        'checkpoint /var/lib/kaf/checkpoint.json · 1 file · written 0.5s ago',
        '',
        'SINK   TYPE           STATE  LAG  IN FLIGHT  DELIVERED  RETRIED  DEAD-LETTERED  LAST SUCCESS',
        'es     elasticsearch  ok     0    0          1,000      0        0              1s ago',
        'local  file           ok     0    0          1,000      0        0              1s ago',
        '',
        'FILE                      STATE   SIZE     NOT YET ACKNOWLEDGED',
        '/var/log/audit/audit.log  active  9.8 KiB  caught up',
        '',
        'OK',
        '',
      ].join('\n'),
    );
  });

  it('shows the lagging files, the failing sink with its error, and data loss', () => {
    const status = snapshot({
      files: [
        tailerFile({
          sinks: {
            es: { ackedOffset: 0, readOffset: 4096, unackedBytes: 10_000 },
            local: { ackedOffset: 10_000, readOffset: 10_000, unackedBytes: 0 },
          },
        }),
      ],
      sinks: [
        {
          name: 'es',
          type: 'elasticsearch',
          healthy: true,
          lane: lane({
            state: 'failing',
            lastError: 'connect ECONNREFUSED 10.0.0.5:9200',
            failingSince: '2026-03-01T11:55:00.000Z',
            inFlightBatches: 2,
            inFlightBytes: 4096,
            retried: 12,
          }),
        },
        { name: 'local', type: 'file', healthy: true, lane: lane({ name: 'local', type: 'file' }) },
      ],
      checkpoint: {
        path: '/var/lib/kaf/checkpoint.json',
        isOpen: true,
        hasUnsavedChanges: true,
        files: [],
        dataLoss: [lossRecord],
      },
    });

    const text = renderStatus(status, plain);

    expect(text).toContain('es     elasticsearch  failing  9.8 KiB / 10s  2 batches, 4.0 KiB  1,000      12');
    expect(text).toContain('  └ failing since 5m00s ago: connect ECONNREFUSED 10.0.0.5:9200');
    expect(text).toContain('/var/log/audit/audit.log  active  9.8 KiB  es 9.8 KiB / 10s');
    expect(text).toContain(
      'DATA LOSS: 1 file removed before every sink read it; 3.0 MiB of audit events never reached every sink',
    );
    expect(text).toContain(
      '  /var/log/audit/audit-2026-01-01T00-00-00.000.log: 3.0 MiB unread (es 3.0 MiB) · deleted-before-read · detected 2026-03-01T11:59:00.000Z',
    );
    expect(text).toContain('changes pending');
    expect(text.trimEnd().split('\n').at(-1)).toBe(
      'PROBLEM: sink es is failing: connect ECONNREFUSED 10.0.0.5:9200; data was lost: 1 file removed before every sink read it (3.0 MiB)',
    );
  });

  it('paints data loss and failures red, and nothing without colour', () => {
    const status = snapshot({
      checkpoint: { path: '/c', isOpen: true, hasUnsavedChanges: false, files: [], dataLoss: [lossRecord] },
    });

    const colored = renderStatus(status, { paint: painter(true), nowMs: NOW.getTime() });
    const uncolored = renderStatus(status, plain);

    expect(colored).toContain('\u001b[31mDATA LOSS: 1 file');
    expect(uncolored).not.toContain('\u001b[');
  });

  it('lists the reasons when not ready and counts dead-letter records', () => {
    const status = snapshot({
      sinks: [
        { name: 'es', type: 'elasticsearch', healthy: false, healthError: 'HTTP 401: security_exception' },
      ],
      deadLetter: {
        path: '/var/lib/kaf/dead-letter.jsonl',
        total: 3,
        counts: new Map([['es\u0000invalid-json', 3]]),
      },
    });

    const text = renderStatus(status, plain);

    expect(text).toContain('· not ready');
    expect(text).toContain('not ready:\n  - sink/es: start-up check failed: HTTP 401: security_exception');
    expect(text).toContain(
      'dead-letter: 3 records since start (es: invalid-json 3) → /var/lib/kaf/dead-letter.jsonl',
    );
  });
});

describe('useColor', () => {
  it('colours a terminal unless NO_COLOR is set or the terminal is dumb', () => {
    expect(useColor({ isTTY: true, write: () => true }, {})).toBe(true);
    expect(useColor({ isTTY: true, write: () => true }, { NO_COLOR: '1' })).toBe(false);
    expect(useColor({ isTTY: true, write: () => true }, { NO_COLOR: '' })).toBe(true);
    expect(useColor({ isTTY: true, write: () => true }, { TERM: 'dumb' })).toBe(false);
    expect(useColor({ isTTY: false, write: () => true }, {})).toBe(false);
    expect(useColor({ isTTY: false, write: () => true }, { FORCE_COLOR: '1' })).toBe(true);
  });
});

describe('format', () => {
  it('prints sizes in IEC units and durations compactly', () => {
    expect([0, 1023, 1536, 10 * 1024 * 1024, 5 * 1024 ** 4].map(formatBytes)).toEqual([
      '0 B',
      '1023 B',
      '1.5 KiB',
      '10 MiB',
      '5.0 TiB',
    ]);
    expect([0.4, 9.96, 42, 75, 7260, 200_000].map(formatDuration)).toEqual([
      '0.4s',
      '10s',
      '42s',
      '1m15s',
      '2h01m',
      '2d07h',
    ]);
  });
});
