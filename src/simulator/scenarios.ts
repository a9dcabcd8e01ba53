// What the simulated cluster does: a weighted mix of request kinds (kubelet lease renewals,
// controller updates, watches, admin kubectl sessions, anonymous probes...), each producing a
// RequestPlan that the generator turns into one line per audit stage.
import type { AuditLevel, SimObjectRef, SimStatus, SimUserInfo } from './audit-types.ts';
import type { StoredConfigMap, StoredObject, StoredPod } from './bodies.ts';
import type { Catalog, Identity, NodeIdentity } from './catalog.ts';
import type { GoJsonEncoder } from './go-json.ts';
import type { LargeBody, LargeBodies } from './large-bodies.ts';
import { type Prng, WeightedChoice } from './prng.ts';
import {
  alreadyExists,
  conflict,
  forbidden,
  formatGoDuration,
  notFound,
  okStatus,
  PANIC_STATUS,
  sortedAnnotations,
} from './statuses.ts';

/** One API request, fully decided; the generator emits its stages from it. */
export interface RequestPlan {
  readonly level: AuditLevel;
  readonly verb: string;
  readonly requestURI: string;
  readonly identity: Identity;
  readonly impersonatedUser?: SimUserInfo;
  readonly objectRef?: SimObjectRef;
  /** Status of the final stage (ResponseComplete, or Panic when `panicked`). */
  readonly status: SimStatus;
  readonly requestObject?: object;
  readonly responseObject?: object;
  /** Annotations of the response stages; RequestReceived has none (authorization runs after it). */
  readonly annotations: Readonly<Record<string, string>>;
  /** Watch, exec: a ResponseStarted event precedes ResponseComplete. */
  readonly longRunning: boolean;
  readonly panicked: boolean;
  /** Time from RequestReceived to the final stage. */
  readonly durationMicros: number;
}

/** What scenarios draw from; owned by one generator. */
export interface ScenarioContext {
  readonly rng: Prng;
  readonly catalog: Catalog;
  readonly pods: readonly StoredPod[];
  readonly deployments: readonly StoredObject[];
  readonly configMaps: readonly StoredConfigMap[];
  readonly large: LargeBodies;
  readonly nextResourceVersion: () => string;
  /** MicroTime text of the request's arrival, for bodies that carry timestamps (leases, events). */
  readonly formatTime: (epochMicros: number) => string;
  readonly encoder: GoJsonEncoder;
  /** Interned annotation maps that only hold the authorization decision, by decision and reason. */
  readonly authorizationAnnotations: Map<string, Readonly<Record<string, string>>>;
}

/** A request before the policy and authorization decisions are applied. */
interface Draft {
  identity: Identity;
  verb: string;
  objectRef?: SimObjectRef;
  /** Non-resource URL, or a query string appended to the resource path. */
  path?: string;
  query?: string;
  status: SimStatus;
  level: AuditLevel;
  requestObject?: object;
  responseObject?: object;
  extraAnnotations?: (readonly [string, string])[];
  allowReason?: string;
  impersonatedUser?: SimUserInfo;
  longRunning?: boolean;
  durationMicros: number;
}

type Scenario = (ctx: ScenarioContext, nowMicros: number) => Draft;

type MutableRef = { -readonly [K in keyof SimObjectRef]: SimObjectRef[K] };

/** An objectRef in Go field order, with absent fields omitted rather than undefined. */
function ref(
  resource: string,
  group: string | undefined,
  version: string,
  namespace?: string,
  name?: string,
  subresource?: string,
): SimObjectRef {
  const out: MutableRef = { resource };
  if (namespace !== undefined) out.namespace = namespace;
  if (name !== undefined) out.name = name;
  if (group !== undefined) out.apiGroup = group;
  out.apiVersion = version;
  if (subresource !== undefined) out.subresource = subresource;
  return out;
}

/** The REST path the request was made to, derived from its objectRef. */
function resourcePath(r: SimObjectRef): string {
  let path =
    r.apiGroup === undefined ? `/api/${r.apiVersion ?? 'v1'}` : `/apis/${r.apiGroup}/${r.apiVersion ?? 'v1'}`;
  if (r.namespace !== undefined && r.resource !== 'namespaces') path += `/namespaces/${r.namespace}`;
  path += `/${r.resource}`;
  if (r.name !== undefined) path += `/${r.name}`;
  if (r.subresource !== undefined) path += `/${r.subresource}`;
  return path;
}

const ms = (value: number): number => Math.round(value * 1000);

