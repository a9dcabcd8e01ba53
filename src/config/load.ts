// Turns a YAML file into a validated, deep-frozen Config, reporting every problem at once with
// its YAML path. ${ENV_VAR} references are resolved inside string values only (never in keys),
// so a variable's content cannot change the document's structure.
import { readFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { parseDocument } from 'yaml';
import type { z } from 'zod';
import { ConfigError } from '../errors.ts';
import { type Config, configSchema } from './schema.ts';

export type Env = Readonly<Record<string, string | undefined>>;

export interface ResolvedConfig extends Config {
  readonly node: string;
}

export async function loadConfigFile(path: string, env: Env): Promise<Readonly<ResolvedConfig>> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code ?? String(error);
    throw new ConfigError([`cannot read config file ${path}: ${reason}`], 'KAF_CONFIG_UNREADABLE');
  }
  return parseConfig(text, env);
}

export function parseConfig(text: string, env: Env): Readonly<ResolvedConfig> {
  const document = parseDocument(text, { prettyErrors: false, uniqueKeys: true });
  if (document.errors.length > 0) {
    throw new ConfigError(
      document.errors.map((error) => `YAML syntax: ${error.message.split('\n')[0] ?? ''}`),
    );
  }
  const raw: unknown = document.toJS();
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new ConfigError(['expected a YAML mapping at the top level']);
  }
  const problems: string[] = [];
  const substituted = substituteEnv(raw, env, [], problems);
  if (problems.length > 0) throw new ConfigError(problems, 'KAF_ENV_UNSET');

  const result = configSchema.safeParse(substituted);
  if (!result.success)
    throw new ConfigError(result.error.issues.map((issue) => formatIssue(issue, substituted)));
  const config: ResolvedConfig = { ...result.data, node: result.data.node ?? hostname() };
  return deepFreeze(config);
}

const ENV_REFERENCE = /\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g;

function substituteEnv(value: unknown, env: Env, path: PropertyKey[], problems: string[]): unknown {
  if (typeof value === 'string') {
    return value.replace(ENV_REFERENCE, (match, name: string | undefined) => {
      if (name === undefined) return '$';
      const resolved = env[name];
      if (resolved === undefined) {
        problems.push(`${formatPath(path)}: environment variable ${name} is not set`);
        return match;
      }
      return resolved;
    });
  }
  if (Array.isArray(value))
    return value.map((item, index) => substituteEnv(item, env, [...path, index], problems));
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value).map(([key, item]) => [key, substituteEnv(item, env, [...path, key], problems)]),
    );
  }
  return value;
}

/** Formats a path as users write it: sinks[0].tls.caFile */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else out += out === '' ? String(part) : `.${String(part)}`;
  }
  return out === '' ? '(top level)' : out;
}

function formatIssue(issue: z.core.$ZodIssue, input: unknown): string {
  const where = formatPath(issue.path);
  if (issue.code === 'unrecognized_keys') {
    return issue.keys
      .map((key) => `${formatPath([...issue.path, key])}: unknown key (check its spelling and indentation)`)
      .join('\n  ');
  }
  if (issue.code === 'invalid_type') {
    const actual = valueAt(input, issue.path);
    if (actual === undefined) return `${where}: required, expected ${issue.expected}`;
    return `${where}: expected ${issue.expected}, got ${describeValue(actual)}`;
  }
  if (issue.code === 'invalid_value') {
    const options = issue.values.map((option) => JSON.stringify(option)).join(', ');
    return `${where}: expected one of ${options}, got ${describeValue(valueAt(input, issue.path))}`;
  }
  if (issue.code === 'too_small' && issue.origin === 'number') {
    const bound = `${issue.inclusive ? '>=' : '>'} ${String(issue.minimum)}`;
    return `${where}: expected a number ${bound}, got ${describeValue(valueAt(input, issue.path))}`;
  }
  return `${where}: ${issue.message}`;
}

function valueAt(root: unknown, path: readonly PropertyKey[]): unknown {
  let current: unknown = root;
  for (const part of path) {
    if (current === null || typeof current !== 'object') return undefined;
    current = (current as Record<PropertyKey, unknown>)[part];
  }
  return current;
}

function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  return JSON.stringify(value);
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    // Secrets are class instances with private state; freezing them is harmless.
    for (const item of Object.values(value)) deepFreeze(item);
    Object.freeze(value);
  }
  return value;
}
