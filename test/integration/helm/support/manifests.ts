// Typed views of the rendered objects the tests look into: the DaemonSet's pod, the forwarder container, the
// forwarder config inside the ConfigMap, and the environment the container would get.
import { parse } from 'yaml';
import { findObject, type K8sObject } from './render.ts';

export interface EnvVar {
  readonly name: string;
  readonly value?: string;
  readonly valueFrom?: {
    readonly fieldRef?: { readonly fieldPath: string };
    readonly secretKeyRef?: { readonly name: string; readonly key: string };
  };
}

export interface VolumeMount {
  readonly name: string;
  readonly mountPath: string;
  readonly readOnly?: boolean;
}

export interface Volume {
  readonly name: string;
  readonly hostPath?: { readonly path: string; readonly type?: string };
  readonly configMap?: { readonly name: string };
  readonly secret?: { readonly secretName: string; readonly defaultMode?: number };
  readonly emptyDir?: { readonly medium?: string; readonly sizeLimit?: string };
}

export interface Probe {
  readonly httpGet?: { readonly path: string; readonly port: string | number };
}

export interface Container {
  readonly name: string;
  readonly image: string;
  readonly args?: readonly string[];
  readonly command?: readonly string[];
  readonly env?: readonly EnvVar[];
  readonly ports?: readonly { readonly name?: string; readonly containerPort: number }[];
  readonly securityContext?: Readonly<Record<string, unknown>> & {
    readonly capabilities?: { readonly drop?: readonly string[]; readonly add?: readonly string[] };
  };
  readonly volumeMounts?: readonly VolumeMount[];
  readonly livenessProbe?: Probe;
  readonly readinessProbe?: Probe;
  readonly resources?: {
    readonly limits?: Readonly<Record<string, string>>;
    readonly requests?: Readonly<Record<string, string>>;
  };
}

export interface Toleration {
  readonly key?: string;
  readonly operator?: string;
  readonly effect?: string;
}

export interface NodeSelectorTerm {
  readonly matchExpressions?: readonly { readonly key: string; readonly operator: string }[];
}

export interface PodSpec {
  readonly serviceAccountName?: string;
  readonly automountServiceAccountToken?: boolean;
  readonly priorityClassName?: string;
  readonly terminationGracePeriodSeconds?: number;
  readonly hostNetwork?: boolean;
  readonly hostUsers?: boolean;
  readonly dnsPolicy?: string;
  readonly securityContext?: Readonly<Record<string, unknown>> & {
    readonly seccompProfile?: { readonly type: string };
  };
  readonly nodeSelector?: Readonly<Record<string, string>>;
  readonly affinity?: {
    readonly nodeAffinity?: {
      readonly requiredDuringSchedulingIgnoredDuringExecution?: {
        readonly nodeSelectorTerms: readonly NodeSelectorTerm[];
      };
    };
  };
  readonly tolerations?: readonly Toleration[];
  readonly containers: readonly Container[];
  readonly volumes?: readonly Volume[];
}

export interface PodTemplate {
  readonly metadata: {
    readonly labels?: Record<string, string>;
    readonly annotations?: Record<string, string>;
  };
  readonly spec: PodSpec;
}

export interface DaemonSetSpec {
  readonly selector: { readonly matchLabels: Readonly<Record<string, string>> };
  readonly updateStrategy?: {
    readonly type: string;
    readonly rollingUpdate?: { readonly maxUnavailable?: number };
  };
  readonly template: PodTemplate;
}

export function daemonSetSpec(objects: readonly K8sObject[]): DaemonSetSpec {
  return findObject(objects, 'DaemonSet').spec as DaemonSetSpec;
}

export function podSpec(objects: readonly K8sObject[]): PodSpec {
  return daemonSetSpec(objects).template.spec;
}

export function forwarder(objects: readonly K8sObject[]): Container {
  const container = podSpec(objects).containers.find((candidate) => candidate.name === 'forwarder');
  if (container === undefined) throw new Error('no forwarder container');
  return container;
}

export function volume(objects: readonly K8sObject[], name: string): Volume {
  const found = podSpec(objects).volumes?.find((candidate) => candidate.name === name);
  if (found === undefined) throw new Error(`no volume ${name}`);
  return found;
}

export function mount(objects: readonly K8sObject[], name: string): VolumeMount {
  const found = forwarder(objects).volumeMounts?.find((candidate) => candidate.name === name);
  if (found === undefined) throw new Error(`no volume mount ${name}`);
  return found;
}

/** The forwarder.yaml text of the config ConfigMap. */
export function configText(objects: readonly K8sObject[]): string {
  const configMap = objects.find(
    (object) =>
      object.kind === 'ConfigMap' && (object.data as Record<string, string> | undefined)?.['forwarder.yaml'],
  );
  if (configMap === undefined) throw new Error('no ConfigMap with forwarder.yaml');
  return (configMap.data as Record<string, string>)['forwarder.yaml'] ?? '';
}

export interface RenderedConfig {
  readonly cluster: string;
  readonly node: string;
  readonly source: { readonly path: string } & Readonly<Record<string, unknown>>;
  readonly state: { readonly dir: string };
  readonly status: { readonly listen: string };
  readonly delivery?: { readonly shutdownTimeoutMs?: number };
  readonly sinks: readonly ({
    readonly name: string;
    readonly type: string;
    readonly path?: string;
  } & Readonly<Record<string, unknown>>)[];
  readonly [key: string]: unknown;
}

export function renderedConfig(objects: readonly K8sObject[]): RenderedConfig {
  return parse(configText(objects)) as RenderedConfig;
}

/** Data of the Secret the chart created, decoded; empty when it created none. */
export function createdSecretData(objects: readonly K8sObject[]): Record<string, string> {
  const secret = objects.find((object) => object.kind === 'Secret');
  const data = (secret?.data ?? {}) as Record<string, string>;
  return Object.fromEntries(
    Object.entries(data).map(([key, value]) => [key, Buffer.from(value, 'base64').toString()]),
  );
}

/**
 * The environment the forwarder container would start with: literal values, the node name from the downward
 * API, and Secret keys (the created Secret's values, or a placeholder naming the key of an existing Secret).
 */
export function simulatedEnv(objects: readonly K8sObject[], nodeName = 'cp-1'): Record<string, string> {
  const secretData = createdSecretData(objects);
  const env: Record<string, string> = {};
  for (const variable of forwarder(objects).env ?? []) {
    if (variable.value !== undefined) env[variable.name] = variable.value;
    else if (variable.valueFrom?.fieldRef?.fieldPath === 'spec.nodeName') env[variable.name] = nodeName;
    else if (variable.valueFrom?.secretKeyRef) {
      const { name, key } = variable.valueFrom.secretKeyRef;
      env[variable.name] = secretData[key] ?? `placeholder-from-secret-${name}-${key}`;
    }
  }
  return env;
}

/** Names of the ${VAR} references in a config text ("$$" is a literal "$"). */
export function envReferences(text: string): string[] {
  const names = [...text.replaceAll('$$', '').matchAll(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g)].map(
    (match) => match[1] ?? '',
  );
  return [...new Set(names)].sort();
}
