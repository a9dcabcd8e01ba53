// Runs a real helm binary on the chart and parses what it prints, the way Elastic's chart tests do: render,
// parse into objects, assert on fields. Values given as objects are written to a temporary values file.
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, lstatSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseAllDocuments, stringify } from 'yaml';
import { CHART_DIR, REPO_ROOT } from './tools.ts';

export const NAMESPACE = 'audit';
export const RELEASE = 'kaf';
export const SERVICE_MONITOR_API = ['monitoring.coreos.com/v1', 'monitoring.coreos.com/v1/ServiceMonitor'];
export const CHART_DASHBOARD = join(CHART_DIR, 'dashboards', 'k8s-audit-forwarder.json');
export const SOURCE_DASHBOARD = join(REPO_ROOT, 'helm', 'dashboards', 'k8s-audit-forwarder.json');

export interface K8sObject {
  readonly apiVersion: string;
  readonly kind: string;
  readonly metadata: {
    readonly name: string;
    readonly namespace?: string;
    readonly labels?: Readonly<Record<string, string>>;
    readonly annotations?: Readonly<Record<string, string>>;
  };
  readonly [field: string]: unknown;
}

export interface HelmRun {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

export interface RenderOptions {
  /** ci/<name> files of the chart, or absolute paths. */
  readonly valuesFiles?: readonly string[];
  /** Written to a temporary values file, applied after valuesFiles. */
  readonly values?: Readonly<Record<string, unknown>>;
  readonly apiVersions?: readonly string[];
  readonly kubeVersion?: string;
  readonly chartDir?: string;
}

const scratch = mkdtempSync(join(tmpdir(), 'kaf-helm-'));
let valuesFileCount = 0;

export function removeScratch(): void {
  rmSync(scratch, { recursive: true, force: true });
}

export function runHelm(helm: string, args: readonly string[]): HelmRun {
  const result = spawnSync(helm, args, {
    encoding: 'utf8',
    timeout: 60_000,
    // No kubeconfig, no cluster: every command must work offline.
    env: { PATH: process.env.PATH, HOME: scratch, KUBECONFIG: join(scratch, 'no-kubeconfig') },
  });
  if (result.error) throw result.error;
  return { code: result.status ?? -1, stdout: result.stdout, stderr: result.stderr };
}

export function valuesArgs(options: RenderOptions): string[] {
  const args: string[] = [];
  for (const file of options.valuesFiles ?? []) {
    args.push('-f', file.startsWith('/') ? file : join(CHART_DIR, 'ci', file));
  }
  if (options.values !== undefined) {
    const path = join(scratch, `values-${++valuesFileCount}.yaml`);
    writeFileSync(path, stringify(options.values));
    args.push('-f', path);
  }
  return args;
}

export function templateArgs(options: RenderOptions): string[] {
  const args = [
    'template',
    RELEASE,
    options.chartDir ?? CHART_DIR,
    '--namespace',
    NAMESPACE,
    ...valuesArgs(options),
  ];
  for (const api of options.apiVersions ?? []) args.push('--api-versions', api);
  if (options.kubeVersion !== undefined) args.push('--kube-version', options.kubeVersion);
  return args;
}

export function template(helm: string, options: RenderOptions = {}): HelmRun {
  return runHelm(helm, templateArgs(options));
}

/**
 * stderr without helm's note that it followed a symbolic link: the chart's dashboard is a link to
 * helm/dashboards/k8s-audit-forwarder.json (helm packages the file itself).
 */
export function significantStderr(stderr: string): string {
  return stderr
    .split('\n')
    .filter((line) => line !== '' && !/found symbolic link in path/.test(line))
    .join('\n');
}

export function parseManifests(text: string): K8sObject[] {
  return parseAllDocuments(text)
    .map((document) => {
      if (document.errors.length > 0)
        throw new Error(`helm printed invalid YAML: ${document.errors[0]?.message ?? ''}`);
      return document.toJS() as K8sObject | null;
    })
    .filter((object): object is K8sObject => object !== null);
}

/** Renders and parses; a failed render throws with helm's message. */
export function render(helm: string, options: RenderOptions = {}): K8sObject[] {
  const run = template(helm, options);
  if (run.code !== 0) throw new Error(`helm template failed (${run.code}): ${run.stderr}`);
  return parseManifests(run.stdout);
}

export function findObject(objects: readonly K8sObject[], kind: string, nameSuffix = ''): K8sObject {
  const found = objects.find((object) => object.kind === kind && object.metadata.name.endsWith(nameSuffix));
  if (found === undefined)
    throw new Error(`no ${kind}${nameSuffix ? ` named *${nameSuffix}` : ''} in the output`);
  return found;
}

export function hasObject(objects: readonly K8sObject[], kind: string): boolean {
  return objects.some((object) => object.kind === kind);
}

/**
 * The chart directory to render when the dashboard must be present. The dashboard is another engineer's file;
 * until it is in the chart, a copy of the chart with a stub dashboard stands in (and `isStub` says so).
 */
export function chartWithDashboard(): { readonly chartDir: string; readonly isStub: boolean } {
  if (existsSync(CHART_DASHBOARD)) return { chartDir: CHART_DIR, isStub: false };
  const copy = join(scratch, 'chart-with-stub-dashboard');
  if (!existsSync(copy)) {
    cpSync(CHART_DIR, copy, { recursive: true });
    mkdirSync(join(copy, 'dashboards'), { recursive: true });
    // A dangling link copied along would be written through: replace it with a plain file.
    rmSync(join(copy, 'dashboards', 'k8s-audit-forwarder.json'), { force: true });
    writeFileSync(
      join(copy, 'dashboards', 'k8s-audit-forwarder.json'),
      `${JSON.stringify({ title: 'stub: the real dashboard is not in the chart yet', panels: [] }, null, 2)}\n`,
    );
  }
  return { chartDir: copy, isStub: true };
}

export function isSymlink(path: string): boolean {
  return existsSync(path) && lstatSync(path).isSymbolicLink();
}
