// Locates the chart validation tools that .ci/helm-check.sh installs outside the project's dependencies,
// running the installer once when they are missing. A tool that cannot be had becomes a named skip reason.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

export const REPO_ROOT = new URL('../../../../', import.meta.url).pathname;
export const CHART_DIR = join(REPO_ROOT, 'helm', 'k8s-audit-forwarder');
export const INSTALL_SCRIPT = join(REPO_ROOT, '.ci', 'helm-check.sh');

export interface HelmTools {
  /** Helm 3.17: gojsonschema (draft-07) validates values.schema.json. */
  readonly helm3: string;
  /** Helm 4: santhosh-tekuri/jsonschema, the stricter validator of Helm >= 3.18. */
  readonly helm4: string;
  /** node_modules with kubernetes-models, @kubernetes/client-node, ajv and dockerfile-utils. */
  readonly modules: string;
  /** Absent when apt-get could not install it (not root): its check is skipped. */
  readonly yamllint: string | undefined;
}

export interface ToolsLookup {
  readonly tools: HelmTools | undefined;
  /** Why the tools are missing; undefined when `tools` is set. */
  readonly skipReason: string | undefined;
}

/** " [skipped: <reason>]" for a test title, or "" when the tools are there. */
export function skipNote(lookup: ToolsLookup): string {
  return lookup.skipReason === undefined ? '' : ` [skipped: ${lookup.skipReason}]`;
}

/** The tools inside a test that is skipped without them. */
export function requireTools(lookup: ToolsLookup): HelmTools {
  if (lookup.tools === undefined) throw new Error(lookup.skipReason ?? 'chart tools missing');
  return lookup.tools;
}

export function toolsDir(): string {
  const fromEnv = process.env.KAF_HELM_TOOLS_DIR;
  if (fromEnv !== undefined && fromEnv !== '') return fromEnv;
  const cache = process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache');
  return join(cache, 'k8s-audit-forwarder', 'helm-tools');
}

function find(): { tools: HelmTools; missing: string[] } {
  const dir = toolsDir();
  const tools: HelmTools = {
    helm3: join(dir, 'helm-3.17.2', 'helm'),
    helm4: join(dir, 'helm-4.1.4', 'helm'),
    modules: join(dir, 'npm', 'node_modules'),
    yamllint: findOnPath('yamllint'),
  };
  const missing = [tools.helm3, tools.helm4, join(tools.modules, 'kubernetes-models', 'package.json')].filter(
    (path) => !existsSync(path),
  );
  return { tools, missing };
}

function findOnPath(command: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(':')) {
    if (dir !== '' && existsSync(join(dir, command))) return join(dir, command);
  }
  return undefined;
}

let cached: ToolsLookup | undefined;

/** Finds the tools, running `.ci/helm-check.sh install` first if any is missing (it locks against parallel runs). */
export function ensureTools(): ToolsLookup {
  if (cached !== undefined) return cached;
  let found = find();
  if (found.missing.length > 0) {
    const install = spawnSync('bash', [INSTALL_SCRIPT, 'install'], {
      cwd: REPO_ROOT,
      encoding: 'utf8',
      timeout: 300_000,
    });
    found = find();
    if (found.missing.length > 0) {
      const output = `${install.stderr}${install.error ? String(install.error) : ''}`
        .trim()
        .split('\n')
        .slice(-5);
      cached = {
        tools: undefined,
        skipReason: `chart tools missing (${found.missing.join(', ')}) and \`bash .ci/helm-check.sh install\` failed: ${output.join(' | ')}`,
      };
      return cached;
    }
  }
  cached = { tools: found.tools, skipReason: undefined };
  return cached;
}
