// The chart can never ship a config the forwarder rejects: every rendered forwarder.yaml goes through the real
// CLI's check-config, with the environment the container would get (node name, Secret keys, literal env).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { sinkSchema } from '../../../src/config/schema.ts';
import { chartCases } from './support/cases.ts';
import { configText, renderedConfig, simulatedEnv } from './support/manifests.ts';
import { removeScratch, render } from './support/render.ts';
import { ensureTools, type HelmTools, requireTools, skipNote, REPO_ROOT } from './support/tools.ts';

const lookup = ensureTools();
const SKIP = skipNote(lookup);
const MAIN = join(REPO_ROOT, 'src', 'main.ts');

/** Sink types this build of the forwarder implements; a chart example using another one cannot be checked yet. */
const SUPPORTED_SINK_TYPES = new Set(sinkSchema.options.map((option) => option.shape.type.value as string));

const tools = (): HelmTools => requireTools(lookup);

const dir = mkdtempSync(join(tmpdir(), 'kaf-helm-config-'));
let fileCount = 0;

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
  removeScratch();
});

function checkConfig(text: string, env: Record<string, string>): { code: number | null; stderr: string } {
  const path = join(dir, `forwarder-${++fileCount}.yaml`);
  writeFileSync(path, text);
  // Only the container's variables: an unset ${VAR} must fail here as it would in the pod.
  const result = spawnSync(process.execPath, [MAIN, 'check-config', '--config', path], {
    encoding: 'utf8',
    env: { PATH: process.env.PATH, ...env },
    timeout: 30_000,
  });
  return { code: result.status, stderr: result.stderr };
}

describe.skipIf(SKIP !== '')(`the rendered forwarder.yaml passes check-config${SKIP}`, () => {
  for (const { name, options } of lookup.tools ? chartCases() : []) {
    const objects = render(tools().helm3, options);
    const unsupported = renderedConfig(objects)
      .sinks.map((sink) => sink.type)
      .filter((type) => !SUPPORTED_SINK_TYPES.has(type));
    const note =
      unsupported.length > 0 ? ` [skipped: this build has no ${unsupported.join(', ')} sink yet]` : '';
    it.skipIf(note !== '')(`${name}${note}`, () => {
      const result = checkConfig(configText(objects), simulatedEnv(objects));
      expect(result.stderr).toMatch(/configuration is valid/);
      expect(result.code).toBe(0);
    });
  }

  it('fails in check-config too when the container lacks a variable the config uses', () => {
    const objects = render(tools().helm3, {
      valuesFiles: ['full-values.yaml'],
      values: { dashboard: { enabled: false } },
      apiVersions: ['monitoring.coreos.com/v1/ServiceMonitor'],
    });
    const env = simulatedEnv(objects);
    delete env.CLUSTER_NAME;
    const result = checkConfig(configText(objects), env);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('environment variable CLUSTER_NAME is not set');
  });
});