/** Usual policy: bodies for some writes, rarely for reads, never for secrets or token reviews. */
function policyLevel(rng: Prng, verb: string, resource: string): AuditLevel {
  if (resource === 'secrets' || resource === 'tokenreviews' || resource === 'leases') return 'Metadata';
  const isWrite = verb === 'create' || verb === 'update' || verb === 'patch' || verb === 'delete';
  const roll = rng.float();
  if (isWrite) return roll < 0.2 ? 'RequestResponse' : roll < 0.4 ? 'Request' : 'Metadata';
  return roll < 0.03 ? 'RequestResponse' : 'Metadata';
}

function watchQuery(ctx: ScenarioContext, fieldSelector?: string): string {
  const timeoutSeconds = ctx.rng.between(300, 599);
  const selector = fieldSelector === undefined ? '' : `&fieldSelector=${fieldSelector}`;
  return `allowWatchBookmarks=true${selector}&resourceVersion=${ctx.nextResourceVersion()}&timeout=${timeoutSeconds}s&timeoutSeconds=${timeoutSeconds}&watch=true`;
}

const kubeletLease: Scenario = (ctx, now) => {
  const node = ctx.rng.pick(ctx.catalog.nodes);
  const verb = ctx.rng.chance(0.9) ? 'update' : 'get';
  return {
    identity: node,
    verb,
    objectRef: ref('leases', 'coordination.k8s.io', 'v1', 'kube-node-lease', node.nodeName),
    query: 'timeout=10s',
    status: okStatus(200),
    level: 'Metadata',
    requestObject: {
      kind: 'Lease',
      apiVersion: 'coordination.k8s.io/v1',
      metadata: { name: node.nodeName, namespace: 'kube-node-lease' },
      spec: { holderIdentity: node.nodeName, leaseDurationSeconds: 40, renewTime: ctx.formatTime(now) },
    },
    durationMicros: ms(1 + ctx.rng.float() * 5),
  };
};

const leaderElection: Scenario = (ctx) => {
  const { rng, catalog } = ctx;
  // Every controller and operator renews its leader-election lease every few seconds.
  const roll = rng.int(catalog.operators.length + 2);
  const operator = catalog.operators[roll];
  const [identity, namespace, lease] =
    operator === undefined
      ? roll === catalog.operators.length
        ? [catalog.scheduler, 'kube-system', 'kube-scheduler']
        : [catalog.controllerManager, 'kube-system', 'kube-controller-manager']
      : [
          operator,
          operator.namespace ?? 'default',
          `${operator.user.username.split(':').pop() ?? 'operator'}-leader`,
        ];
  const verb = rng.chance(0.5) ? 'update' : 'get';
  const objectRef = ref('leases', 'coordination.k8s.io', 'v1', namespace, lease);
  return {
    identity,
    verb,
    objectRef,
    query: 'timeout=5s',
    status: verb === 'update' && rng.chance(0.02) ? conflict(objectRef) : okStatus(200),
    level: 'Metadata',
    durationMicros: ms(1 + rng.float() * 4),
  };
};

const nodeStatusPatch: Scenario = (ctx, now) => {
  const node = ctx.rng.pick(ctx.catalog.nodes);
  const heartbeat = ctx.formatTime(now).replace(/\.\d+Z$/, 'Z');
  const types = ['MemoryPressure', 'DiskPressure', 'PIDPressure', 'Ready'];
  return {
    identity: node,
    verb: 'patch',
    objectRef: ref('nodes', undefined, 'v1', undefined, node.nodeName, 'status'),
    query: 'timeout=10s',
    status: okStatus(200),
    level: ctx.rng.chance(0.3) ? 'Request' : 'Metadata',
    // A strategic-merge patch: "$setElementOrder/conditions" is another key that upsets mappings.
    requestObject: {
      status: {
        '$setElementOrder/conditions': types.map((type) => ({ type })),
        conditions: types.map((type) => ({ lastHeartbeatTime: heartbeat, type })),
      },
    },
    durationMicros: ms(3 + ctx.rng.float() * 10),
  };
};

