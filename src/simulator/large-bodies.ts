// Bodies that make an audit line large (10 KB–300 KB): list responses and big ConfigMaps, like the
// RequestResponse events of real clusters. Sizes are quantized into log-spaced buckets so each body is
// built and serialized once; the encoder joins cached parts instead of re-serializing.
import type { BodyContext, StoredPod } from './bodies.ts';

/** Smallest and largest body size the buckets aim at, leaving room for the event around them. */
const MIN_BODY_BYTES = 11 * 1024;
const MAX_BODY_BYTES = 285 * 1024;
const BUCKETS = 24;

/** A Grafana-dashboard-like ConfigMap value: quotes, <, >, & and non-ASCII, as real dashboards have. */
function dashboardPanel(index: number): string {
  const services = ['payments-api', 'checkout-web', 'cart', 'frontend', 'ledger-worker'];
  const service = services[index % services.length] ?? 'frontend';
  return JSON.stringify({
    id: index,
    type: 'timeseries',
    title: `p99 latency < 250 ms & errors > 1 % – ${service}`,
    description: `Überwachung der Antwortzeit (µs) für ${service}; Alarm bei Überschreitung`,
    targets: [
      {
        expr: `histogram_quantile(0.99, sum by (le) (rate(http_request_duration_seconds_bucket{service="${service}"}[5m]))) > 0.25`,
        refId: 'A',
      },
    ],
    gridPos: { h: 8, w: 12, x: (index % 2) * 12, y: Math.floor(index / 2) * 8 },
  });
}

/** Large request/response bodies for one generator, built lazily per size bucket. */
export class LargeBodies {
  readonly #ctx: BodyContext;
  readonly #pods: readonly StoredPod[];
  readonly #podLists = new Map<number, LargeBody>();
  readonly #dashboards = new Map<number, LargeBody>();
  #dashboardText = '';
  #panelCount = 0;

  constructor(ctx: BodyContext, pods: readonly StoredPod[]) {
    this.#ctx = ctx;
    this.#pods = pods;
  }

  /** Picks a bucket so that sizes are log-uniform between about 11 KB and 290 KB. */
  pickBucket(): number {
    return this.#ctx.rng.int(BUCKETS);
  }

  /** A PodList of roughly the bucket's size (for a `list pods` at level RequestResponse). */
  podList(bucket: number): LargeBody {
    let cached = this.#podLists.get(bucket);
    if (cached === undefined) {
      cached = this.#buildPodList(bucketBytes(bucket));
      this.#podLists.set(bucket, cached);
    }
    return cached;
  }

  /** A dashboards ConfigMap update whose request and response together are about the bucket's size. */
  dashboard(bucket: number): LargeBody {
    let cached = this.#dashboards.get(bucket);
    if (cached === undefined) {
      cached = this.#buildDashboard(bucketBytes(bucket) / 2, 'grafana-dashboards');
      this.#dashboards.set(bucket, cached);
    }
    return cached;
  }

  /**
   * A ConfigMap with `textChars` characters of dashboard text plus `paddingChars` of ASCII: the
   * padding is what lets the generator hit an exact line length. Not cached (used once).
   */
  exactConfigMap(name: string, textChars: number, paddingChars: number): object {
    return {
      kind: 'ConfigMap',
      apiVersion: 'v1',
      metadata: { name, namespace: 'monitoring', creationTimestamp: null },
      data: { 'dashboard.json': this.#text(textChars), padding: 'x'.repeat(paddingChars) },
    };
  }

  #buildPodList(targetBytes: number): LargeBody {
    const { encoder, rng } = this.#ctx;
    const items: object[] = [];
    let bytes = 120;
    // At least three items so the smallest bucket is still above 10 KB with any pod size.
    while (items.length < 3 || bytes < targetBytes) {
      const pod = rng.pick(this.#pods);
      const podBytes = encoder.encode(pod.body).length + 1;
      if (items.length >= 3 && bytes + podBytes > targetBytes) break;
      items.push(pod.body);
      bytes += podBytes;
    }
    const body = encoder.internComposite({
      kind: 'PodList',
      apiVersion: 'v1',
      metadata: { resourceVersion: this.#ctx.nextResourceVersion() },
      items: encoder.internComposite(items),
    });
    return Object.freeze({ response: body, namespace: undefined, name: undefined });
  }

  #buildDashboard(targetBytesEach: number, name: string): LargeBody {
    const { encoder, rng, createdAt } = this.#ctx;
    // Escapes (\" and \u003c) make the encoding longer than the text; measure once and rescale.
    const sampleChars = 4096;
    const ratio = encoder.encode(this.#text(sampleChars)).length / sampleChars;
    const textChars = Math.max(1024, Math.floor((targetBytesEach - 600) / ratio));
    const data = { 'dashboard.json': this.#text(textChars) };
    const request = encoder.intern({
      kind: 'ConfigMap',
      apiVersion: 'v1',
      metadata: { name, namespace: 'monitoring', labels: { grafana_dashboard: '1' } },
      data,
    });
    const response = encoder.intern({
      kind: 'ConfigMap',
      apiVersion: 'v1',
      metadata: {
        name,
        namespace: 'monitoring',
        uid: rng.uuidV4(),
        resourceVersion: this.#ctx.nextResourceVersion(),
        creationTimestamp: createdAt,
        labels: { grafana_dashboard: '1' },
        managedFields: [
          {
            manager: 'argocd-controller',
            operation: 'Update',
            apiVersion: 'v1',
            time: createdAt,
            fieldsType: 'FieldsV1',
            fieldsV1: {
              'f:data': { '.': {}, 'f:dashboard.json': {} },
              'f:metadata': { 'f:labels': { '.': {}, 'f:grafana_dashboard': {} } },
            },
          },
        ],
      },
      data,
    });
    return Object.freeze({ request, response, namespace: 'monitoring', name });
  }

  #text(chars: number): string {
    while (this.#dashboardText.length < chars) {
      const panel = dashboardPanel(this.#panelCount);
      this.#dashboardText += this.#panelCount === 0 ? panel : `,${panel}`;
      this.#panelCount++;
    }
    return this.#dashboardText.slice(0, chars);
  }
}

/** A large body and, for objects, their name. */
export interface LargeBody {
  readonly request?: object;
  readonly response: object;
  readonly namespace: string | undefined;
  readonly name: string | undefined;
}

function bucketBytes(bucket: number): number {
  return Math.round(MIN_BODY_BYTES * (MAX_BODY_BYTES / MIN_BODY_BYTES) ** (bucket / (BUCKETS - 1)));
}
