// The values combinations the chart is tested with: the ci/ files (what ct and users start from) plus the
// switches they leave at their defaults. Each is rendered by both helm versions.
import { chartWithDashboard, type RenderOptions, SERVICE_MONITOR_API } from './render.ts';

export interface ChartCase {
  readonly name: string;
  readonly options: RenderOptions;
}

const FILE_SINK = ['file-sink-values.yaml'];

export function chartCases(): ChartCase[] {
  const withDashboard = chartWithDashboard();
  return [
    { name: 'ci/file-sink-values.yaml (chart defaults)', options: { valuesFiles: FILE_SINK } },
    { name: 'ci/elasticsearch-values.yaml', options: { valuesFiles: ['elasticsearch-values.yaml'] } },
    {
      name: `ci/full-values.yaml${withDashboard.isStub ? ' (stub dashboard)' : ''}`,
      options: {
        valuesFiles: ['full-values.yaml'],
        apiVersions: SERVICE_MONITOR_API,
        chartDir: withDashboard.chartDir,
      },
    },
    {
      name: 'no Service, no ServiceAccount, image tag, no memory limit, NetworkPolicy',
      options: {
        valuesFiles: FILE_SINK,
        values: {
          service: { enabled: false },
          serviceAccount: { create: false },
          image: { tag: '9.9.9' },
          resources: { requests: { cpu: '10m', memory: '64Mi' } },
          networkPolicy: { enabled: true },
        },
      },
    },
    {
      name: 'created Secret mounted as files, stdout sink, controlPlaneOnly=false with a nodeSelector',
      options: {
        values: {
          config: {
            cluster: 'staging',
            sinks: [{ name: 'console', type: 'stdout' }],
          },
          credentials: { create: true, mount: true, values: { 'ca.crt': 'PEM' } },
          controlPlaneOnly: false,
          nodeSelector: { 'example.com/audit': 'true' },
          audit: { hostDir: '/var/log', fileName: 'kube-apiserver-audit.log' },
          nodeOptions: '--max-old-space-size=100 --enable-source-maps',
        },
      },
    },
  ];
}
