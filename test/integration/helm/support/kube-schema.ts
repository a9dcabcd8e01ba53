// Offline stand-in for kubeconform -strict: kubernetes-models (the Kubernetes OpenAPI schemas compiled with ajv:
// types, enums, required fields) plus a walk over @kubernetes/client-node's attributeTypeMap, which knows every
// field of every built-in type and so catches misspelt ones (kubernetes-models ignores unknown fields).
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { K8sObject } from './render.ts';

interface Attribute {
  readonly baseName: string;
  readonly type: string;
}
type ModelClasses = Readonly<
  Record<string, { readonly attributeTypeMap?: readonly Attribute[] } | undefined>
>;
type ModelConstructor = new (data: unknown) => { validate(): void };

export interface KubeValidator {
  /** Every problem found in the object; empty when it is valid. */
  problems(object: K8sObject): Promise<string[]>;
}

export async function loadKubeValidator(modules: string): Promise<KubeValidator> {
  const classes = (await import(
    pathToFileURL(join(modules, '@kubernetes', 'client-node', 'dist', 'gen', 'models', 'all.js')).href
  )) as ModelClasses;

  async function modelFor(object: K8sObject): Promise<ModelConstructor> {
    const file = object.apiVersion.startsWith('monitoring.coreos.com/')
      ? join(modules, '@kubernetes-models', 'prometheus-operator', object.apiVersion, `${object.kind}.js`)
      : join(modules, 'kubernetes-models', object.apiVersion, `${object.kind}.js`);
    const module = (await import(pathToFileURL(file).href)) as Record<string, ModelConstructor | undefined>;
    const model = module[object.kind];
    if (model === undefined) throw new Error(`no model for ${object.apiVersion} ${object.kind}`);
    return model;
  }

  return {
    async problems(object) {
      const problems: string[] = [];
      try {
        new (await modelFor(object))(object).validate();
      } catch (error) {
        problems.push(error instanceof Error ? error.message : String(error));
      }
      const version = object.apiVersion.split('/').at(-1) ?? '';
      const className = `${version.charAt(0).toUpperCase()}${version.slice(1)}${object.kind}`;
      if (classes[className] !== undefined) walk(object, className, object.kind, problems, classes);
      return problems;
    },
  };
}

function walk(value: unknown, type: string, path: string, problems: string[], classes: ModelClasses): void {
  if (value === null || value === undefined) return;
  const arrayOf = /^Array<(.+)>$/.exec(type)?.[1];
  if (arrayOf !== undefined) {
    if (Array.isArray(value)) {
      value.forEach((item: unknown, index) => {
        walk(item, arrayOf, `${path}[${index}]`, problems, classes);
      });
    }
    return;
  }
  const mapOf = /^\{ \[key: string\]: (.+); \}$/.exec(type)?.[1];
  if (mapOf !== undefined) {
    if (typeof value === 'object') {
      for (const [key, item] of Object.entries(value)) walk(item, mapOf, `${path}.${key}`, problems, classes);
    }
    return;
  }
  const attributes = classes[type]?.attributeTypeMap;
  if (attributes === undefined) return; // string, number, boolean, IntOrString, Date, any
  if (typeof value !== 'object' || Array.isArray(value)) {
    problems.push(`${path}: expected an object (${type})`);
    return;
  }
  const fields = new Map(attributes.map((attribute) => [attribute.baseName, attribute.type]));
  for (const [key, item] of Object.entries(value)) {
    const fieldType = fields.get(key);
    if (fieldType === undefined) problems.push(`${path}.${key}: unknown field of ${type}`);
    else walk(item, fieldType, `${path}.${key}`, problems, classes);
  }
}
