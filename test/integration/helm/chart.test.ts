// The chart rendered by real helm binaries (3.17 and 4.1) for every values combination that matters: the output
// is the same for both, every object is a valid Kubernetes object, and the DaemonSet keeps what a reader of the
// API server's audit log on control-plane nodes needs (shared/reference/helm.md §2–§4).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { type ChartCase, chartCases } from './support/cases.ts';
import { loadKubeValidator, type KubeValidator } from './support/kube-schema.ts';
import { shippedCommand } from '../../helpers/shipped-node.ts';
import {
  configText,
  daemonSetSpec,
  envReferences,
  forwarder,
  mount,
  podSpec,
  renderedConfig,
  volume,
} from './support/manifests.ts';
import {
  CHART_DASHBOARD,
  chartWithDashboard,
  findObject,
  hasObject,
  isSymlink,
  type K8sObject,
  NAMESPACE,
  RELEASE,
  type RenderOptions,
  removeScratch,
  render,
  runHelm,
  SERVICE_MONITOR_API,
  SOURCE_DASHBOARD,
  significantStderr,
  template,
} from './support/render.ts';
import {
  CHART_DIR,
  ensureTools,
  type HelmTools,
  requireTools,
  skipNote,
  REPO_ROOT,
} from './support/tools.ts';

const lookup = ensureTools();
const SKIP = skipNote(lookup);
const FULLNAME = `${RELEASE}-k8s-audit-forwarder`;
/** The forwarder's default when the config leaves delivery.shutdownTimeoutMs out (src/config/schema.ts). */
const DEFAULT_SHUTDOWN_TIMEOUT_MS = 10_000;

const tools = (): HelmTools => requireTools(lookup);

const rendered = new Map<string, K8sObject[]>();
function renderCached(options: RenderOptions): K8sObject[] {
  const key = JSON.stringify(options);
  let objects = rendered.get(key);
  if (objects === undefined) {
    objects = render(tools().helm3, options);
    rendered.set(key, objects);
  }
  return objects;
}

const FILE_SINK: RenderOptions = { valuesFiles: ['file-sink-values.yaml'] };

afterAll(() => {
  removeScratch();
});

