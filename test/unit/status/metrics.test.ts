import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ForwarderMetrics } from '../../../src/status/metrics.ts';
import { lane, snapshot, tailerFile } from './snapshot-fixtures.ts';

const DASHBOARD = new URL('../../../helm/dashboards/k8s-audit-forwarder.json', import.meta.url);

function sample(text: string, name: string, labels = ''): number | undefined {
  const line = text
    .split('\n')
    .find((candidate) => candidate.startsWith(`${name}${labels === '' ? ' ' : `{${labels}} `}`));
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(' ') + 1));
}

describe('ForwarderMetrics', () => {
  it('sets lag, sink state, checkpoint and readiness gauges from a snapshot', async () => {
    const metrics = new ForwarderMetrics({ collectProcessMetrics: false });
    const status = snapshot({
      files: [
        tailerFile({
          sinks: {
            es: { ackedOffset: 2000, readOffset: 9000, unackedBytes: 8000 },
            local: { ackedOffset: 10_000, readOffset: 10_000, unackedBytes: 0 },
          },
        }),
      ],
      sinks: [
        {
          name: 'es',
          type: 'elasticsearch',
          healthy: true,
          lane: lane({ state: 'retrying', oldestUnackedEventTime: '2026-03-01T11:59:00Z' }),
        },
        { name: 'local', type: 'file', healthy: true, lane: lane({ name: 'local', type: 'file' }) },
      ],
    });

    metrics.observeSnapshot(status);
    const text = await metrics.registry.metrics();

    expect(sample(text, 'audit_forwarder_lag_bytes', 'sink="es"')).toBe(8000);
    expect(sample(text, 'audit_forwarder_lag_seconds', 'sink="es"')).toBe(60);
    expect(sample(text, 'audit_forwarder_lag_bytes', 'sink="local"')).toBe(0);
    expect(sample(text, 'audit_forwarder_sink_state', 'sink="es",state="retrying"')).toBe(1);
    expect(sample(text, 'audit_forwarder_sink_state', 'sink="es",state="ok"')).toBe(0);
    expect(sample(text, 'audit_forwarder_checkpoint_age_seconds')).toBe(0.5);
    expect(sample(text, 'audit_forwarder_checkpoint_pending')).toBe(0);
    expect(sample(text, 'audit_forwarder_files', 'state="active"')).toBe(1);
    expect(sample(text, 'audit_forwarder_ready')).toBe(1);
    expect(sample(text, 'audit_forwarder_data_loss_records')).toBe(0);
    expect(sample(text, 'audit_forwarder_build_info', 'version="1.2.3"')).toBe(1);
  });

  it('drops the state series of a sink that changed state', async () => {
    const metrics = new ForwarderMetrics({ collectProcessMetrics: false });
    metrics.observeSnapshot(snapshot({ sinks: [{ name: 'es', type: 'elasticsearch', healthy: false }] }));
    metrics.observeSnapshot(
      snapshot({ sinks: [{ name: 'es', type: 'elasticsearch', healthy: true, lane: lane() }] }),
    );

    const text = await metrics.registry.metrics();

    expect(sample(text, 'audit_forwarder_sink_state', 'sink="es",state="starting"')).toBe(0);
    expect(sample(text, 'audit_forwarder_sink_state', 'sink="es",state="ok"')).toBe(1);
  });

  it('follows Prometheus naming: prefix, _total on counters only, units, low-cardinality labels', async () => {
    const metrics = new ForwarderMetrics({ collectProcessMetrics: true });
    const families = await metrics.registry.getMetricsAsJSON();

    for (const family of families) expect(family.name).toMatch(/^audit_forwarder_[a-z0-9_]+$/);
    // prom-client's process metrics keep their own names (nodejs_active_resources_total is a gauge).
    const own = families.filter((family) => !/^audit_forwarder_(process|nodejs)_/.test(family.name));
    for (const family of own) {
      if (String(family.type) === 'counter') expect(family.name).toMatch(/_total$/);
      else expect(family.name).not.toMatch(/_total$/);
    }
    const labels = new Set(
      own.flatMap((family) => family.values.flatMap((value) => Object.keys(value.labels))),
    );
    for (const label of labels) expect(['sink', 'reason', 'state', 'version', 'le']).toContain(label);
    const names = own.map((family) => family.name);
    expect(names).toEqual(
      expect.arrayContaining([
        'audit_forwarder_events_read_total',
        'audit_forwarder_read_bytes_total',
        'audit_forwarder_events_sent_total',
        'audit_forwarder_events_dead_lettered_total',
        'audit_forwarder_send_retries_total',
        'audit_forwarder_batch_duration_seconds',
        'audit_forwarder_in_flight_batches',
        'audit_forwarder_lag_bytes',
        'audit_forwarder_lag_seconds',
        'audit_forwarder_checkpoint_age_seconds',
        'audit_forwarder_data_loss_bytes_total',
      ]),
    );
    expect(families.some((family) => family.name === 'audit_forwarder_process_resident_memory_bytes')).toBe(
      true,
    );
  });

  it("exports prom-client's process metrics but its GC histogram (which allocates on every collection)", async () => {
    const metrics = new ForwarderMetrics({ collectProcessMetrics: true });
    const names = (await metrics.registry.getMetricsAsJSON()).map((family) => family.name);

    expect(names).toEqual(
      expect.arrayContaining([
        'audit_forwarder_process_cpu_seconds_total',
        'audit_forwarder_process_start_time_seconds',
        'audit_forwarder_process_resident_memory_bytes',
        'audit_forwarder_process_open_fds',
        'audit_forwarder_process_max_fds',
        'audit_forwarder_nodejs_eventloop_lag_p99_seconds',
        'audit_forwarder_nodejs_active_resources_total',
        'audit_forwarder_nodejs_active_handles_total',
        'audit_forwarder_nodejs_active_requests_total',
        'audit_forwarder_nodejs_heap_size_used_bytes',
        'audit_forwarder_nodejs_heap_space_size_used_bytes',
        'audit_forwarder_nodejs_version_info',
      ]),
    );
    expect(names.filter((name) => name.includes('_gc_'))).toEqual([]);
  });

  it('is what the Grafana dashboard queries: every metric it names exists', async () => {
    const metrics = new ForwarderMetrics({ collectProcessMetrics: true });
    const families = new Set((await metrics.registry.getMetricsAsJSON()).map((family) => family.name));
    const dashboard = JSON.parse(readFileSync(DASHBOARD, 'utf8')) as {
      panels: { targets?: { expr: string }[] }[];
    };
    const used = new Set(
      dashboard.panels
        .flatMap((panel) => panel.targets ?? [])
        .flatMap((target) => target.expr.match(/audit_forwarder_[a-z0-9_]+/g) ?? []),
    );

    expect(used.size).toBeGreaterThan(10);
    for (const name of used) {
      const family = name.replace(/_(bucket|sum|count)$/, '');
      expect(families.has(name) || families.has(family), `${name} is not exported`).toBe(true);
    }
  });
});
