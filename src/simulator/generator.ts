// Deterministic generator of realistic audit.k8s.io/v1 lines: the same seed yields the same lines,
// byte for byte. Requests overlap in simulated time, so their stages interleave as in a real log;
// every (auditID, stage) pair is emitted at most once.
import { ForwarderError } from '../errors.ts';
import type {
  AuditLevel,
  AuditStage,
  SimAuditEvent,
  SimObjectRef,
  SimStatus,
  SimUserInfo,
} from './audit-types.ts';
import { type BodyContext, buildConfigMap, buildDeployment, buildPod, type StoredPod } from './bodies.ts';
import { buildCatalog } from './catalog.ts';
import { GoJsonEncoder } from './go-json.ts';
import { LargeBodies } from './large-bodies.ts';
import { MicroTimeFormatter } from './micro-time.ts';
import { MinHeap } from './min-heap.ts';
import { Prng } from './prng.ts';
import {
  planHugeRequest,
  planLargeRequest,
  planRequest,
  type RequestPlan,
  type ScenarioContext,
} from './scenarios.ts';
import { buildEvent, encodePlan, type PlanText, renderLine } from './stage-event.ts';
import { okStatus, PANIC_STATUS } from './statuses.ts';

/** Options of {@link AuditEventGenerator}. */
export interface AuditEventGeneratorOptions {
  /** Any integer; equal seeds (and options) give identical output. */
  readonly seed: number;
  /** Simulated time of the first request (default 2025-01-01T00:00:00Z, so output is reproducible). */
  readonly startTime?: Date | number;
  /**
   * Share of lines (0–1) that carry a large body, 10 KB–300 KB (log-uniform): list responses and
   * big ConfigMaps at level RequestResponse. Default 0.005. Without them, lines stay under 10 KB.
   */
  readonly largeEventRatio?: number;
  /** Mean simulated time between two requests (exponentially distributed). Default 2 ms. */
  readonly clockStepMs?: number;
  /**
   * One line of exactly `bytes` bytes (without '\n'): the final stage of a ConfigMap create that
   * starts once `afterLines` lines were produced and follows its RequestReceived line directly.
   */
  readonly hugeLine?: { readonly afterLines: number; readonly bytes: number };
}

/** One generated line and what it encodes. `line` has no trailing '\n'. */
export interface GeneratedEvent {
  readonly auditID: string;
  readonly stage: AuditStage;
  readonly line: string;
  /** The event as an object; `JSON.parse(line)` deep-equals it. Shares frozen sub-objects: do not mutate. */
  readonly event: SimAuditEvent;
}

/** A stage waiting for its time. */
interface PendingStage {
  readonly atMicros: number;
  /** Creation order: breaks ties so the order never depends on heap internals. */
  readonly seq: number;
  readonly stage: AuditStage;
  readonly auditID: string;
  readonly receivedMicros: number;
  readonly plan: RequestPlan;
  readonly text: PlanText;
}

/** A generated line; the event object is built only if someone asks for it. */
class GeneratedLine implements GeneratedEvent {
  readonly line: string;
  readonly auditID: string;
  readonly stage: AuditStage;
  readonly #plan: RequestPlan;
  readonly #receivedTime: string;
  readonly #stageTime: string;
  #event: SimAuditEvent | undefined;

  constructor(
    line: string,
    plan: RequestPlan,
    auditID: string,
    stage: AuditStage,
    receivedTime: string,
    stageTime: string,
  ) {
    this.line = line;
    this.auditID = auditID;
    this.stage = stage;
    this.#plan = plan;
    this.#receivedTime = receivedTime;
    this.#stageTime = stageTime;
  }

  get event(): SimAuditEvent {
    this.#event ??= buildEvent(this.#plan, this.auditID, this.stage, this.#receivedTime, this.#stageTime);
    return this.#event;
  }
}

const DEFAULT_START_MS = Date.UTC(2025, 0, 1);
const DEFAULT_LARGE_EVENT_RATIO = 0.005;
const DEFAULT_CLOCK_STEP_MS = 2;
const PODS = 48;
const ZERO_UUID = '00000000-0000-4000-8000-000000000000';