const kubeletGet: Scenario = (ctx) => {
  const { rng } = ctx;
  const node = rng.pick(ctx.catalog.nodes);
  if (rng.chance(0.4)) {
    return {
      identity: node,
      verb: 'get',
      objectRef: ref('nodes', undefined, 'v1', undefined, node.nodeName),
      query: 'resourceVersion=0&timeout=10s',
      status: okStatus(200),
      level: 'Metadata',
      durationMicros: ms(0.4 + rng.float() * 2),
    };
  }
  const pod = rng.pick(ctx.pods);
  const objectRef = ref('pods', undefined, 'v1', pod.namespace, pod.name);
  const missing = rng.chance(0.06);
  return {
    identity: node,
    verb: 'get',
    objectRef,
    status: missing ? notFound(objectRef) : okStatus(200),
    level: policyLevel(rng, 'get', 'pods'),
    ...(missing ? {} : { responseObject: pod.body }),
    durationMicros: ms(0.5 + rng.float() * 3),
  };
};

const watch: Scenario = (ctx) => {
  const { rng, catalog } = ctx;
  const roll = rng.float();
  let identity: Identity;
  let objectRef: SimObjectRef;
  let query: string;
  if (roll < 0.4) {
    // Kubelets watch exactly the secrets and configmaps their pods mount.
    const node: NodeIdentity = rng.pick(catalog.nodes);
    const object = rng.pick(ctx.configMaps);
    identity = node;
    const resource = rng.chance(0.5) ? 'configmaps' : 'secrets';
    objectRef = ref(resource, undefined, 'v1', object.namespace);
    query = watchQuery(ctx, `metadata.name%3D${object.name}`);
  } else {
    identity = rng.chance(0.5) ? rng.pick(catalog.operators) : rng.pick(catalog.controllers);
    const [resource, group, version] = rng.pick([
      ['pods', undefined, 'v1'],
      ['configmaps', undefined, 'v1'],
      ['endpointslices', 'discovery.k8s.io', 'v1'],
      ['deployments', 'apps', 'v1'],
      ['ingresses', 'networking.k8s.io', 'v1'],
      ['certificates', 'cert-manager.io', 'v1'],
    ] as const);
    objectRef = ref(resource, group, version, rng.chance(0.5) ? rng.pick(catalog.namespaces) : undefined);
    query = watchQuery(ctx);
  }
  const timeoutSeconds = Number(/timeoutSeconds=(\d+)/.exec(query)?.[1] ?? '300');
  return {
    identity,
    verb: 'watch',
    objectRef,
    query,
    status: okStatus(200),
    level: 'Metadata',
    longRunning: true,
    durationMicros: timeoutSeconds * 1_000_000 + rng.int(2_000_000),
  };
};

const list: Scenario = (ctx) => {
  const { rng, catalog } = ctx;
  const identity = rng.chance(0.6) ? rng.pick(catalog.operators) : rng.pick(catalog.controllers);
  const [resource, group] = rng.pick([
    ['pods', undefined],
    ['services', undefined],
    ['nodes', undefined],
    ['replicasets', 'apps'],
    ['networkpolicies', 'networking.k8s.io'],
  ] as const);
  const namespace = resource === 'nodes' || rng.chance(0.5) ? undefined : rng.pick(catalog.namespaces);
  return {
    identity,
    verb: 'list',
    objectRef: ref(resource, group, 'v1', namespace),
    query: rng.chance(0.5) ? 'limit=500&resourceVersion=0' : 'limit=500',
    status: okStatus(200),
    level: 'Metadata',
    durationMicros: ms(4 + rng.exponential(30)),
  };
};

const createEvent: Scenario = (ctx, now) => {
  const { rng } = ctx;
  const pod = rng.pick(ctx.pods);
  const node =
    ctx.catalog.nodes.find((candidate) => candidate.nodeName === pod.nodeName) ?? ctx.catalog.nodes[0];
  const fromKubelet = node !== undefined && rng.chance(0.5);
  const identity = fromKubelet ? node : rng.pick(ctx.catalog.controllers);
  const name = `${pod.name}.${rng.hex(16)}`;
  const [reason, note] = rng.pick([
    [
      'Pulled',
      `Successfully pulled image "${pod.name.split('-')[0] ?? 'app'}:latest" in 1.2s (1.2s including waiting). Image size: 52345678 bytes.`,
    ],
    ['Unhealthy', 'Readiness probe failed: HTTP probe failed with statuscode: 503'],
    ['BackOff', 'Back-off restarting failed container app in pod <unknown> & retrying'],
    ['Started', 'Started container app'],
  ] as const);
  return {
    identity,
    verb: 'create',
    objectRef: ref('events', 'events.k8s.io', 'v1', pod.namespace, name),
    path: `/apis/events.k8s.io/v1/namespaces/${pod.namespace}/events`,
    status: okStatus(201),
    level: rng.chance(0.4) ? 'Request' : 'Metadata',
    requestObject: {
      kind: 'Event',
      apiVersion: 'events.k8s.io/v1',
      metadata: { name, namespace: pod.namespace, creationTimestamp: null },
      eventTime: ctx.formatTime(now),
      reportingController: fromKubelet ? 'kubelet' : 'replicaset-controller',
      reportingInstance: fromKubelet ? pod.nodeName : 'kube-controller-manager',
      action: reason === 'Pulled' ? 'Pulling' : 'Probing',
      reason,
      regarding: {
        kind: 'Pod',
        namespace: pod.namespace,
        name: pod.name,
        uid: pod.uid,
        apiVersion: 'v1',
        resourceVersion: pod.resourceVersion,
        fieldPath: 'spec.containers{app}',
      },
      note,
      type: reason === 'Unhealthy' || reason === 'BackOff' ? 'Warning' : 'Normal',
    },
    durationMicros: ms(2 + rng.float() * 6),
  };
};

