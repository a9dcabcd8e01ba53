// Kubernetes objects as they appear in requestObject/responseObject: pods, deployments and
// configmaps in Go's field order, with managedFields whose keys ("f:metadata", ".", "k:{...}")
// are what break naive Elasticsearch mappings. Built once per generator and interned.
import type { Workload } from './catalog.ts';
import type { GoJsonEncoder } from './go-json.ts';
import type { Prng } from './prng.ts';

/** A stored object plus what requests about it need to know. */
export interface StoredObject {
  readonly namespace: string;
  readonly name: string;
  readonly uid: string;
  readonly resourceVersion: string;
  /** The object as the API server returns it (interned). */
  readonly body: object;
}

/** A pod and the bodies of the requests that create it. */
export interface StoredPod extends StoredObject {
  readonly nodeName: string;
  readonly container: string;
  /** What the ReplicaSet controller sends to create it (interned). */
  readonly createBody: object;
}

/** A ConfigMap and the body a client sends to create it. */
export interface StoredConfigMap extends StoredObject {
  readonly createBody: object;
}

/** Inputs shared by all builders. */
export interface BodyContext {
  readonly rng: Prng;
  readonly encoder: GoJsonEncoder;
  /** RFC 3339 (seconds) time used as creation time of the pre-existing objects. */
  readonly createdAt: string;
  /** Returns a fresh, increasing resourceVersion. */
  readonly nextResourceVersion: () => string;
}

const PROBE_TOLERATIONS = [
  { key: 'node.kubernetes.io/not-ready', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 },
  { key: 'node.kubernetes.io/unreachable', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 },
];

/** managedFields entries are a map-of-maps keyed by field paths; "." marks the field itself. */
function containerFieldSet(): object {
  return {
    'k:{"name":"app"}': {
      '.': {},
      'f:image': {},
      'f:imagePullPolicy': {},
      'f:name': {},
      'f:ports': {
        '.': {},
        'k:{"containerPort":8080,"protocol":"TCP"}': {
          '.': {},
          'f:containerPort': {},
          'f:name': {},
          'f:protocol': {},
        },
      },
      'f:resources': {
        '.': {},
        'f:limits': { '.': {}, 'f:memory': {} },
        'f:requests': { '.': {}, 'f:cpu': {}, 'f:memory': {} },
      },
      'f:terminationMessagePath': {},
      'f:terminationMessagePolicy': {},
    },
  };
}

