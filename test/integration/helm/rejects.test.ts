// What the chart refuses, with both helm versions (their schema validators differ): misspelt or chart-owned
// values, missing required values, and combinations that would start a pod that cannot work. Also checks that
// the Kubernetes validator used by chart.test.ts really catches a misspelt field and a bad enum.
import { afterAll, describe, expect, it } from 'vitest';
import { loadKubeValidator } from './support/kube-schema.ts';
import { type RenderOptions, removeScratch, render, template } from './support/render.ts';
import { ensureTools, type HelmTools, requireTools, skipNote } from './support/tools.ts';

const lookup = ensureTools();
const SKIP = skipNote(lookup);

const tools = (): HelmTools => requireTools(lookup);

const FILE_SINK = ['file-sink-values.yaml'];

/** Helm 3.17 (gojsonschema) and Helm 4 (santhosh-tekuri/jsonschema) word an unknown key differently. */
function unknownKey(path: readonly string[], key: string): RegExp {
  const helm3 = `${path.join('\\.')}: Additional property ${key} is not allowed`;
  const helm4 = `at '/${path.join('/')}': additional properties '${key}' not allowed`;
  return new RegExp(`${helm3}|${helm4}`);
}

function notInEnum(path: readonly string[]): RegExp {
  return new RegExp(
    `${path.join('\\.')}: .*must be one of the following|at '/${path.join('/')}': value must be one of`,
  );
}

interface Rejection {
  readonly name: string;
  readonly options: RenderOptions;
  /** Matched against helm's stderr. Schema messages differ between helm 3 and 4, hence patterns. */
  readonly message: RegExp;
}

const REJECTIONS: readonly Rejection[] = [
  {
    name: 'the defaults (no cluster name)',
    options: {},
    message: /config\.cluster is required/,
  },
  {
    name: 'no sink',
    options: { values: { config: { cluster: 'c' } } },
    message: /config\.sinks: add at least one sink/,
  },
  {
    name: 'a misspelt value (image.tagg)',
    options: { valuesFiles: FILE_SINK, values: { image: { tagg: '1' } } },
    message: unknownKey(['image'], 'tagg'),
  },
  {
    name: 'a config key the chart owns (config.source.path)',
    options: { valuesFiles: FILE_SINK, values: { config: { source: { path: '/x/audit.log' } } } },
    message: unknownKey(['config', 'source'], 'path'),
  },
  {
    name: 'a config key the chart owns (config.status)',
    options: { valuesFiles: FILE_SINK, values: { config: { status: { listen: '127.0.0.1:1' } } } },
    message: unknownKey(['config'], 'status'),
  },
  {
    name: 'a misspelt config key (config.batch.maxEvent)',
    options: { valuesFiles: FILE_SINK, values: { config: { batch: { maxEvent: 5 } } } },
    message: unknownKey(['config', 'batch'], 'maxEvent'),
  },
  {
    name: 'a misspelt file sink key',
    options: {
      values: {
        config: {
          cluster: 'c',
          sinks: [{ name: 'f', type: 'file', path: '/var/lib/k8s-audit-forwarder/x', pathh: 1 }],
        },
      },
    },
    message: unknownKey(['config', 'sinks', '0'], 'pathh'),
  },
  {
    name: 'an unknown sink type',
    options: { values: { config: { cluster: 'c', sinks: [{ name: 'k', type: 'kafka' }] } } },
    message: notInEnum(['config', 'sinks', '0', 'type']),
  },
  {
    name: 'a wrong enum (audit.hostPathType: File)',
    options: { valuesFiles: FILE_SINK, values: { audit: { hostPathType: 'File' } } },
    message: notInEnum(['audit', 'hostPathType']),
  },
  {
    name: 'a relative audit directory',
    options: { valuesFiles: FILE_SINK, values: { audit: { hostDir: 'var/log' } } },
    message: /audit\.hostDir: Does not match pattern|at '\/audit\/hostDir': '.*' does not match pattern/,
  },
  {
    name: 'a ServiceMonitor without the CRD',
    options: { valuesFiles: FILE_SINK, values: { serviceMonitor: { enabled: true } } },
    message: /no monitoring\.coreos\.com\/v1 ServiceMonitor CRD/,
  },
  {
    name: 'a ServiceMonitor without the Service',
    options: {
      valuesFiles: FILE_SINK,
      values: { serviceMonitor: { enabled: true }, service: { enabled: false } },
      apiVersions: ['monitoring.coreos.com/v1/ServiceMonitor'],
    },
    message: /serviceMonitor\.enabled needs service\.enabled/,
  },
  {
    name: 'Kubernetes older than 1.25',
    options: { valuesFiles: FILE_SINK, kubeVersion: '1.24.0' },
    message: /kubeVersion/,
  },
  {
    name: 'a ${VAR} that nothing sets',
    options: { values: { config: { cluster: '${CLUSTER}', sinks: [{ name: 'o', type: 'stdout' }] } } },
    message: /config refers to \$\{CLUSTER\}, which is not set in the container/,
  },
  {
    name: 'credentials.env without a Secret',
    options: { valuesFiles: FILE_SINK, values: { credentials: { env: { TOKEN: 'token' } } } },
    message: /credentials\.env and credentials\.mount need a Secret/,
  },
  {
    name: 'both an existing and a created Secret',
    options: { valuesFiles: FILE_SINK, values: { credentials: { existingSecret: 's', create: true } } },
    message: /either existingSecret or create/,
  },
  {
    name: 'a created Secret without the key credentials.env names',
    options: {
      valuesFiles: FILE_SINK,
      values: { credentials: { create: true, values: { other: 'x' }, env: { TOKEN: 'token' } } },
    },
    message: /credentials\.env\.TOKEN refers to key "token", which is not in credentials\.values/,
  },
  {
    name: 'a grace period shorter than the shutdown timeout plus 5 s',
    options: {
      valuesFiles: FILE_SINK,
      values: { terminationGracePeriodSeconds: 20, config: { delivery: { shutdownTimeoutMs: 16_000 } } },
    },
    message: /terminationGracePeriodSeconds \(20\) must be at least 21/,
  },
  {
    name: 'a file sink on the read-only root filesystem',
    options: {
      values: { config: { cluster: 'c', sinks: [{ name: 'f', type: 'file', path: '/data/events.jsonl' }] } },
    },
    message: /config\.sinks\[0\]\.path "\/data\/events\.jsonl" is not writable in the pod/,
  },
];

afterAll(() => {
  removeScratch();
});

describe.skipIf(SKIP !== '')(`the chart refuses${SKIP}`, () => {
  describe.each(REJECTIONS)('$name', ({ options, message }) => {
    it.each([
      ['helm 3.17', 'helm3'],
      ['helm 4.1', 'helm4'],
    ] as const)('with %s', (_label, version) => {
      const run = template(tools()[version], options);
      expect(run.code).not.toBe(0);
      expect(run.stderr).toMatch(message);
    });
  });

  it('renders a misspelt Kubernetes field passed through values, and the validator catches it', async () => {
    const validator = await loadKubeValidator(tools().modules);
    const objects = render(tools().helm3, {
      valuesFiles: FILE_SINK,
      values: {
        securityContext: { readOnlyRootFileSystem: true },
        extraVolumes: [{ name: 'x', hostPath: { path: '/x', type: 'DirOrCreate' } }],
      },
    });
    const problems = (await Promise.all(objects.map((object) => validator.problems(object))))
      .flat()
      .join('\n');
    expect(problems).toContain('readOnlyRootFileSystem: unknown field');
    expect(problems).toMatch(/hostPath\/type must be equal to one of the allowed values/);
  });
});
