// values.schema.json: a valid draft-07 schema (ajv, strict), satisfied by values.yaml and every ci file, covering
// exactly the keys values.yaml has, and in step with the forwarder's own config schema (src/config/schema.ts):
// a key added to the forwarder must be added to the chart, or users cannot set it.
import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { z } from 'zod';
import {
  batchSchema,
  configSchema,
  deliverySchema,
  fileSinkSchema,
  retrySchema,
  sinkSchema,
  sourceSchema,
  stdoutSinkSchema,
} from '../../../src/config/schema.ts';
import { CHART_DIR, ensureTools, requireTools, skipNote } from './support/tools.ts';

const lookup = ensureTools();
const SKIP = skipNote(lookup);

interface JsonSchema {
  readonly type?: string;
  readonly enum?: readonly string[];
  readonly pattern?: string;
  readonly properties?: Readonly<Record<string, JsonSchema>>;
  readonly additionalProperties?: boolean | JsonSchema;
  readonly items?: JsonSchema;
  readonly allOf?: readonly { readonly if: JsonSchema; readonly then: JsonSchema }[];
  readonly const?: string;
}

interface Ajv {
  compile(schema: unknown): { (data: unknown): boolean; errors?: unknown[] | null };
}

const SCHEMA = JSON.parse(readFileSync(join(CHART_DIR, 'values.schema.json'), 'utf8')) as JsonSchema;
const DEFAULTS = parse(readFileSync(join(CHART_DIR, 'values.yaml'), 'utf8')) as Record<string, unknown>;
const CI_FILES = readdirSync(join(CHART_DIR, 'ci')).filter((name) => name.endsWith('-values.yaml'));

function property(schema: JsonSchema, ...path: string[]): JsonSchema {
  let current = schema;
  for (const key of path) {
    const next = current.properties?.[key];
    if (next === undefined) throw new Error(`values.schema.json has no ${path.join('.')}`);
    current = next;
  }
  return current;
}

function keysOf(schema: JsonSchema): string[] {
  return Object.keys(schema.properties ?? {}).sort();
}

function shapeKeys(schema: z.ZodObject, ...omit: string[]): string[] {
  return Object.keys(schema.shape)
    .filter((key) => !omit.includes(key))
    .sort();
}

/** Helm's merge: maps are merged key by key, anything else (lists too) replaces. */
function mergeValues(base: unknown, override: unknown): unknown {
  if (isMap(base) && isMap(override)) {
    const merged: Record<string, unknown> = { ...base };
    for (const [key, value] of Object.entries(override)) merged[key] = mergeValues(base[key], value);
    return merged;
  }
  return override;
}