describe.skipIf(SKIP !== '')(`the chart, for every values combination${SKIP}`, () => {
  let validator: KubeValidator;
  beforeAll(async () => {
    validator = await loadKubeValidator(tools().modules);
  });

  describe.each(lookup.tools ? chartCases() : [])('$name', ({ options }: ChartCase) => {
    it('renders the same manifests with helm 3.17 and helm 4.1', () => {
      const helm3 = template(tools().helm3, options);
      const helm4 = template(tools().helm4, options);
      expect(significantStderr(helm3.stderr)).toBe('');
      expect(significantStderr(helm4.stderr)).toBe('');
      expect(helm3.code).toBe(0);
      expect(helm4.code).toBe(0);
      expect(helm4.stdout).toBe(helm3.stdout);
    });

    it('renders only valid Kubernetes objects, with no unknown field', async () => {
      const objects = renderCached(options);
      const problems = await Promise.all(
        objects.map(async (object) =>
          (await validator.problems(object)).map(
            (problem) => `${object.kind}/${object.metadata.name}: ${problem}`,
          ),
        ),
      );
      expect(problems.flat()).toEqual([]);
      for (const object of objects) {
        expect(object.metadata.namespace ?? NAMESPACE).toBe(NAMESPACE);
      }
    });

    it('mounts the audit log directory read-only and reads the file inside it', () => {
      const objects = renderCached(options);
      const config = renderedConfig(objects);
      const auditMount = mount(objects, 'audit-log');
      const auditVolume = volume(objects, 'audit-log');
      expect(auditMount.readOnly).toBe(true);
      expect(dirname(config.source.path)).toBe(auditMount.mountPath);
      expect(['Directory', 'DirectoryOrCreate']).toContain(auditVolume.hostPath?.type);
      expect(auditVolume.hostPath?.path).not.toMatch(/\.log$/);
    });

    it('keeps the checkpoint in a per-release host directory, mounted read-write at state.dir', () => {
      const objects = renderCached(options);
      const stateVolume = volume(objects, 'state');
      expect(stateVolume.hostPath?.type).toBe('DirectoryOrCreate');
      expect(stateVolume.hostPath?.path).toMatch(new RegExp(`^/[^]*[^/]/${NAMESPACE}-${FULLNAME}$`));
      const stateMount = mount(objects, 'state');
      expect(stateMount.readOnly ?? false).toBe(false);
      expect(stateMount.mountPath).toBe(renderedConfig(objects).state.dir);
    });

    it('runs as uid 0 with every capability dropped, a read-only root and no service account token', () => {
      const objects = renderCached(options);
      const pod = podSpec(objects);
      const security = forwarder(objects).securityContext;
      expect(security).toMatchObject({
        runAsUser: 0,
        runAsNonRoot: false,
        privileged: false,
        allowPrivilegeEscalation: false,
        readOnlyRootFilesystem: true,
      });
      expect(security?.capabilities?.drop).toEqual(['ALL']);
      expect(security?.capabilities?.add).toBeUndefined();
      expect(pod.securityContext?.seccompProfile?.type).toBe('RuntimeDefault');
      expect(pod.automountServiceAccountToken).toBe(false);
      expect(pod.hostUsers).toBeUndefined();
      expect(mount(objects, 'tmp').mountPath).toBe('/tmp');
      expect(volume(objects, 'tmp').emptyDir?.medium).toBe('Memory');
      const serviceAccount = objects.find((object) => object.kind === 'ServiceAccount');
      if (serviceAccount) expect(serviceAccount.automountServiceAccountToken).toBe(false);
      expect(objects.filter((object) => /Role/.test(object.kind))).toEqual([]);
    });

    it('names the node from the downward API and serves status on 0.0.0.0 with the probes on it', () => {
      const objects = renderCached(options);
      const config = renderedConfig(objects);
      const container = forwarder(objects);
      expect(config.node).toBe('${NODE_NAME}');
      expect(
        container.env?.find((variable) => variable.name === 'NODE_NAME')?.valueFrom?.fieldRef?.fieldPath,
      ).toBe('spec.nodeName');
      const port = container.ports?.find((candidate) => candidate.name === 'status')?.containerPort;
      expect(config.status.listen).toBe(`0.0.0.0:${port}`);
      expect(container.livenessProbe?.httpGet).toEqual({ path: '/healthz', port: 'status' });
      expect(container.readinessProbe?.httpGet).toEqual({ path: '/readyz', port: 'status' });
      // The image's CMD, node flags included: the chart replaces CMD, so it must repeat them.
      expect(container.args).toEqual(shippedCommand());
      expect(container.args?.slice(-4)).toEqual([
        '/app/dist/main.js',
        'run',
        '--config',
        '/etc/k8s-audit-forwarder/config/forwarder.yaml',
      ]);
      expect(mount(objects, 'config')).toMatchObject({
        mountPath: '/etc/k8s-audit-forwarder/config',
        readOnly: true,
      });
    });

    it('gives SIGTERM more time than delivery.shutdownTimeoutMs', () => {
      const objects = renderCached(options);
      const shutdownMs = renderedConfig(objects).delivery?.shutdownTimeoutMs ?? DEFAULT_SHUTDOWN_TIMEOUT_MS;
      expect((podSpec(objects).terminationGracePeriodSeconds ?? 30) * 1000).toBeGreaterThanOrEqual(
        shutdownMs + 5000,
      );
    });

    it('sets every ${VAR} the config refers to', () => {
      const objects = renderCached(options);
      const defined = (forwarder(objects).env ?? []).map((variable) => variable.name);
      expect(envReferences(configText(objects)).filter((name) => !defined.includes(name))).toEqual([]);
    });

    it('selects its pods by name and instance only, and nothing else carries those labels', () => {
      const objects = renderCached(options);
      const spec = daemonSetSpec(objects);
      expect(spec.selector.matchLabels).toEqual({
        'app.kubernetes.io/name': 'k8s-audit-forwarder',
        'app.kubernetes.io/instance': RELEASE,
      });
      expect(spec.template.metadata.labels).toMatchObject(spec.selector.matchLabels);
      const testPod = objects.find((object) => object.kind === 'Pod');
      if (testPod) {
        expect(testPod.metadata.labels?.['app.kubernetes.io/name']).not.toBe('k8s-audit-forwarder');
      }
      const service = objects.find((object) => object.kind === 'Service');
      if (service)
        expect((service.spec as { selector: unknown }).selector).toEqual(spec.selector.matchLabels);
    });

    it('caps the heap below the memory limit', () => {
      const container = forwarder(renderCached(options));
      const limit = container.resources?.limits?.memory;
      const nodeOptions = container.env?.find((variable) => variable.name === 'NODE_OPTIONS')?.value;
      const heapMiB = Number(/--max-old-space-size=(\d+)/.exec(nodeOptions ?? '')?.[1] ?? Number.NaN);
      if (limit === undefined) {
        expect(nodeOptions === '--max-semi-space-size=2 --v8-pool-size=1' || !Number.isNaN(heapMiB)).toBe(
          true,
        );
        return;
      }
      const limitMiB = limit.endsWith('Gi')
        ? Number(limit.slice(0, -2)) * 1024
        : Number(limit.replace(/Mi$/, ''));
      expect(heapMiB).toBeLessThan(limitMiB);
    });
  });

  describe('with the chart defaults', () => {
    it('runs on control-plane nodes only, tolerating exactly their taints', () => {
      const pod = podSpec(renderCached(FILE_SINK));
      const terms =
        pod.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms;
      expect(terms).toEqual([
        { matchExpressions: [{ key: 'node-role.kubernetes.io/control-plane', operator: 'Exists' }] },
        { matchExpressions: [{ key: 'node-role.kubernetes.io/master', operator: 'Exists' }] },
      ]);
      expect(pod.tolerations).toEqual([
        { key: 'node-role.kubernetes.io/control-plane', operator: 'Exists', effect: 'NoSchedule' },
        { key: 'node-role.kubernetes.io/master', operator: 'Exists', effect: 'NoSchedule' },
      ]);
      expect(pod.nodeSelector).toBeUndefined();
    });

    it('reads /var/log/kubernetes/audit/audit.log and keeps state under /var/lib/k8s-audit-forwarder', () => {
      const objects = renderCached(FILE_SINK);
      expect(volume(objects, 'audit-log').hostPath).toEqual({
        path: '/var/log/kubernetes/audit',
        type: 'Directory',
      });
      expect(renderedConfig(objects).source.path).toBe('/host/audit/audit.log');
      expect(volume(objects, 'state').hostPath?.path).toBe(
        `/var/lib/k8s-audit-forwarder/${NAMESPACE}-${FULLNAME}`,
      );
      expect(renderedConfig(objects).state.dir).toBe('/var/lib/k8s-audit-forwarder');
    });

    it('is node-critical, rolls one node at a time, stays off the host network and listens on 9880', () => {
      const objects = renderCached(FILE_SINK);
      const pod = podSpec(objects);
      expect(pod.priorityClassName).toBe('system-node-critical');
      expect(daemonSetSpec(objects).updateStrategy).toEqual({
        type: 'RollingUpdate',
        rollingUpdate: { maxUnavailable: 1 },
      });
      expect(pod.hostNetwork).toBeUndefined();
      expect(renderedConfig(objects).status.listen).toBe('0.0.0.0:9880');
      expect(pod.terminationGracePeriodSeconds).toBe(30);
    });

    it('limits memory to 256Mi with the heap capped at 75% of it', () => {
      const container = forwarder(renderCached(FILE_SINK));
      expect(container.resources?.limits?.memory).toBe('256Mi');
      expect(container.env?.find((variable) => variable.name === 'NODE_OPTIONS')?.value).toBe(
        '--max-semi-space-size=2 --v8-pool-size=1 --max-old-space-size=192',
      );
    });

    it('defaults the image tag to appVersion, which is the package version', () => {
      const chart = parse(readFileSync(`${CHART_DIR}/Chart.yaml`, 'utf8')) as { appVersion: string };
      const pkg = JSON.parse(readFileSync(`${REPO_ROOT}/package.json`, 'utf8')) as { version: string };
      expect(chart.appVersion).toBe(pkg.version);
      expect(forwarder(renderCached(FILE_SINK)).image).toBe(
        `ghcr.io/k8s-audit-forwarder/k8s-audit-forwarder:${pkg.version}`,
      );
    });

    it('renders the helm test pod: restricted, deleted after success, fetching /readyz through the Service', () => {
      const testPod = findObject(renderCached(FILE_SINK), 'Pod');
      expect(testPod.metadata.annotations).toEqual({
        'helm.sh/hook': 'test',
        'helm.sh/hook-delete-policy': 'before-hook-creation,hook-succeeded',
      });
      const spec = testPod.spec as {
        securityContext: Record<string, unknown>;
        containers: { command: string[]; securityContext: Record<string, unknown> }[];
      };
      expect(spec.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 65534 });
      expect(spec.containers[0]?.securityContext).toMatchObject({
        allowPrivilegeEscalation: false,
        readOnlyRootFilesystem: true,
        capabilities: { drop: ['ALL'] },
      });
      expect(spec.containers[0]?.command.at(-1)).toBe(`http://${FULLNAME}.${NAMESPACE}.svc:9880/readyz`);
    });

    it('creates no Secret, ServiceMonitor, NetworkPolicy or dashboard unless asked', () => {
      const objects = renderCached(FILE_SINK);
      expect(objects.map((object) => object.kind).sort()).toEqual([
        'ConfigMap',
        'DaemonSet',
        'Pod',
        'Service',
        'ServiceAccount',
      ]);
    });
  });

  describe('with ci/full-values.yaml', () => {
    const full = (): K8sObject[] =>
      renderCached({
        valuesFiles: ['full-values.yaml'],
        apiVersions: SERVICE_MONITOR_API,
        chartDir: chartWithDashboard().chartDir,
      });

    it('uses the host network with cluster DNS, the user affinity, and no priority class', () => {
      const pod = podSpec(full());
      expect(pod.hostNetwork).toBe(true);
      expect(pod.dnsPolicy).toBe('ClusterFirstWithHostNet');
      expect(pod.priorityClassName).toBeUndefined();
      expect(
        pod.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms,
      ).toEqual([
        {
          matchExpressions: [
            { key: 'node-role.kubernetes.io/controlplane', operator: 'In', values: ['true'] },
          ],
        },
      ]);
      expect(pod.serviceAccountName).toBe('audit-forwarder');
    });

    it('pins the image by digest and caps the heap at 75% of 1Gi', () => {
      const container = forwarder(full());
      expect(container.image).toBe(
        'ghcr.io/k8s-audit-forwarder/k8s-audit-forwarder@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef',
      );
      expect(container.env?.find((variable) => variable.name === 'NODE_OPTIONS')?.value).toBe(
        '--max-semi-space-size=2 --v8-pool-size=1 --max-old-space-size=768',
      );
    });

    it('creates the Secret, sets the variable from it and rolls the pods when it changes', () => {
      const objects = full();
      expect(findObject(objects, 'Secret').data).toEqual({
        'cluster-name': Buffer.from('prod-eu-1').toString('base64'),
      });
      expect(
        forwarder(objects).env?.find((variable) => variable.name === 'CLUSTER_NAME')?.valueFrom?.secretKeyRef,
      ).toEqual({
        name: FULLNAME,
        key: 'cluster-name',
      });
      expect(daemonSetSpec(objects).template.metadata.annotations?.['checksum/credentials']).toMatch(
        /^[0-9a-f]{64}$/,
      );
    });

    it('scrapes /metrics on the Service port through a ServiceMonitor in the release namespace', () => {
      const objects = full();
      const service = findObject(objects, 'Service');
      const monitor = findObject(objects, 'ServiceMonitor');
      const monitorSpec = monitor.spec as {
        selector: { matchLabels: Record<string, string> };
        namespaceSelector: { matchNames: string[] };
        endpoints: Record<string, unknown>[];
      };
      const servicePorts = (service.spec as { ports: { name: string; port: number }[] }).ports;
      expect(Object.keys(monitorSpec).sort()).toEqual(['endpoints', 'namespaceSelector', 'selector']);
      expect(service.metadata.labels).toMatchObject(monitorSpec.selector.matchLabels);
      expect(monitorSpec.namespaceSelector.matchNames).toEqual([NAMESPACE]);
      expect(monitorSpec.endpoints).toHaveLength(1);
      expect(monitorSpec.endpoints[0]).toMatchObject({
        port: servicePorts[0]?.name,
        path: '/metrics',
        interval: '15s',
      });
      expect(Object.keys(monitorSpec.endpoints[0] ?? {}).sort()).toEqual([
        'interval',
        'metricRelabelings',
        'path',
        'port',
        'scrapeTimeout',
      ]);
      expect(monitor.metadata.labels?.release).toBe('kube-prometheus-stack');
      expect(servicePorts[0]?.port).toBe(19880);
    });

    it('lets only the listed peers and the test pod reach the status port', () => {
      const objects = full();
      const policy = findObject(objects, 'NetworkPolicy').spec as {
        podSelector: { matchLabels: Record<string, string> };
        policyTypes: string[];
        ingress: {
          ports: { port: string }[];
          from: { podSelector?: { matchLabels: Record<string, string> } }[];
        }[];
      };
      expect(policy.podSelector.matchLabels).toEqual(daemonSetSpec(objects).selector.matchLabels);
      expect(policy.policyTypes).toEqual(['Ingress']);
      expect(policy.ingress[0]?.ports).toEqual([{ port: 'status', protocol: 'TCP' }]);
      const testPod = findObject(objects, 'Pod');
      expect(testPod.metadata.labels).toMatchObject(
        policy.ingress[0]?.from[0]?.podSelector?.matchLabels ?? { none: 'x' },
      );
      expect(policy.ingress[0]?.from).toHaveLength(2);
    });

    it('ships the dashboard as a ConfigMap labelled for the Grafana sidecar', () => {
      const { chartDir } = chartWithDashboard();
      const dashboard = findObject(full(), 'ConfigMap', '-dashboard');
      expect(dashboard.metadata.labels?.grafana_dashboard).toBe('1');
      expect(dashboard.metadata.annotations).toEqual({ grafana_folder: 'Security' });
      const json = (dashboard.data as Record<string, string>)['k8s-audit-forwarder.json'] ?? '';
      expect(json).toBe(readFileSync(`${chartDir}/dashboards/k8s-audit-forwarder.json`, 'utf8').trimEnd());
      expect(() => JSON.parse(json) as unknown).not.toThrow();
    });

    it('puts the state directory under the given root without a double slash', () => {
      expect(volume(full(), 'state').hostPath?.path).toBe(`/var/lib/audit-state/${NAMESPACE}-${FULLNAME}`);
    });
  });

  describe('with ci/elasticsearch-values.yaml', () => {
    const es = (): K8sObject[] => renderCached({ valuesFiles: ['elasticsearch-values.yaml'] });

    it('takes the API key from the existing Secret and mounts the same Secret read-only for the CA file', () => {
      const objects = es();
      expect(hasObject(objects, 'Secret')).toBe(false);
      expect(
        forwarder(objects).env?.find((variable) => variable.name === 'ES_API_KEY')?.valueFrom?.secretKeyRef,
      ).toEqual({
        name: 'audit-es',
        key: 'api-key',
      });
      expect(volume(objects, 'credentials').secret).toEqual({ secretName: 'audit-es', defaultMode: 0o440 });
      const credentialsMount = mount(objects, 'credentials');
      expect(credentialsMount.readOnly).toBe(true);
      const sink = renderedConfig(objects).sinks[0] as { tls?: { caFile?: string } };
      expect(dirname(sink.tls?.caFile ?? '')).toBe(credentialsMount.mountPath);
    });
  });

  describe('rolling on change', () => {
    const checksum = (values: Record<string, unknown>): string | undefined =>
      daemonSetSpec(renderCached({ valuesFiles: ['file-sink-values.yaml'], values })).template.metadata
        .annotations?.['checksum/config'];

    it('changes the config checksum when the config changes, and only then', () => {
      expect(checksum({ config: { logLevel: 'debug' } })).not.toBe(checksum({}));
      expect(checksum({ podAnnotations: { a: 'b' } })).toBe(checksum({}));
    });
  });

  describe('the dashboard file', () => {
    it('is the same file as helm/dashboards/k8s-audit-forwarder.json when both exist', () => {
      if (!existsSync(CHART_DASHBOARD) || !existsSync(SOURCE_DASHBOARD) || isSymlink(CHART_DASHBOARD)) return;
      expect(readFileSync(CHART_DASHBOARD, 'utf8')).toBe(readFileSync(SOURCE_DASHBOARD, 'utf8'));
    });

    it('is packaged as a plain file with the content of helm/dashboards/k8s-audit-forwarder.json', () => {
      if (!existsSync(CHART_DASHBOARD)) return;
      const out = mkdtempSync(join(tmpdir(), 'kaf-package-'));
      try {
        const run = runHelm(tools().helm4, ['package', CHART_DIR, '--destination', out]);
        expect(run.code, run.stderr).toBe(0);
        const unpacked = spawnSync(
          'tar',
          [
            '-xzOf',
            join(out, readdirSync(out)[0] ?? ''),
            'k8s-audit-forwarder/dashboards/k8s-audit-forwarder.json',
          ],
          { encoding: 'utf8', maxBuffer: 16 * 1024 * 1024 },
        );
        expect(unpacked.status).toBe(0);
        expect(unpacked.stdout).toBe(readFileSync(CHART_DASHBOARD, 'utf8'));
        if (existsSync(SOURCE_DASHBOARD))
          expect(unpacked.stdout).toBe(readFileSync(SOURCE_DASHBOARD, 'utf8'));
      } finally {
        rmSync(out, { recursive: true, force: true });
      }
    });

    it('makes dashboard.enabled fail with a clear message while it is missing from the chart', () => {
      const run = template(tools().helm3, { ...FILE_SINK, values: { dashboard: { enabled: true } } });
      if (existsSync(CHART_DASHBOARD)) expect(run.code).toBe(0);
      else
        expect(run.stderr).toContain(
          'dashboard.enabled, but the chart has no dashboards/k8s-audit-forwarder.json',
        );
    });
  });
});
