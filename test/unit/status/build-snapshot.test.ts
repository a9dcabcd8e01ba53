import { describe, expect, it } from 'vitest';
import { buildSnapshot } from '../../../src/status/build-snapshot.ts';
import { entry, inputs, lane, NOW, snapshot, tailerFile } from './snapshot-fixtures.ts';

describe('buildSnapshot', () => {
  it('reports a caught-up forwarder as ready with no lag', () => {
    const status = snapshot();

    expect(status).toMatchObject({
      version: '1.2.3',
      startedAt: '2026-03-01T11:00:00.000Z',
      uptimeSeconds: 3600,
      ready: true,
      notReadyReasons: [],
      checkpoint: {
        path: '/var/lib/kaf/checkpoint.json',
        lastPersistedAt: '2026-03-01T11:59:59.500Z',
        ageSeconds: 0.5,
        pendingChanges: false,
        entries: 1,
      },
      dataLoss: [],
      deadLetter: { path: '/var/lib/kaf/dead-letter.jsonl', count: 0, bySink: {} },
    });
    expect(status.readinessChecks).toEqual([
      { name: 'config', ok: true },
      { name: 'checkpoint', ok: true },
      { name: 'sink/es', ok: true },
      { name: 'sink/local', ok: true },
    ]);
    expect(status.sinks.map((sink) => [sink.name, sink.state, sink.lagBytes, sink.lagSeconds])).toEqual([
      ['es', 'ok', 0, 0],
      ['local', 'ok', 0, 0],
    ]);
    expect(status.files[0]).toMatchObject({ lagBytes: 0, lagSeconds: 0, acknowledgedOffset: 10_000 });
  });

  it("joins the tailer files with their checkpoint identity and shows each sink's offsets", () => {
    const status = snapshot({
      files: [
        tailerFile({
          sinks: {
            es: { ackedOffset: 4000, readOffset: 7000, unackedBytes: 6000 },
            local: { ackedOffset: 10_000, readOffset: 10_000, unackedBytes: 0 },
          },
        }),
      ],
    });

    expect(status.files).toEqual([
      {
        key: '2049:100:aaaaaa',
        path: '/var/log/audit/audit.log',
        identity: { dev: 2049, ino: 100, fingerprint: 'f'.repeat(64), fingerprintBytes: 1024 },
        state: 'active',
        compressed: false,
        size: 10_000,
        acknowledgedOffset: 4000,
        lagBytes: 6000,
        lagSeconds: 10,
        modifiedAt: '2026-03-01T11:59:50.000Z',
        sinks: {
          es: { acknowledgedOffset: 4000, readOffset: 7000, lagBytes: 6000 },
          local: { acknowledgedOffset: 10_000, readOffset: 10_000, lagBytes: 0 },
        },
      },
    ]);
  });

  it("sums a sink's lag over files and takes the older of in-flight event age and unfinished file age", () => {
    const rotated = tailerFile({
      key: '2049:99:bbbbbb',
      path: '/var/log/audit/audit-2026-03-01T10-00-00.000.log',
      state: 'rotated',
      size: 5000,
      modifiedAt: '2026-03-01T10:00:00.000Z',
      sinks: {
        es: { ackedOffset: 1000, readOffset: 5000, unackedBytes: 4000 },
        local: { ackedOffset: 5000, readOffset: 5000, unackedBytes: 0 },
      },
    });
    const active = tailerFile({
      sinks: {
        es: { ackedOffset: 0, readOffset: 0, unackedBytes: 10_000 },
        local: { ackedOffset: 10_000, readOffset: 10_000, unackedBytes: 0 },
      },
    });
    const status = snapshot({
      files: [rotated, active],
      sinks: [
        {
          name: 'es',
          type: 'elasticsearch',
          healthy: true,
          lane: lane({ state: 'retrying', oldestUnackedEventTime: '2026-03-01T11:30:00.000000Z' }),
        },
        { name: 'local', type: 'file', healthy: true, lane: lane({ name: 'local', type: 'file' }) },
      ],
    });

    const es = status.sinks[0];
    expect(es?.lagBytes).toBe(4000 + 10_000);
    // The rotated file was last written 2 h ago and es has not acknowledged all of it.
    expect(es?.lagSeconds).toBe(7200);
    expect(status.sinks[1]).toMatchObject({ lagBytes: 0, lagSeconds: 0 });
  });

  it('uses the oldest in-flight event when it is older than any unfinished file', () => {
    const status = snapshot({
      files: [
        tailerFile({
          sinks: {
            es: { ackedOffset: 9000, readOffset: 10_000, unackedBytes: 1000 },
            local: { ackedOffset: 10_000, readOffset: 10_000, unackedBytes: 0 },
          },
        }),
      ],
      sinks: [
        {
          name: 'es',
          type: 'elasticsearch',
          healthy: true,
          lane: lane({ state: 'failing', oldestUnackedEventTime: '2026-03-01T11:55:00.123456Z' }),
        },
      ],
    });

    expect(status.sinks[0]?.lagSeconds).toBe(299.877);
  });

  it('reports a sink whose start-up check fails as failing and the forwarder as not ready', () => {
    const since = new Date('2026-03-01T11:58:00.000Z');
    const status = snapshot({
      sinks: [
        {
          name: 'es',
          type: 'elasticsearch',
          healthy: false,
          healthError: 'KAF_SINK_HEALTHCHECK: 401 Unauthorized',
          healthFailingSince: since,
        },
        { name: 'local', type: 'file', healthy: false },
      ],
    });

    expect(status.ready).toBe(false);
    expect(status.notReadyReasons).toEqual([
      'sink/es: start-up check failed: KAF_SINK_HEALTHCHECK: 401 Unauthorized',
      'sink/local: start-up check pending',
    ]);
    expect(status.sinks[0]).toMatchObject({
      state: 'failing',
      lastError: 'KAF_SINK_HEALTHCHECK: 401 Unauthorized',
      failingSince: '2026-03-01T11:58:00.000Z',
      delivered: 0,
      inFlightBatches: 0,
    });
    expect(status.sinks[1]?.state).toBe('starting');
  });

  it('shows the persisted checkpoint entries and the open error before the tailer runs', () => {
    const status = buildSnapshot(
      inputs({
        checkpoint: {
          path: '/var/lib/kaf/checkpoint.json',
          isOpen: false,
          error: 'KAF_CHECKPOINT_CORRUPT: The checkpoint is corrupt (the file is empty)',
          hasUnsavedChanges: false,
          files: [],
          dataLoss: [],
        },
        files: undefined,
      }),
    );

    expect(status.ready).toBe(false);
    expect(status.notReadyReasons).toEqual([
      'checkpoint: KAF_CHECKPOINT_CORRUPT: The checkpoint is corrupt (the file is empty)',
    ]);
    expect(status.checkpoint).toMatchObject({ entries: 0, ageSeconds: 3600 });
    expect(status.checkpoint.error).toContain('corrupt');
    expect(status.checkpoint.lastPersistedAt).toBeUndefined();
  });

  it('falls back to checkpoint entries for files when the tailer has not started', () => {
    const status = snapshot({
      files: undefined,
      checkpoint: { ...inputs().checkpoint, files: [entry({ offsets: { es: 2500 } })] },
    });

    expect(status.files[0]).toMatchObject({
      acknowledgedOffset: 0,
      lagBytes: 10_000,
      sinks: {
        es: { acknowledgedOffset: 2500, lagBytes: 7500 },
        local: { acknowledgedOffset: 0, lagBytes: 10_000 },
      },
    });
    expect(status.files[0]?.sinks.es?.readOffset).toBeUndefined();
  });

  it('lists data-loss records and shows a lost file by the identity its record kept, without counting it as lag', () => {
    const record = {
      path: '/var/log/audit/audit-2026-01-01T00-00-00.000.log',
      key: '2049:77:cccccc',
      dev: 2049,
      ino: 77,
      unreadBytes: 4096,
      unreadBytesBySink: { es: 4096, local: 0 },
      unreadBytesIsLowerBound: false,
      detectedAt: '2026-03-01T11:59:00.000Z',
      reason: 'deleted-before-read',
    };
    const lost = tailerFile({
      key: '2049:77:cccccc',
      path: record.path,
      state: 'lost',
      size: 4096,
      sinks: {
        es: { ackedOffset: 0, readOffset: 0, unackedBytes: 4096 },
        local: { ackedOffset: 4096, readOffset: 4096, unackedBytes: 0 },
      },
    });
    const status = snapshot({
      files: [lost, tailerFile()],
      checkpoint: { ...inputs().checkpoint, dataLoss: [record] },
    });

    expect(status.dataLoss).toEqual([record]);
    expect(status.files[0]).toMatchObject({ state: 'lost', identity: { dev: 2049, ino: 77 }, lagBytes: 0 });
    expect(status.sinks[0]?.lagBytes).toBe(0);
  });

  it('counts dead-letter records per sink and reason', () => {
    const status = snapshot({
      deadLetter: {
        path: '/var/lib/kaf/dead-letter.jsonl',
        total: 5,
        counts: new Map([
          ['es\u0000rejected-by-sink', 2],
          ['es\u0000invalid-json', 1],
          ['local\u0000invalid-json', 2],
        ]),
      },
    });

    expect(status.deadLetter).toEqual({
      path: '/var/lib/kaf/dead-letter.jsonl',
      count: 5,
      bySink: { es: { 'rejected-by-sink': 2, 'invalid-json': 1 }, local: { 'invalid-json': 2 } },
    });
  });

  it('never reports negative ages when clocks disagree', () => {
    const status = snapshot({
      now: new Date(NOW.getTime() - 5000),
      sinks: [
        {
          name: 'es',
          type: 'elasticsearch',
          healthy: true,
          lane: lane({ oldestUnackedEventTime: '2026-03-01T12:00:00Z' }),
        },
      ],
    });

    expect(status.sinks[0]?.lagSeconds).toBe(0);
    expect(status.checkpoint.ageSeconds).toBe(0);
  });
});