const controllerUpdate: Scenario = (ctx) => {
  const { rng, catalog } = ctx;
  const deployment = rng.pick(ctx.deployments);
  const [controllerIndex, objectRef] = rng.pick([
    [1, ref('deployments', 'apps', 'v1', deployment.namespace, deployment.name, 'status')],
    [
      0,
      ref(
        'replicasets',
        'apps',
        'v1',
        deployment.namespace,
        `${deployment.name}-${rng.suffix(10)}`,
        'status',
      ),
    ],
    [
      2,
      ref(
        'endpointslices',
        'discovery.k8s.io',
        'v1',
        deployment.namespace,
        `${deployment.name}-${rng.suffix(5)}`,
      ),
    ],
  ] as const);
  const identity = catalog.controllers[controllerIndex] ?? rng.pick(catalog.controllers);
  const conflicted = rng.chance(0.06);
  const level = policyLevel(rng, 'update', objectRef.resource);
  const withBody = objectRef.resource === 'deployments';
  return {
    identity,
    verb: 'update',
    objectRef,
    query: 'timeout=10s',
    status: conflicted ? conflict(objectRef) : okStatus(200),
    level: withBody ? level : 'Metadata',
    ...(withBody ? { requestObject: deployment.body } : {}),
    ...(withBody && !conflicted ? { responseObject: deployment.body } : {}),
    durationMicros: ms(2 + rng.float() * 8),
  };
};

const operatorReconcile: Scenario = (ctx) => {
  const { rng, catalog } = ctx;
  const identity = rng.pick(catalog.operators);
  const namespace = identity.namespace ?? 'default';
  const [resource, group, version, name, verb, subresource] = rng.pick([
    ['configmaps', undefined, 'v1', `${namespace}-settings`, 'get', undefined],
    ['secrets', undefined, 'v1', `${namespace}-tls`, 'get', undefined],
    ['certificates', 'cert-manager.io', 'v1', `${rng.pick(catalog.workloads).app}-tls`, 'patch', 'status'],
    ['applications', 'argoproj.io', 'v1alpha1', rng.pick(catalog.workloads).app, 'patch', undefined],
    ['ingresses', 'networking.k8s.io', 'v1', rng.pick(catalog.workloads).app, 'get', undefined],
    ['servicemonitors', 'monitoring.coreos.com', 'v1', rng.pick(catalog.workloads).app, 'get', undefined],
  ] as const);
  const objectRef = ref(resource, group, version, namespace, name, subresource);
  const missing = verb === 'get' && rng.chance(0.04);
  return {
    identity,
    verb,
    objectRef,
    ...(verb === 'patch' ? { query: 'fieldManager=controller' } : {}),
    status: missing
      ? notFound(objectRef)
      : verb === 'patch' && rng.chance(0.03)
        ? conflict(objectRef)
        : okStatus(200),
    level: policyLevel(rng, verb, resource),
    ...(verb === 'patch'
      ? {
          requestObject: {
            status: {
              conditions: [
                { type: 'Ready', status: 'True', reason: 'Reconciled', message: 'Synced & healthy' },
              ],
              observedGeneration: rng.between(1, 40),
            },
          },
        }
      : {}),
    durationMicros: ms(1 + rng.exponential(4)),
  };
};