/** Produces an endless, deterministic stream of audit log lines. */
export class AuditEventGenerator {
  readonly #rng: Prng;
  readonly #encoder = new GoJsonEncoder();
  readonly #times = new MicroTimeFormatter();
  readonly #ctx: ScenarioContext;
  readonly #pending = new MinHeap<PendingStage>(
    (a, b) => a.atMicros < b.atMicros || (a.atMicros === b.atMicros && a.seq < b.seq),
  );
  readonly #stepMicros: number;
  readonly #largeEventRatio: number;
  readonly #hugeLine: { readonly afterLines: number; readonly bytes: number } | undefined;
  // Mutable state, all here: simulated clock, counters, and the large-line budget.
  #nextArrivalMicros: number;
  #seq = 0;
  #lines = 0;
  #largeCredit = 0;
  #hugeDone = false;
  #resourceVersion: number;

  constructor(options: AuditEventGeneratorOptions) {
    const startMs = options.startTime === undefined ? DEFAULT_START_MS : Number(options.startTime);
    const ratio = options.largeEventRatio ?? DEFAULT_LARGE_EVENT_RATIO;
    const stepMs = options.clockStepMs ?? DEFAULT_CLOCK_STEP_MS;
    const problems: string[] = [];
    if (!Number.isInteger(options.seed)) problems.push('seed must be an integer');
    if (!Number.isFinite(startMs)) problems.push('startTime must be a valid time');
    if (!(ratio >= 0 && ratio <= 1)) problems.push('largeEventRatio must be between 0 and 1');
    if (!(stepMs > 0)) problems.push('clockStepMs must be positive');
    if (options.hugeLine !== undefined && !(options.hugeLine.bytes > 0 && options.hugeLine.afterLines >= 0)) {
      problems.push('hugeLine needs afterLines >= 0 and bytes > 0');
    }
    if (problems.length > 0) {
      throw new ForwarderError('KAF_USAGE', `Invalid generator options: ${problems.join('; ')}.`);
    }
    this.#rng = new Prng(options.seed);
    this.#stepMicros = stepMs * 1000;
    this.#largeEventRatio = ratio;
    this.#hugeLine = options.hugeLine;
    this.#nextArrivalMicros = Math.round(startMs * 1000);
    this.#resourceVersion = 48_000_000 + this.#rng.int(1_000_000);
    this.#ctx = this.#buildWorld(startMs);
    for (const status of [okStatus(101), okStatus(200), okStatus(201), PANIC_STATUS])
      this.#encoder.intern(status);
  }

  /** Number of lines produced so far. */
  get linesGenerated(): number {
    return this.#lines;
  }

  /** The next line, without '\n'. */
  nextLine(): string {
    return this.nextEvent().line;
  }

  /** The next line with its auditID, stage and event object. */
  nextEvent(): GeneratedEvent {
    for (;;) {
      const due = this.#pending.peek();
      if (due !== undefined && due.atMicros <= this.#nextArrivalMicros) {
        this.#pending.pop();
        return this.#emit(due.plan, due.text, due.auditID, due.stage, due.receivedMicros, due.atMicros);
      }
      const now = this.#nextArrivalMicros;
      this.#nextArrivalMicros += Math.max(1, Math.round(this.#rng.exponential(this.#stepMicros)));
      const auditID = this.#rng.uuidV4();
      const plan = this.#planNext(now);
      const text = encodePlan(plan, this.#encoder);
      if (plan.longRunning) {
        const startedAfter = Math.min(plan.durationMicros - 1, 500 + this.#rng.int(30_000));
        this.#schedule(plan, text, auditID, 'ResponseStarted', now, now + Math.max(1, startedAfter));
      }
      const final = plan.panicked ? 'Panic' : 'ResponseComplete';
      this.#schedule(plan, text, auditID, final, now, now + plan.durationMicros);
      return this.#emit(plan, text, auditID, 'RequestReceived', now, now);
    }
  }

  #planNext(now: number): RequestPlan {
    const huge = this.#hugeLine;
    if (huge !== undefined && !this.#hugeDone && this.#lines >= huge.afterLines) {
      this.#hugeDone = true;
      return this.#planHuge(huge.bytes);
    }
    // A budget rather than a coin flip per request: the share of large lines tracks the ratio
    // closely even in short runs, while the exact positions stay random.
    if (this.#largeEventRatio > 0 && this.#rng.float() < this.#largeCredit) {
      this.#largeCredit -= 1;
      return planLargeRequest(this.#ctx);
    }
    return planRequest(this.#ctx, now);
  }

  /** Pads a ConfigMap create so its final line is exactly `bytes` long. */
  #planHuge(bytes: number): RequestPlan {
    const name = `huge-${this.#rng.suffix(6)}`;
    const large = this.#ctx.large;
    const probe = planHugeRequest(this.#ctx, large.exactConfigMap(name, 0, 0), name);
    // Every auditID and MicroTime has the same length, so placeholders measure the real line.
    const time = this.#times.format(0);
    const measure = (plan: RequestPlan): number =>
      Buffer.byteLength(
        renderLine(
          encodePlan(plan, this.#encoder),
          plan,
          ZERO_UUID,
          plan.panicked ? 'Panic' : 'ResponseComplete',
          time,
          time,
        ),
      );
    const emptyBytes = measure(probe);
    if (emptyBytes > bytes) {
      throw new ForwarderError(
        'KAF_USAGE',
        `Invalid generator options: hugeLine.bytes must be at least ${emptyBytes}.`,
      );
    }
    // Fill most of the room with escaped, non-ASCII text, then pad with ASCII to the exact size.
    let textChars = Math.floor((bytes - emptyBytes) * 0.7);
    for (;;) {
      const withText = { ...probe, requestObject: large.exactConfigMap(name, textChars, 0) };
      const room = bytes - measure(withText);
      if (room >= 0) return { ...probe, requestObject: large.exactConfigMap(name, textChars, room) };
      textChars = Math.floor(textChars / 2);
    }
  }

  #schedule(
    plan: RequestPlan,
    text: PlanText,
    auditID: string,
    stage: AuditStage,
    receivedMicros: number,
    atMicros: number,
  ): void {
    this.#pending.push({ atMicros, seq: this.#seq++, stage, auditID, receivedMicros, plan, text });
  }

  #emit(
    plan: RequestPlan,
    text: PlanText,
    auditID: string,
    stage: AuditStage,
    receivedMicros: number,
    atMicros: number,
  ): GeneratedEvent {
    const receivedTime = this.#times.format(receivedMicros);
    const stageTime = atMicros === receivedMicros ? receivedTime : this.#times.format(atMicros);
    this.#lines++;
    this.#largeCredit += this.#largeEventRatio;
    const line = renderLine(text, plan, auditID, stage, receivedTime, stageTime);
    return new GeneratedLine(line, plan, auditID, stage, receivedTime, stageTime);
  }

  /** Builds the cluster: identities, pods, deployments, configmaps, and the large-body cache. */
  #buildWorld(startMs: number): ScenarioContext {
    const rng = this.#rng;
    const encoder = this.#encoder;
    const catalog = buildCatalog(rng, encoder);
    const createdAt = new Date(startMs - (3 + rng.int(60)) * 86_400_000)
      .toISOString()
      .replace(/\.\d+Z$/, 'Z');
    const bodies: BodyContext = {
      rng,
      encoder,
      createdAt,
      nextResourceVersion: () => String(++this.#resourceVersion),
    };
    const pods: StoredPod[] = [];
    for (let i = 0; i < PODS; i++) {
      const node = rng.pick(catalog.nodes);
      pods.push(buildPod(bodies, rng.pick(catalog.workloads), node.nodeName, node.nodeIP));
    }
    const deployments = catalog.workloads.map((workload) => buildDeployment(bodies, workload));
    const configMaps = catalog.workloads.flatMap((workload) => [
      buildConfigMap(bodies, workload.namespace, `${workload.app}-config`),
      buildConfigMap(bodies, workload.namespace, 'kube-root-ca.crt'),
    ]);
    return Object.freeze({
      rng,
      catalog,
      pods: Object.freeze(pods),
      deployments: Object.freeze(deployments),
      configMaps: Object.freeze(configMaps),
      large: new LargeBodies(bodies, pods),
      nextResourceVersion: bodies.nextResourceVersion,
      formatTime: (epochMicros: number) => this.#times.format(epochMicros),
      encoder,
      authorizationAnnotations: new Map(),
    });
  }
}

export type { AuditLevel, AuditStage, SimAuditEvent, SimObjectRef, SimStatus, SimUserInfo };
