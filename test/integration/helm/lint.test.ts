// helm lint --strict (both helm versions, defaults and every ci/ file), yamllint on the hand-written YAML, and
// NOTES.txt as `helm install` prints it (Helm 4's --dry-run=client needs no cluster; Helm 3's does).
import { readdirSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  chartWithDashboard,
  NAMESPACE,
  RELEASE,
  removeScratch,
  runHelm,
  significantStderr,
  valuesArgs,
} from './support/render.ts';
import { CHART_DIR, ensureTools, type HelmTools, requireTools, skipNote } from './support/tools.ts';

const lookup = ensureTools();
const SKIP = skipNote(lookup);
const YAMLLINT_SKIP =
  lookup.tools !== undefined && lookup.tools.yamllint === undefined
    ? ' [skipped: yamllint not installed (.ci/helm-check.sh install needs apt-get as root)]'
    : '';

const tools = (): HelmTools => requireTools(lookup);

const CI_FILES = readdirSync(join(CHART_DIR, 'ci')).filter((name) => name.endsWith('-values.yaml'));

afterAll(() => {
  removeScratch();
});

describe.skipIf(SKIP !== '')(`helm lint --strict${SKIP}`, () => {
  it('has ci files to lint', () => {
    expect(CI_FILES.length).toBeGreaterThanOrEqual(3);
  });

  it.each([
    ['helm 3.17', 'helm3'],
    ['helm 4.1', 'helm4'],
  ] as const)('passes with the defaults and with every ci file, with %s', (_label, version) => {
    // The full example turns the dashboard on: lint the chart that has one (a stub until the real one is added).
    const chartDir = chartWithDashboard().chartDir;
    for (const file of [undefined, ...CI_FILES]) {
      const run = runHelm(tools()[version], [
        'lint',
        chartDir,
        '--strict',
        '--namespace',
        NAMESPACE,
        ...valuesArgs({ valuesFiles: file === undefined ? [] : [file] }),
      ]);
      expect(`${file ?? 'defaults'}: ${run.stdout}${run.stderr}`).toMatch(
        /1 chart\(s\) linted, 0 chart\(s\) failed/,
      );
      expect(run.code).toBe(0);
      expect(run.stdout).not.toMatch(/\[(WARNING|ERROR)\]/);
    }
  });
});

describe.skipIf(SKIP !== '' || YAMLLINT_SKIP !== '')(`yamllint${SKIP || YAMLLINT_SKIP}`, () => {
  it('finds nothing in Chart.yaml, values.yaml and the ci files', () => {
    const config = '{extends: default, rules: {line-length: {max: 120}, document-start: disable}}';
    const run = spawnSync(
      tools().yamllint ?? 'yamllint',
      ['--strict', '-d', config, 'Chart.yaml', 'values.yaml', ...CI_FILES.map((file) => join('ci', file))],
      { cwd: CHART_DIR, encoding: 'utf8' },
    );
    expect(`${run.stdout}${run.stderr}`).toBe('');
    expect(run.status).toBe(0);
  });
});

describe.skipIf(SKIP !== '')(`NOTES.txt (helm 4 install --dry-run=client)${SKIP}`, () => {
  function notes(valuesFiles: readonly string[], values?: Record<string, unknown>): string {
    const run = runHelm(tools().helm4, [
      'install',
      RELEASE,
      chartWithDashboard().chartDir,
      '--namespace',
      NAMESPACE,
      '--dry-run=client',
      ...valuesArgs({ valuesFiles, ...(values && { values }) }),
    ]);
    expect(significantStderr(run.stderr)).toBe('');
    expect(run.code).toBe(0);
    return run.stdout.slice(run.stdout.indexOf('NOTES:'));
  }

  it('tells how to check the pods and their status, and what the cluster must provide', () => {
    const text = notes(['file-sink-values.yaml']);
    expect(text).toContain(`kubectl -n ${NAMESPACE} get daemonset ${RELEASE}-k8s-audit-forwarder`);
    expect(text).toContain('port-forward "$POD" 9880:9880');
    expect(text).toContain('curl -s http://127.0.0.1:9880/status');
    expect(text).toContain('curl -s http://127.0.0.1:9880/readyz');
    expect(text).toContain(`helm test ${RELEASE} -n ${NAMESPACE}`);
    expect(text).toContain('--audit-log-path=/var/log/kubernetes/audit/audit.log');
    expect(text).toContain('pod-security.kubernetes.io/enforce=privileged');
    expect(text).toContain('Managed control planes');
    expect(text).toContain('sinks:       local (file)');
    expect(text).not.toContain('WARNING');
  });

  it('warns about the host network, no priority class and a memory limit below the estimate', () => {
    const text = notes(['full-values.yaml'], {
      serviceMonitor: { enabled: false },
      resources: { limits: { memory: '128Mi' } },
    });
    expect(text).toContain('WARNING: hostNetwork=true');
    expect(text).toContain('WARNING: priorityClassName is empty');
    expect(text).toContain(
      'WARNING: resources.limits.memory (128 Mi) is below the estimated peak for this config (240 Mi',
    );
  });

  it('warns when the pods may land on every node', () => {
    expect(notes(['file-sink-values.yaml'], { controlPlaneOnly: false })).toContain(
      'WARNING: controlPlaneOnly=false',
    );
  });
});