function podSpec(workload: Workload, volumeName: string, nodeName: string | undefined): object {
  return {
    volumes: [
      {
        name: volumeName,
        projected: {
          sources: [
            { serviceAccountToken: { expirationSeconds: 3607, path: 'token' } },
            { configMap: { name: 'kube-root-ca.crt', items: [{ key: 'ca.crt', path: 'ca.crt' }] } },
            {
              downwardAPI: {
                items: [
                  { path: 'namespace', fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.namespace' } },
                ],
              },
            },
          ],
          defaultMode: 420,
        },
      },
    ],
    containers: [
      {
        name: 'app',
        image: workload.image,
        ports: [{ name: 'http', containerPort: 8080, protocol: 'TCP' }],
        resources: { limits: { memory: '512Mi' }, requests: { cpu: '100m', memory: '256Mi' } },
        volumeMounts: [
          { name: volumeName, readOnly: true, mountPath: '/var/run/secrets/kubernetes.io/serviceaccount' },
        ],
        terminationMessagePath: '/dev/termination-log',
        terminationMessagePolicy: 'File',
        imagePullPolicy: 'IfNotPresent',
      },
    ],
    restartPolicy: 'Always',
    terminationGracePeriodSeconds: 30,
    dnsPolicy: 'ClusterFirst',
    serviceAccountName: workload.serviceAccount,
    serviceAccount: workload.serviceAccount,
    ...(nodeName === undefined ? {} : { nodeName }),
    securityContext: {},
    schedulerName: 'default-scheduler',
    tolerations: PROBE_TOLERATIONS,
    priority: 0,
    enableServiceLinks: true,
    preemptionPolicy: 'PreemptLowerPriority',
  };
}

/** A running pod of `workload` on `nodeName`, with the create request that made it. */
export function buildPod(ctx: BodyContext, workload: Workload, nodeName: string, hostIP: string): StoredPod {
  const { rng, encoder, createdAt } = ctx;
  const name = `${workload.app}-${workload.templateHash}-${rng.suffix(5)}`;
  const uid = rng.uuidV4();
  const resourceVersion = ctx.nextResourceVersion();
  const ownerUid = rng.uuidV4();
  const volumeName = `kube-api-access-${rng.suffix(5)}`;
  const podIP = `10.244.${rng.between(0, 11)}.${rng.between(2, 250)}`;
  const labels = { app: workload.app, 'pod-template-hash': workload.templateHash };
  const ownerReferences = [
    {
      apiVersion: 'apps/v1',
      kind: 'ReplicaSet',
      name: `${workload.app}-${workload.templateHash}`,
      uid: ownerUid,
      controller: true,
      blockOwnerDeletion: true,
    },
  ];
  const createBody = encoder.intern({
    kind: 'Pod',
    apiVersion: 'v1',
    metadata: {
      generateName: `${workload.app}-${workload.templateHash}-`,
      namespace: workload.namespace,
      creationTimestamp: null,
      labels,
      ownerReferences,
    },
    spec: podSpec(workload, volumeName, undefined),
    status: {},
  });
  const conditionTypes = [
    'PodReadyToStartContainers',
    'Initialized',
    'Ready',
    'ContainersReady',
    'PodScheduled',
  ];
  const body = encoder.intern({
    kind: 'Pod',
    apiVersion: 'v1',
    metadata: {
      name,
      generateName: `${workload.app}-${workload.templateHash}-`,
      namespace: workload.namespace,
      uid,
      resourceVersion,
      creationTimestamp: createdAt,
      labels,
      ownerReferences,
      managedFields: [
        {
          manager: 'kube-controller-manager',
          operation: 'Update',
          apiVersion: 'v1',
          time: createdAt,
          fieldsType: 'FieldsV1',
          fieldsV1: {
            'f:metadata': {
              'f:generateName': {},
              'f:labels': { '.': {}, 'f:app': {}, 'f:pod-template-hash': {} },
              'f:ownerReferences': { '.': {}, [`k:{"uid":"${ownerUid}"}`]: {} },
            },
            'f:spec': {
              'f:containers': containerFieldSet(),
              'f:dnsPolicy': {},
              'f:enableServiceLinks': {},
              'f:restartPolicy': {},
              'f:schedulerName': {},
              'f:securityContext': {},
              'f:serviceAccount': {},
              'f:serviceAccountName': {},
              'f:terminationGracePeriodSeconds': {},
            },
          },
        },
        {
          manager: 'kubelet',
          operation: 'Update',
          apiVersion: 'v1',
          time: createdAt,
          fieldsType: 'FieldsV1',
          fieldsV1: {
            'f:status': {
              'f:conditions': Object.fromEntries(
                conditionTypes.map((type) => [
                  `k:{"type":"${type}"}`,
                  {
                    '.': {},
                    'f:lastProbeTime': {},
                    'f:lastTransitionTime': {},
                    'f:status': {},
                    'f:type': {},
                  },
                ]),
              ),
              'f:containerStatuses': {},
              'f:hostIP': {},
              'f:hostIPs': {},
              'f:phase': {},
              'f:podIP': {},
              'f:podIPs': { '.': {}, [`k:{"ip":"${podIP}"}`]: { '.': {}, 'f:ip': {} } },
              'f:startTime': {},
            },
          },
          subresource: 'status',
        },
      ],
    },
    spec: podSpec(workload, volumeName, nodeName),
    status: {
      phase: 'Running',
      conditions: conditionTypes.map((type) => ({
        type,
        status: 'True',
        lastProbeTime: null,
        lastTransitionTime: createdAt,
      })),
      hostIP,
      hostIPs: [{ ip: hostIP }],
      podIP,
      podIPs: [{ ip: podIP }],
      startTime: createdAt,
      containerStatuses: [
        {
          name: 'app',
          state: { running: { startedAt: createdAt } },
          lastState: {},
          ready: true,
          restartCount: 0,
          image: workload.image,
          imageID: `${workload.image.split(':')[0] ?? workload.image}@sha256:${rng.hex(64)}`,
          containerID: `containerd://${rng.hex(64)}`,
          started: true,
        },
      ],
      qosClass: 'Burstable',
    },
  });
  return Object.freeze({
    namespace: workload.namespace,
    name,
    uid,
    resourceVersion,
    body,
    createBody,
    nodeName,
    container: 'app',
  });
}

/** The Deployment behind `workload`, as returned after a client-side `kubectl apply`. */
export function buildDeployment(ctx: BodyContext, workload: Workload): StoredObject {
  const { rng, encoder, createdAt } = ctx;
  const uid = rng.uuidV4();
  const resourceVersion = ctx.nextResourceVersion();
  const lastApplied = JSON.stringify({
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: {
      annotations: {},
      labels: { app: workload.app },
      name: workload.app,
      namespace: workload.namespace,
    },
    spec: {
      replicas: 3,
      selector: { matchLabels: { app: workload.app } },
      template: {
        metadata: { labels: { app: workload.app } },
        spec: {
          containers: [
            { image: workload.image, name: 'app', ports: [{ containerPort: 8080, name: 'http' }] },
          ],
        },
      },
    },
  });
  const body = encoder.intern({
    kind: 'Deployment',
    apiVersion: 'apps/v1',
    metadata: {
      name: workload.app,
      namespace: workload.namespace,
      uid,
      resourceVersion,
      generation: 7,
      creationTimestamp: createdAt,
      labels: { app: workload.app },
      annotations: {
        'deployment.kubernetes.io/revision': '7',
        'kubectl.kubernetes.io/last-applied-configuration': `${lastApplied}\n`,
      },
      managedFields: [
        {
          manager: 'kubectl-client-side-apply',
          operation: 'Update',
          apiVersion: 'apps/v1',
          time: createdAt,
          fieldsType: 'FieldsV1',
          fieldsV1: {
            'f:metadata': {
              'f:annotations': { '.': {}, 'f:kubectl.kubernetes.io/last-applied-configuration': {} },
              'f:labels': { '.': {}, 'f:app': {} },
            },
            'f:spec': {
              'f:replicas': {},
              'f:selector': {},
              'f:template': {
                'f:metadata': { 'f:labels': { '.': {}, 'f:app': {} } },
                'f:spec': { 'f:containers': containerFieldSet() },
              },
            },
          },
        },
        {
          manager: 'kube-controller-manager',
          operation: 'Update',
          apiVersion: 'apps/v1',
          time: createdAt,
          fieldsType: 'FieldsV1',
          fieldsV1: {
            'f:metadata': { 'f:annotations': { 'f:deployment.kubernetes.io/revision': {} } },
            'f:status': {
              'f:availableReplicas': {},
              'f:conditions': {
                '.': {},
                'k:{"type":"Available"}': {
                  '.': {},
                  'f:lastTransitionTime': {},
                  'f:status': {},
                  'f:type': {},
                },
              },
              'f:observedGeneration': {},
              'f:readyReplicas': {},
              'f:replicas': {},
              'f:updatedReplicas': {},
            },
          },
          subresource: 'status',
        },
      ],
    },
    spec: {
      replicas: 3,
      selector: { matchLabels: { app: workload.app } },
      template: {
        metadata: { creationTimestamp: null, labels: { app: workload.app } },
        spec: {
          containers: [
            {
              name: 'app',
              image: workload.image,
              ports: [{ name: 'http', containerPort: 8080, protocol: 'TCP' }],
              resources: {},
              terminationMessagePath: '/dev/termination-log',
              terminationMessagePolicy: 'File',
              imagePullPolicy: 'IfNotPresent',
            },
          ],
          restartPolicy: 'Always',
          terminationGracePeriodSeconds: 30,
          dnsPolicy: 'ClusterFirst',
          securityContext: {},
          schedulerName: 'default-scheduler',
        },
      },
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: '25%', maxSurge: '25%' } },
      revisionHistoryLimit: 10,
      progressDeadlineSeconds: 600,
    },
    status: {
      observedGeneration: 7,
      replicas: 3,
      updatedReplicas: 3,
      readyReplicas: 3,
      availableReplicas: 3,
      conditions: [
        {
          type: 'Available',
          status: 'True',
          lastUpdateTime: createdAt,
          lastTransitionTime: createdAt,
          reason: 'MinimumReplicasAvailable',
          message: 'Deployment has minimum availability.',
        },
      ],
    },
  });
  return Object.freeze({ namespace: workload.namespace, name: workload.app, uid, resourceVersion, body });
}