function isMap(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** The keys of every nested map of values.yaml, as paths, stopping where the schema stops declaring properties. */
function declaredPaths(values: Record<string, unknown>, schema: JsonSchema, prefix = ''): string[] {
  const paths: string[] = [];
  for (const [key, value] of Object.entries(values)) {
    const path = `${prefix}${key}`;
    paths.push(path);
    const child = schema.properties?.[key];
    if (child?.properties !== undefined && isMap(value))
      paths.push(...declaredPaths(value, child, `${path}.`));
  }
  return paths;
}

describe.skipIf(SKIP !== '')(`values.schema.json${SKIP}`, () => {
  const validate = (): ReturnType<Ajv['compile']> => {
    const { modules } = requireTools(lookup);
    const AjvClass = createRequire(join(modules, 'ajv', 'package.json'))('ajv') as {
      default: new (options: Record<string, unknown>) => Ajv;
    };
    // strict: unknown keywords and ambiguous types are schema bugs; allowUnionTypes is not needed.
    return new AjvClass.default({ strict: true, allErrors: true }).compile(SCHEMA);
  };

  it('is draft-07 and compiles under ajv strict mode', () => {
    expect((SCHEMA as { $schema?: string }).$schema).toBe('http://json-schema.org/draft-07/schema#');
    expect(validate).not.toThrow();
  });

  it('accepts values.yaml and values.yaml merged with every ci file', () => {
    const check = validate();
    expect(check(DEFAULTS), JSON.stringify(check.errors)).toBe(true);
    for (const file of CI_FILES) {
      const override = parse(readFileSync(join(CHART_DIR, 'ci', file), 'utf8')) as unknown;
      expect(check(mergeValues(DEFAULTS, override)), `${file}: ${JSON.stringify(check.errors)}`).toBe(true);
    }
  });

  it('declares every key of values.yaml, and values.yaml shows every key it declares', () => {
    const inValues = declaredPaths(DEFAULTS, SCHEMA).sort();
    const inSchema: string[] = [];
    const collect = (schema: JsonSchema, prefix: string, values: unknown): void => {
      for (const key of keysOf(schema)) {
        if (prefix === '' && key === 'global') continue;
        const child = property(schema, key);
        const value = isMap(values) ? values[key] : undefined;
        // Optional tuning keys of the forwarder config are documented in config/forwarder.example.yaml.
        if (value === undefined && prefix.startsWith('config.')) continue;
        inSchema.push(`${prefix}${key}`);
        if (child.properties !== undefined && isMap(value)) collect(child, `${prefix}${key}.`, value);
      }
    };
    collect(SCHEMA, '', DEFAULTS);
    expect(inValues).toEqual(inSchema.sort());
  });

  it('is strict on every object the chart owns', () => {
    const strictObjects = [
      'image',
      'audit',
      'checkpoint',
      'config',
      'credentials',
      'service',
      'serviceMonitor',
    ];
    for (const key of [...strictObjects, 'serviceAccount', 'networkPolicy', 'dashboard', 'tests']) {
      expect(property(SCHEMA, key).additionalProperties, key).toBe(false);
    }
    expect(SCHEMA.additionalProperties).toBe(false);
  });
});

describe('values.schema.json follows the forwarder config schema (src/config/schema.ts)', () => {
  const config = property(SCHEMA, 'config');

  it('lets users set every top-level key except those the chart derives from the pod layout', () => {
    expect(keysOf(config)).toEqual(shapeKeys(configSchema, 'node', 'state', 'status'));
  });

  it('mirrors source (except path), batch, delivery and retry key for key', () => {
    expect(keysOf(property(config, 'source'))).toEqual(shapeKeys(sourceSchema, 'path'));
    expect(keysOf(property(config, 'batch'))).toEqual(shapeKeys(batchSchema));
    expect(keysOf(property(config, 'delivery'))).toEqual(shapeKeys(deliverySchema));
    expect(keysOf(property(config, 'delivery', 'retry'))).toEqual(shapeKeys(retrySchema));
  });

  it('has the same enums as the forwarder', () => {
    const options = (schema: unknown): string[] =>
      [...(schema as { unwrap(): { options: string[] } }).unwrap().options].sort();
    expect([...(property(config, 'logLevel').enum ?? [])].sort()).toEqual(
      options(configSchema.shape.logLevel),
    );
    expect([...(property(config, 'source', 'startAt').enum ?? [])].sort()).toEqual(
      options(sourceSchema.shape.startAt),
    );
    const checkpoint = (configSchema.shape.checkpoint as unknown as { unwrap(): z.ZodObject }).unwrap();
    expect(keysOf(property(config, 'checkpoint'))).toEqual(shapeKeys(checkpoint));
    expect([...(property(config, 'checkpoint', 'onCorrupt').enum ?? [])].sort()).toEqual(
      options(checkpoint.shape.onCorrupt),
    );
  });

  it('allows every sink type the forwarder implements, and mirrors the file and stdout sinks key for key', () => {
    const sinkItems = property(config, 'sinks').items ?? {};
    const types = sinkSchema.options.map((option) => option.shape.type.value as string);
    expect(property(sinkItems, 'type').enum).toEqual(expect.arrayContaining(types));
    const strictFor = (type: string): string[] =>
      keysOf(sinkItems.allOf?.find((rule) => rule.if.properties?.type?.const === type)?.then ?? {});
    expect(strictFor('file')).toEqual(shapeKeys(fileSinkSchema));
    expect(strictFor('stdout')).toEqual(shapeKeys(stdoutSinkSchema));
    expect(property(sinkItems, 'name').pattern).toBe(
      (z.toJSONSchema(fileSinkSchema.shape.name) as { pattern?: string }).pattern,
    );
  });
});