const podCreate: Scenario = (ctx) => {
  const { rng, catalog } = ctx;
  const pod = rng.pick(ctx.pods);
  const objectRef = ref('pods', undefined, 'v1', pod.namespace, pod.name);
  const rejected = rng.chance(0.03);
  const annotations: (readonly [string, string])[] = [
    ['pod-security.kubernetes.io/enforce-policy', 'baseline:latest'],
  ];
  if (rng.chance(0.3)) {
    annotations.push([
      'pod-security.kubernetes.io/audit-violations',
      'would violate PodSecurity "restricted:latest": allowPrivilegeEscalation != false (container "app" must set securityContext.allowPrivilegeEscalation=false), runAsNonRoot != true (pod or container "app" must set securityContext.runAsNonRoot=true)',
    ]);
  }
  if (rng.chance(0.3)) {
    annotations.push(
      [
        'mutation.webhook.admission.k8s.io/round_0_index_0',
        '{"configuration":"istio-sidecar-injector","webhook":"rev.namespace.sidecar-injector.istio.io","mutated":true}',
      ],
      [
        'patch.webhook.admission.k8s.io/round_0_index_0',
        '{"configuration":"istio-sidecar-injector","webhook":"rev.namespace.sidecar-injector.istio.io","patch":[{"op":"add","path":"/metadata/labels/security.istio.io~1tlsMode","value":"istio"}],"patchType":"JSONPatch"}',
      ],
    );
  }
  const status: SimStatus = rejected
    ? {
        metadata: {},
        status: 'Failure',
        message: `pods "${pod.name}" is forbidden: violates PodSecurity "baseline:latest": privileged (container "app" must not set securityContext.privileged=true)`,
        reason: 'Forbidden',
        details: { name: pod.name, kind: 'pods' },
        code: 403,
      }
    : okStatus(201);
  return {
    identity: catalog.controllers[0] ?? rng.pick(catalog.controllers),
    verb: 'create',
    objectRef,
    path: `/api/v1/namespaces/${pod.namespace}/pods`,
    status,
    level: policyLevel(rng, 'create', 'pods'),
    requestObject: pod.createBody,
    ...(rejected ? {} : { responseObject: pod.body }),
    extraAnnotations: annotations,
    durationMicros: ms(5 + rng.float() * 20),
  };
};

const schedulerBinding: Scenario = (ctx) => {
  const { rng, catalog } = ctx;
  const pod = rng.pick(ctx.pods);
  return {
    identity: catalog.scheduler,
    verb: 'create',
    objectRef: ref('pods', undefined, 'v1', pod.namespace, pod.name, 'binding'),
    status: okStatus(201),
    level: rng.chance(0.3) ? 'Request' : 'Metadata',
    requestObject: {
      kind: 'Binding',
      apiVersion: 'v1',
      metadata: { name: pod.name, namespace: pod.namespace, uid: pod.uid, creationTimestamp: null },
      target: { kind: 'Node', name: pod.nodeName },
    },
    durationMicros: ms(3 + rng.float() * 6),
  };
};

const scrape: Scenario = (ctx) => {
  const prometheus = ctx.catalog.operators[0] ?? ctx.rng.pick(ctx.catalog.operators);
  return {
    identity: prometheus,
    verb: 'get',
    path: '/metrics',
    status: okStatus(200),
    level: 'Metadata',
    durationMicros: ms(20 + ctx.rng.exponential(40)),
  };
};

const anonymousProbe: Scenario = (ctx) => {
  const { rng, catalog } = ctx;
  const identity = rng.pick(catalog.anonymous);
  if (rng.chance(0.05)) {
    const objectRef = ref('secrets', undefined, 'v1', 'kube-system');
    return {
      identity,
      verb: 'list',
      objectRef,
      status: forbidden(objectRef, identity.user.username, 'list'),
      level: 'Metadata',
      durationMicros: ms(0.3 + rng.float()),
    };
  }
  return {
    identity,
    verb: 'get',
    path: rng.pick(['/healthz', '/livez', '/readyz', '/readyz?verbose', '/version']),
    status: okStatus(200),
    level: 'Metadata',
    durationMicros: ms(0.2 + rng.float()),
  };
};

const reviews: Scenario = (ctx) => {
  const { rng, catalog } = ctx;
  const identity = rng.pick(catalog.operators);
  if (rng.chance(0.5)) {
    return {
      identity,
      verb: 'create',
      objectRef: ref('tokenreviews', 'authentication.k8s.io', 'v1'),
      status: okStatus(201),
      level: 'Metadata',
      durationMicros: ms(1 + rng.float() * 3),
    };
  }
  return {
    identity,
    verb: 'create',
    objectRef: ref('subjectaccessreviews', 'authorization.k8s.io', 'v1'),
    status: okStatus(201),
    level: rng.chance(0.3) ? 'Request' : 'Metadata',
    requestObject: {
      kind: 'SubjectAccessReview',
      apiVersion: 'authorization.k8s.io/v1',
      metadata: { creationTimestamp: null },
      spec: {
        resourceAttributes: { namespace: 'monitoring', verb: 'get', resource: 'pods' },
        user: 'system:serviceaccount:monitoring:prometheus-k8s',
        groups: ['system:serviceaccounts', 'system:serviceaccounts:monitoring', 'system:authenticated'],
      },
      status: { allowed: false },
    },
    durationMicros: ms(1 + rng.float() * 3),
  };
};