/** An application ConfigMap whose values contain &, < and > (Go escapes them) and some non-ASCII. */
export function buildConfigMap(ctx: BodyContext, namespace: string, name: string): StoredConfigMap {
  const { rng, encoder, createdAt } = ctx;
  const uid = rng.uuidV4();
  const resourceVersion = ctx.nextResourceVersion();
  const data =
    name === 'kube-root-ca.crt'
      ? { 'ca.crt': pemCertificate(rng) }
      : {
          DATABASE_URL: `postgres://${name}@db.${namespace}.svc:5432/${namespace}?sslmode=require&pool_max_conns=20`,
          FEATURE_FLAGS: 'checkout.v2=true&search.beta=false',
          'banner.html':
            '<div class="banner">Willkommen! Prüfen Sie Ihre Bestellung &amp; zahlen Sie sicher.</div>',
          'log.level': 'info',
        };
  const body = encoder.intern({
    kind: 'ConfigMap',
    apiVersion: 'v1',
    metadata: {
      name,
      namespace,
      uid,
      resourceVersion,
      creationTimestamp: createdAt,
      managedFields: [
        {
          manager: 'kubectl-create',
          operation: 'Update',
          apiVersion: 'v1',
          time: createdAt,
          fieldsType: 'FieldsV1',
          fieldsV1: { 'f:data': Object.fromEntries(Object.keys(data).map((key) => [`f:${key}`, {}])) },
        },
      ],
    },
    data,
  });
  const createBody = encoder.intern({
    kind: 'ConfigMap',
    apiVersion: 'v1',
    metadata: { name, namespace, creationTimestamp: null },
    data,
  });
  return Object.freeze({ namespace, name, uid, resourceVersion, body, createBody });
}

function pemCertificate(rng: Prng): string {
  const lines = ['-----BEGIN CERTIFICATE-----'];
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
  for (let i = 0; i < 17; i++) {
    let line = '';
    for (let j = 0; j < 64; j++) line += alphabet[rng.int(64)] ?? 'A';
    lines.push(line);
  }
  lines.push('-----END CERTIFICATE-----', '');
  return lines.join('\n');
}
