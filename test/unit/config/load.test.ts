import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfigFile, parseConfig } from '../../../src/config/load.ts';
import { Secret } from '../../../src/config/secret.ts';
import { ConfigError } from '../../../src/errors.ts';

const minimal = `
cluster: prod-eu-1
source: { path: /var/log/kubernetes/audit/audit.log }
sinks:
  - { name: local, type: file, path: /tmp/out.jsonl }
`;

function problemsOf(text: string, env: Record<string, string> = {}): readonly string[] {
  try {
    parseConfig(text, env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as ConfigError).problems;
  }
  throw new Error('expected the config to be rejected');
}

describe('config loading', () => {
  it('fills every default for a minimal config and freezes the result', () => {
    const config = parseConfig(minimal, {});
    expect(config.source).toEqual({
      path: '/var/log/kubernetes/audit/audit.log',
      startAt: 'beginning',
      maxLineBytes: 4 * 1024 * 1024,
      pollIntervalMs: 250,
      readChunkBytes: 1024 * 1024,
    });
    expect(config.batch).toEqual({ maxEvents: 1000, maxBytes: 5 * 1024 * 1024, maxWaitMs: 1000 });
    expect(config.status.listen).toBe('127.0.0.1:9880');
    expect(config.checkpoint.onCorrupt).toBe('fail');
    expect(config.node.length).toBeGreaterThan(0);
    expect(Object.isFrozen(config.source)).toBe(true);
    expect(Object.isFrozen(config.sinks[0])).toBe(true);
  });

  it('names the key path and what was expected for each problem, all at once', () => {
    const problems = problemsOf(`
cluster: c
source: { path: /x, startAt: middle, bogus: 1 }
status: { listen: localhost }
batch: { maxEvents: "10", maxWaitMs: -5 }
sinks:
  - { name: a, type: kafka }
`);
    expect(problems).toEqual([
      'source.startAt: expected one of "beginning", "end", got "middle"',
      'source.bogus: unknown key (check its spelling and indentation)',
      'status.listen: expected "host:port" with an IP address, got "localhost"',
      'batch.maxEvents: expected number, got "10"',
      'batch.maxWaitMs: expected a number > 0, got -5',
      'sinks[0].type: expected type to be one of: file, stdout, elasticsearch',
    ]);
  });

  it('reports a missing required value with its path', () => {
    expect(problemsOf('source: { path: /x }\nsinks: [{ name: a, type: file }]')).toEqual([
      'cluster: required, expected string',
      'sinks[0].path: required, expected string',
    ]);
  });

  it('rejects duplicate sink names and an empty sink list', () => {
    expect(problemsOf(`cluster: c\nsource: {path: /x}\nsinks: []`)).toEqual([
      'sinks: expected at least one sink',
    ]);
    expect(
      problemsOf(`cluster: c\nsource: {path: /x}\nsinks: [{name: a, type: stdout}, {name: a, type: stdout}]`),
    ).toEqual(['sinks[1].name: duplicate sink name "a"']);
  });

  it('substitutes ${ENV_VAR} in values and names an unset variable', () => {
    const config = parseConfig(
      `cluster: \${CLUSTER}\nnode: n-$$1\n${minimal.replace('cluster: prod-eu-1', '')}`,
      {
        CLUSTER: 'from-env',
      },
    );
    expect(config.cluster).toBe('from-env');
    expect(config.node).toBe('n-$1');
    expect(
      problemsOf(`cluster: \${MISSING_CLUSTER}\nsource: {path: /x}\nsinks: [{name: a, type: stdout}]`),
    ).toEqual(['cluster: environment variable MISSING_CLUSTER is not set']);
  });

  it('reports YAML syntax errors and a non-mapping document', () => {
    expect(problemsOf('cluster: [unclosed')[0]).toMatch(/^YAML syntax: /);
    expect(problemsOf('- just\n- a list')).toEqual(['expected a YAML mapping at the top level']);
  });

  it('reports an unreadable file by path', async () => {
    await expect(loadConfigFile('/nonexistent/forwarder.yaml', {})).rejects.toThrow(
      'cannot read config file /nonexistent/forwarder.yaml: ENOENT',
    );
  });

  it('accepts the shipped example and demo configs', async () => {
    const example = await loadConfigFile(
      new URL('../../../config/forwarder.example.yaml', import.meta.url).pathname,
      {
        NODE_NAME: 'cp-1',
      },
    );
    expect(example.node).toBe('cp-1');
    const dir = await mkdtemp(join(tmpdir(), 'kaf-config-'));
    await writeFile(join(dir, 'c.yaml'), minimal);
    expect((await loadConfigFile(join(dir, 'c.yaml'), {})).cluster).toBe('prod-eu-1');
    await loadConfigFile(new URL('../../../config/demo.yaml', import.meta.url).pathname, {});
  });
});

describe('Secret', () => {
  it('never prints its value', () => {
    const secret = new Secret('hunter2');
    expect(String(secret)).toBe('[redacted]');
    expect(JSON.stringify({ secret })).toBe('{"secret":"[redacted]"}');
    expect(JSON.stringify([secret])).not.toContain('hunter2');
    expect(secret.reveal()).toBe('hunter2');
  });
});