const forbiddenServiceAccount: Scenario = (ctx) => {
  const identity = ctx.rng.pick(ctx.catalog.operators);
  const objectRef = ref('secrets', undefined, 'v1');
  return {
    identity,
    verb: 'list',
    objectRef,
    query: 'limit=500&resourceVersion=0',
    status: forbidden(objectRef, identity.user.username, 'list'),
    level: 'Metadata',
    durationMicros: ms(0.5 + ctx.rng.float()),
  };
};

const adminSession: Scenario = (ctx) => {
  const { rng, catalog } = ctx;
  const admin = rng.pick(catalog.admins);
  const pod = rng.pick(ctx.pods);
  const action = rng.int(9);
  switch (action) {
    case 0:
      return {
        identity: admin,
        verb: 'get',
        path: rng.pick(['/api?timeout=32s', '/apis?timeout=32s', '/openapi/v3?timeout=32s']),
        status: okStatus(200),
        level: 'Metadata',
        durationMicros: ms(1 + rng.float() * 10),
      };
    case 1: {
      const objectRef = ref('pods', undefined, 'v1', pod.namespace);
      return {
        identity: admin,
        verb: 'list',
        objectRef,
        query: 'limit=500',
        status: okStatus(200),
        level: 'Metadata',
        durationMicros: ms(5 + rng.exponential(20)),
      };
    }
    case 2: {
      const secret = rng.pick(ctx.configMaps);
      const objectRef = ref('secrets', undefined, 'v1', secret.namespace, `${secret.name}-credentials`);
      return {
        identity: admin,
        verb: 'get',
        objectRef,
        status: rng.chance(0.3) ? notFound(objectRef) : okStatus(200),
        level: 'Metadata',
        durationMicros: ms(0.5 + rng.float() * 2),
      };
    }
    case 3:
      return {
        identity: admin,
        verb: 'delete',
        objectRef: ref('pods', undefined, 'v1', pod.namespace, pod.name),
        status: okStatus(200),
        level: policyLevel(rng, 'delete', 'pods'),
        requestObject: { kind: 'DeleteOptions', apiVersion: 'v1', propagationPolicy: 'Background' },
        responseObject: pod.body,
        durationMicros: ms(5 + rng.float() * 15),
      };
    case 4: {
      const deployment = rng.pick(ctx.deployments);
      const lastApplied = (deployment.body as { metadata: { annotations: Record<string, string> } }).metadata
        .annotations['kubectl.kubernetes.io/last-applied-configuration'];
      return {
        identity: admin,
        verb: 'patch',
        objectRef: ref('deployments', 'apps', 'v1', deployment.namespace, deployment.name),
        query: 'fieldManager=kubectl-client-side-apply&fieldValidation=Strict',
        status: okStatus(200),
        level: rng.chance(0.5) ? 'RequestResponse' : 'Metadata',
        requestObject: {
          metadata: { annotations: { 'kubectl.kubernetes.io/last-applied-configuration': lastApplied } },
        },
        responseObject: deployment.body,
        durationMicros: ms(5 + rng.float() * 20),
      };
    }
    case 5: {
      const configMap = rng.pick(ctx.configMaps);
      const objectRef = ref('configmaps', undefined, 'v1', configMap.namespace, configMap.name);
      const exists = rng.chance(0.25);
      return {
        identity: admin,
        verb: 'create',
        objectRef,
        path: `/api/v1/namespaces/${configMap.namespace}/configmaps`,
        query: 'fieldManager=kubectl-create&fieldValidation=Strict',
        status: exists ? alreadyExists(objectRef) : okStatus(201),
        level: rng.chance(0.6) ? 'RequestResponse' : 'Request',
        requestObject: configMap.createBody,
        ...(exists ? {} : { responseObject: configMap.body }),
        durationMicros: ms(3 + rng.float() * 10),
      };
    }
    case 6: {
      // kubectl exec: a long-running upgrade; latency annotations appear because it takes > 500 ms.
      const command = rng.pick([
        'command=%2Fbin%2Fsh&command=-c&command=cat+%2Fetc%2Fos-release',
        'command=%2Fbin%2Fbash',
        'command=env',
      ]);
      return {
        identity: admin,
        verb: rng.chance(0.5) ? 'create' : 'get',
        objectRef: ref('pods', undefined, 'v1', pod.namespace, pod.name, 'exec'),
        query: `${command}&container=app&stdin=true&stdout=true&tty=true`,
        status: okStatus(101),
        level: 'Metadata',
        longRunning: true,
        durationMicros: ms(2000 + rng.exponential(60_000)),
      };
    }
    case 7: {
      const namespace = pod.namespace;
      const name = `${rng.pick(['dev-view', 'oncall-edit', 'ci-deployer'])}-${rng.suffix(4)}`;
      const subject = rng.pick(['bob', 'carol@example.com', 'jürgen.weiß@example.de']);
      const body = {
        kind: 'RoleBinding',
        apiVersion: 'rbac.authorization.k8s.io/v1',
        metadata: { name, namespace, creationTimestamp: null },
        subjects: [{ kind: 'User', apiGroup: 'rbac.authorization.k8s.io', name: subject }],
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'edit' },
      };
      return {
        identity: admin,
        verb: 'create',
        objectRef: ref('rolebindings', 'rbac.authorization.k8s.io', 'v1', namespace, name),
        path: `/apis/rbac.authorization.k8s.io/v1/namespaces/${namespace}/rolebindings`,
        query: 'fieldManager=kubectl-create&fieldValidation=Strict',
        status: okStatus(201),
        level: 'RequestResponse',
        requestObject: body,
        responseObject: {
          ...body,
          metadata: { name, namespace, uid: rng.uuidV4(), resourceVersion: ctx.nextResourceVersion() },
        },
        durationMicros: ms(3 + rng.float() * 8),
      };
    }
    default: {
      // kubectl --as: authorization is decided for the impersonated user.
      const impersonated = rng.pick(catalog.impersonated);
      const objectRef = ref('secrets', undefined, 'v1', pod.namespace);
      const denied = rng.chance(0.6);
      return {
        identity: rng.pick(catalog.impersonators),
        impersonatedUser: impersonated,
        verb: 'list',
        objectRef,
        query: 'limit=500',
        status: denied ? forbidden(objectRef, impersonated.username, 'list') : okStatus(200),
        level: 'Metadata',
        allowReason: `RBAC: allowed by RoleBinding "secret-readers/${pod.namespace}" of Role "secret-reader" to User "${impersonated.username}"`,
        durationMicros: ms(1 + rng.float() * 4),
      };
    }
  }
};

