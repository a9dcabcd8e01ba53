// The simulated cluster: who talks to the API server (nodes, controllers, operators, admins,
// anonymous probes) and what exists (namespaces, workloads). Built once per generator from its PRNG,
// and interned, because users and source IPs repeat in every line.
import type { SimUserInfo } from './audit-types.ts';
import type { GoJsonEncoder } from './go-json.ts';
import type { Prng } from './prng.ts';

/** The Kubernetes version the simulated cluster reports in user agents. */
export const KUBE_VERSION = 'v1.31.4';
const KUBE_COMMIT = 'a78aa47';

/** Who is calling, as the audit log shows it. */
export interface Identity {
  readonly user: SimUserInfo;
  readonly sourceIPs: readonly string[];
  readonly userAgent: string;
  /** `authorization.k8s.io/reason` when RBAC (or the Node authorizer, "") allows the request. */
  readonly allowReason: string;
  /** For service accounts: their namespace; for nodes: undefined. */
  readonly namespace?: string;
}

/** A kubelet and the node it runs on. */
export interface NodeIdentity extends Identity {
  readonly nodeName: string;
  readonly nodeIP: string;
}

/** A Deployment and its pods' naming. */
export interface Workload {
  readonly namespace: string;
  readonly app: string;
  readonly serviceAccount: string;
  readonly image: string;
  /** ReplicaSet pod-template hash, part of every pod name. */
  readonly templateHash: string;
}

/** Everything a scenario needs to pick from. All members are frozen. */
export interface Catalog {
  readonly namespaces: readonly string[];
  readonly nodes: readonly NodeIdentity[];
  readonly controllers: readonly Identity[];
  readonly operators: readonly Identity[];
  readonly admins: readonly Identity[];
  /** An admin impersonating someone else (kubectl --as). */
  readonly impersonators: readonly Identity[];
  readonly impersonated: readonly SimUserInfo[];
  readonly anonymous: readonly Identity[];
  readonly apiserver: Identity;
  readonly scheduler: Identity;
  readonly controllerManager: Identity;
  readonly workloads: readonly Workload[];
}

const NAMESPACES = [
  'default',
  'kube-system',
  'kube-node-lease',
  'monitoring',
  'ingress-nginx',
  'cert-manager',
  'argocd',
  'logging',
  'payments',
  'checkout',
  'web',
] as const;

const CONTROLLERS = [
  'replicaset-controller',
  'deployment-controller',
  'endpointslice-controller',
  'generic-garbage-collector',
  'statefulset-controller',
  'job-controller',
  'namespace-controller',
  'horizontal-pod-autoscaler',
] as const;

/** In-cluster operators: [namespace, service account, user-agent product]. */
const OPERATORS = [
  ['monitoring', 'prometheus-k8s', 'Prometheus/2.54.1'],
  ['monitoring', 'kube-state-metrics', `kube-state-metrics/v2.13.0 (linux/amd64) kubernetes/${KUBE_COMMIT}`],
  ['ingress-nginx', 'ingress-nginx', 'nginx-ingress-controller/v1.11.2 (linux/amd64) ingress-nginx/46e76e5'],
  ['cert-manager', 'cert-manager', 'cert-manager-controller/v1.15.3 (linux/amd64) cert-manager/2e5ea7c'],
  ['argocd', 'argocd-application-controller', 'argocd-application-controller/v2.12.4+27d1e64 (linux/amd64)'],
  ['logging', 'fluent-bit', 'fluent-bit/3.1.9'],
  ['kube-system', 'coredns', 'coredns/v1.11.3 (linux/amd64) kubernetes/$Format'],
  ['payments', 'payments-api', 'payments-api/0.0.0 (linux/amd64) kubernetes/$Format'],
] as const;

const WORKLOADS = [
  ['payments', 'payments-api', 'registry.example.com/payments/api:1.42.0'],
  ['payments', 'ledger-worker', 'registry.example.com/payments/ledger:2.3.1'],
  ['checkout', 'checkout-web', 'registry.example.com/shop/checkout:5.0.7'],
  ['checkout', 'cart', 'registry.example.com/shop/cart:5.0.7'],
  ['web', 'frontend', 'registry.example.com/shop/frontend:2024.11.3'],
  ['monitoring', 'grafana', 'docker.io/grafana/grafana:11.2.2'],
  ['ingress-nginx', 'ingress-nginx-controller', 'registry.k8s.io/ingress-nginx/controller:v1.11.2'],
  ['kube-system', 'coredns', 'registry.k8s.io/coredns/coredns:v1.11.3'],
] as const;