/** The request mix, weighted by how often each kind shows up in a busy cluster's audit log. */
const SCENARIOS = new WeightedChoice<Scenario>([
  [kubeletLease, 6],
  [leaderElection, 14],
  [operatorReconcile, 12],
  [nodeStatusPatch, 3],
  [kubeletGet, 5],
  [watch, 4],
  [list, 5],
  [createEvent, 6],
  [controllerUpdate, 7],
  [podCreate, 2],
  [schedulerBinding, 2],
  [scrape, 4],
  [anonymousProbe, 2],
  [reviews, 2],
  [forbiddenServiceAccount, 0.5],
  [adminSession, 4],
]);

/** Probability that a short request panics in its handler (Panic stage instead of ResponseComplete). */
const PANIC_RATE = 0.0005;

/** Draws the next ordinary request. */
export function planRequest(ctx: ScenarioContext, nowMicros: number): RequestPlan {
  return finish(ctx, SCENARIOS.pick(ctx.rng)(ctx, nowMicros));
}

/** A request whose final event carries a large body (10 KB–300 KB). */
export function planLargeRequest(ctx: ScenarioContext): RequestPlan {
  const { rng, large, catalog } = ctx;
  const bucket = large.pickBucket();
  const asList = rng.chance(0.5);
  const body: LargeBody = asList ? large.podList(bucket) : large.dashboard(bucket);
  if (asList) {
    const identity = rng.chance(0.5) ? rng.pick(catalog.admins) : rng.pick(catalog.operators);
    return finish(ctx, {
      identity,
      verb: 'list',
      objectRef: ref('pods', undefined, 'v1'),
      query: 'limit=500',
      status: okStatus(200),
      level: 'RequestResponse',
      responseObject: body.response,
      durationMicros: ms(40 + rng.exponential(200)),
    });
  }
  const argocd = catalog.operators.find((o) => o.namespace === 'argocd') ?? rng.pick(catalog.operators);
  return finish(ctx, {
    identity: argocd,
    verb: 'update',
    objectRef: ref('configmaps', undefined, 'v1', body.namespace, body.name),
    status: okStatus(200),
    level: 'RequestResponse',
    ...(body.request === undefined ? {} : { requestObject: body.request }),
    responseObject: body.response,
    durationMicros: ms(10 + rng.exponential(40)),
  });
}

/** A ConfigMap create carrying `requestObject` as is (used to build an exactly sized huge line). */
export function planHugeRequest(ctx: ScenarioContext, requestObject: object, name: string): RequestPlan {
  const admin = ctx.catalog.admins[0] ?? ctx.rng.pick(ctx.catalog.admins);
  return finish(ctx, {
    identity: admin,
    verb: 'create',
    objectRef: ref('configmaps', undefined, 'v1', 'monitoring', name),
    path: '/api/v1/namespaces/monitoring/configmaps',
    query: 'fieldManager=kubectl-create&fieldValidation=Strict',
    status: okStatus(201),
    level: 'Request',
    requestObject,
    // 1 µs, so that no other stage falls between its RequestReceived and its final line.
    durationMicros: 1,
  });
}

/** Applies policy level, authorization and latency annotations, and the rare panic. */
function finish(ctx: ScenarioContext, draft: Draft): RequestPlan {
  const { rng } = ctx;
  const longRunning = draft.longRunning === true;
  const panicked = !longRunning && rng.chance(PANIC_RATE);
  const status = panicked ? PANIC_STATUS : draft.status;
  const denied =
    status.code === 403 && status.reason === 'Forbidden' && status.message?.includes('cannot') === true;
  const reason = denied ? '' : (draft.allowReason ?? draft.identity.allowReason);
  const entries: (readonly [string, string])[] = [];
  // Denied requests never reach admission, so no admission annotations.
  if (!denied && draft.extraAnnotations !== undefined) entries.push(...draft.extraAnnotations);
  if (draft.durationMicros > 500_000) {
    // The API server records a latency breakdown only for requests slower than 500 ms.
    entries.push(
      ['apiserver.latency.k8s.io/etcd', formatGoDuration(300_000 + rng.int(900_000))],
      ['apiserver.latency.k8s.io/total', formatGoDuration(draft.durationMicros * 1000 + rng.int(1000))],
    );
  }
  const annotations =
    entries.length === 0
      ? authorizationOnly(ctx, denied ? 'forbid' : 'allow', reason)
      : sortedAnnotations([
          ['authorization.k8s.io/decision', denied ? 'forbid' : 'allow'],
          ['authorization.k8s.io/reason', reason],
          ...entries,
        ]);
  const withRequest = draft.level !== 'Metadata' && draft.requestObject !== undefined;
  const withResponse = draft.level === 'RequestResponse' && draft.responseObject !== undefined && !panicked;
  const base =
    draft.objectRef === undefined ? (draft.path ?? '/') : (draft.path ?? resourcePath(draft.objectRef));
  const requestURI =
    draft.query === undefined ? base : `${base}${base.includes('?') ? '&' : '?'}${draft.query}`;
  return {
    level: draft.level,
    verb: draft.verb,
    requestURI,
    identity: draft.identity,
    ...(draft.impersonatedUser === undefined ? {} : { impersonatedUser: draft.impersonatedUser }),
    ...(draft.objectRef === undefined ? {} : { objectRef: draft.objectRef }),
    status,
    ...(withRequest && draft.requestObject !== undefined ? { requestObject: draft.requestObject } : {}),
    ...(withResponse && draft.responseObject !== undefined ? { responseObject: draft.responseObject } : {}),
    annotations,
    longRunning,
    panicked,
    durationMicros: Math.max(1, draft.durationMicros),
  };
}

/** Most requests carry only the authorization pair: share one interned map per decision and reason. */
function authorizationOnly(
  ctx: ScenarioContext,
  decision: 'allow' | 'forbid',
  reason: string,
): Readonly<Record<string, string>> {
  const key = `${decision}\n${reason}`;
  let annotations = ctx.authorizationAnnotations.get(key);
  if (annotations === undefined) {
    annotations = ctx.encoder.intern({
      'authorization.k8s.io/decision': decision,
      'authorization.k8s.io/reason': reason,
    });
    ctx.authorizationAnnotations.set(key, annotations);
  }
  return annotations;
}