/** Builds a deterministic cluster from the PRNG; its members are interned in `encoder`. */
export function buildCatalog(rng: Prng, encoder: GoJsonEncoder): Catalog {
  const controlPlaneIP = '10.0.0.10';
  const saGroups = (namespace: string): readonly string[] => [
    'system:serviceaccounts',
    `system:serviceaccounts:${namespace}`,
    'system:authenticated',
  ];
  const kubeAgent = (binary: string, suffix = ''): string =>
    `${binary}/${KUBE_VERSION} (linux/amd64) kubernetes/${KUBE_COMMIT}${suffix}`;
  // Identities themselves are never encoded, only their parts: freeze them, intern the parts.
  const identity = (value: Identity): Identity => Object.freeze(value);

  const nodes: NodeIdentity[] = [];
  for (let i = 0; i < 12; i++) {
    const nodeIP = `10.0.${1 + (i % 3)}.${rng.between(10, 250)}`;
    const nodeName = `ip-${nodeIP.replaceAll('.', '-')}.eu-west-1.compute.internal`;
    nodes.push(
      Object.freeze({
        user: encoder.intern({
          username: `system:node:${nodeName}`,
          groups: ['system:nodes', 'system:authenticated'],
        }),
        sourceIPs: encoder.intern([nodeIP]),
        userAgent: kubeAgent('kubelet'),
        allowReason: '',
        nodeName,
        nodeIP,
      }),
    );
  }

  const controllers = CONTROLLERS.map((name) =>
    identity({
      user: encoder.intern({
        username: `system:serviceaccount:kube-system:${name}`,
        uid: rng.uuidV4(),
        groups: saGroups('kube-system'),
        extra: { 'authentication.kubernetes.io/credential-id': [`JTI=${rng.uuidV4()}`] },
      }),
      sourceIPs: encoder.intern([controlPlaneIP]),
      userAgent: kubeAgent('kube-controller-manager', `/system:serviceaccount:kube-system:${name}`),
      allowReason: `RBAC: allowed by ClusterRoleBinding "system:controller:${name}" of ClusterRole "system:controller:${name}" to ServiceAccount "${name}/kube-system"`,
      namespace: 'kube-system',
    }),
  );

  const operators = OPERATORS.map(([namespace, name, userAgent]) => {
    const node = rng.pick(nodes);
    // Bound service-account tokens (1.30+) carry the pod and node they were issued for.
    const extra = {
      'authentication.kubernetes.io/credential-id': [`JTI=${rng.uuidV4()}`],
      'authentication.kubernetes.io/node-name': [node.nodeName],
      'authentication.kubernetes.io/node-uid': [rng.uuidV4()],
      'authentication.kubernetes.io/pod-name': [`${name}-${rng.suffix(10)}-${rng.suffix(5)}`],
      'authentication.kubernetes.io/pod-uid': [rng.uuidV4()],
    };
    return identity({
      user: encoder.intern({
        username: `system:serviceaccount:${namespace}:${name}`,
        uid: rng.uuidV4(),
        groups: saGroups(namespace),
        extra,
      }),
      sourceIPs: encoder.intern([`10.244.${rng.between(0, 11)}.${rng.between(2, 250)}`]),
      userAgent,
      allowReason: `RBAC: allowed by ClusterRoleBinding "${name}" of ClusterRole "${name}" to ServiceAccount "${name}/${namespace}"`,
      namespace,
    });
  });

  const clusterAdmin = identity({
    user: encoder.intern({
      username: 'kubernetes-admin',
      groups: ['kubeadm:cluster-admins', 'system:authenticated'],
    }),
    sourceIPs: encoder.intern(['192.168.10.23']),
    userAgent: `kubectl/${KUBE_VERSION} (darwin/arm64) kubernetes/${KUBE_COMMIT}`,
    allowReason:
      'RBAC: allowed by ClusterRoleBinding "kubeadm:cluster-admins" of ClusterRole "cluster-admin" to Group "kubeadm:cluster-admins"',
  });
  const admins = [
    clusterAdmin,
    identity({
      // Behind a load balancer: X-Forwarded-For first, then the proxy's address.
      user: encoder.intern({
        username: 'oidc:alice@example.com',
        groups: ['oidc:platform-team', 'system:authenticated'],
      }),
      sourceIPs: encoder.intern(['203.0.113.7', '10.0.0.5']),
      userAgent: 'kubectl/v1.30.2 (linux/amd64) kubernetes/3968350',
      allowReason:
        'RBAC: allowed by ClusterRoleBinding "platform-team-admin" of ClusterRole "admin" to Group "oidc:platform-team"',
    }),
    identity({
      // Raw non-ASCII UTF-8 in a username, as OIDC email claims allow.
      user: encoder.intern({
        username: 'oidc:zoltán.kovács@example.hu',
        groups: ['oidc:sre', 'system:authenticated'],
      }),
      sourceIPs: encoder.intern(['198.51.100.42', '10.0.0.5']),
      userAgent: 'kubectl.exe/v1.31.1 (windows/amd64) kubernetes/948afe5',
      allowReason:
        'RBAC: allowed by ClusterRoleBinding "sre-cluster-admin" of ClusterRole "cluster-admin" to Group "oidc:sre"',
    }),
  ];

  const anonymous = ['ELB-HealthChecker/2.0', 'curl/8.5.0', 'Go-http-client/1.1'].map((userAgent) =>
    identity({
      user: encoder.intern({ username: 'system:anonymous', groups: ['system:unauthenticated'] }),
      sourceIPs: encoder.intern([`10.0.${rng.between(0, 3)}.${rng.between(2, 250)}`]),
      userAgent,
      allowReason:
        'RBAC: allowed by ClusterRoleBinding "system:public-info-viewer" of ClusterRole "system:public-info-viewer" to Group "system:unauthenticated"',
    }),
  );

  const workloads = WORKLOADS.map(([namespace, app, image]) =>
    Object.freeze({ namespace, app, serviceAccount: app, image, templateHash: rng.suffix(10) }),
  );

  return Object.freeze({
    namespaces: Object.freeze([...NAMESPACES]),
    nodes: Object.freeze(nodes),
    controllers: Object.freeze(controllers),
    operators: Object.freeze(operators),
    admins: Object.freeze(admins),
    impersonators: Object.freeze([clusterAdmin]),
    impersonated: Object.freeze([
      encoder.intern({ username: 'bob', groups: ['developers', 'system:authenticated'] }),
      encoder.intern({
        username: 'system:serviceaccount:payments:payments-api',
        groups: ['system:serviceaccounts', 'system:serviceaccounts:payments', 'system:authenticated'],
      }),
    ]),
    anonymous: Object.freeze(anonymous),
    apiserver: identity({
      user: encoder.intern({
        username: 'system:apiserver',
        uid: rng.uuidV4(),
        groups: ['system:authenticated'],
      }),
      sourceIPs: encoder.intern(['::1']),
      userAgent: kubeAgent('kube-apiserver'),
      allowReason: '',
    }),
    scheduler: identity({
      user: encoder.intern({ username: 'system:kube-scheduler', groups: ['system:authenticated'] }),
      sourceIPs: encoder.intern([controlPlaneIP]),
      userAgent: kubeAgent('kube-scheduler', '/scheduler'),
      allowReason:
        'RBAC: allowed by ClusterRoleBinding "system:kube-scheduler" of ClusterRole "system:kube-scheduler" to User "system:kube-scheduler"',
    }),
    controllerManager: identity({
      user: encoder.intern({ username: 'system:kube-controller-manager', groups: ['system:authenticated'] }),
      sourceIPs: encoder.intern([controlPlaneIP]),
      userAgent: kubeAgent('kube-controller-manager', '/leader-election'),
      allowReason:
        'RBAC: allowed by ClusterRoleBinding "system:kube-controller-manager" of ClusterRole "system:kube-controller-manager" to User "system:kube-controller-manager"',
    }),
    workloads: Object.freeze(workloads),
  });
}
