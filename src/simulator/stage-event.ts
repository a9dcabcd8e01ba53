// Turns a RequestPlan into the event (and line) of one of its stages. The parts of a line that do
// not depend on the stage are encoded once per request (PlanText), because each request yields two
// or three lines and encoding dominates the generator's cost.
import type { AuditStage, SimAuditEvent } from './audit-types.ts';
import { type GoJsonEncoder, goJson } from './go-json.ts';
import type { RequestPlan } from './scenarios.ts';

/** The stage-independent JSON fragments of one request's lines. */
export interface PlanText {
  /** From "requestURI" to "objectRef", each field preceded by a comma. */
  readonly middle: string;
  readonly responseStatus: string;
  /** requestObject and responseObject, only on the final stage. */
  readonly bodies: string;
  readonly annotations: string;
}

/** Encodes what every stage of `plan` shares; shared objects come from the encoder's cache. */
export function encodePlan(plan: RequestPlan, encoder: GoJsonEncoder): PlanText {
  const { identity } = plan;
  let middle = `,"requestURI":${goJson(plan.requestURI)},"verb":${goJson(plan.verb)},"user":${encoder.encode(identity.user)}`;
  if (plan.impersonatedUser !== undefined) {
    middle += `,"impersonatedUser":${encoder.encode(plan.impersonatedUser)}`;
  }
  middle += `,"sourceIPs":${encoder.encode(identity.sourceIPs)},"userAgent":${goJson(identity.userAgent)}`;
  if (plan.objectRef !== undefined) middle += `,"objectRef":${encoder.encode(plan.objectRef)}`;
  let bodies = '';
  if (plan.requestObject !== undefined) bodies += `,"requestObject":${encoder.encode(plan.requestObject)}`;
  if (plan.responseObject !== undefined) bodies += `,"responseObject":${encoder.encode(plan.responseObject)}`;
  return {
    middle,
    responseStatus: `,"responseStatus":${encoder.encode(plan.status)}`,
    bodies,
    annotations: `,"annotations":${encoder.encode(plan.annotations)}`,
  };
}

function isFinal(stage: AuditStage): boolean {
  return stage === 'ResponseComplete' || stage === 'Panic';
}

/**
 * One stage's line. RequestReceived is logged before the handler runs: no status, bodies or
 * annotations yet. Bodies go on the final stage only.
 */
export function renderLine(
  text: PlanText,
  plan: RequestPlan,
  auditID: string,
  stage: AuditStage,
  receivedTime: string,
  stageTime: string,
): string {
  const head = `{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"${plan.level}","auditID":"${auditID}","stage":"${stage}"${text.middle}`;
  const times = `,"requestReceivedTimestamp":"${receivedTime}","stageTimestamp":"${stageTime}"`;
  if (stage === 'RequestReceived') return `${head}${times}}`;
  return `${head}${text.responseStatus}${isFinal(stage) ? text.bodies : ''}${times}${text.annotations}}`;
}

type MutableEvent = { -readonly [K in keyof SimAuditEvent]: SimAuditEvent[K] };

/** The same stage as an object, keys in Go's order, optional fields omitted (never undefined). */
export function buildEvent(
  plan: RequestPlan,
  auditID: string,
  stage: AuditStage,
  receivedTime: string,
  stageTime: string,
): SimAuditEvent {
  const { identity } = plan;
  // Fields are added in Go's order below; the literal holds only the leading, always-present ones.
  const event = {
    kind: 'Event',
    apiVersion: 'audit.k8s.io/v1',
    level: plan.level,
    auditID,
    stage,
    requestURI: plan.requestURI,
    verb: plan.verb,
    user: identity.user,
  } as MutableEvent;
  if (plan.impersonatedUser !== undefined) event.impersonatedUser = plan.impersonatedUser;
  event.sourceIPs = identity.sourceIPs;
  event.userAgent = identity.userAgent;
  if (plan.objectRef !== undefined) event.objectRef = plan.objectRef;
  const received = stage === 'RequestReceived';
  if (!received) event.responseStatus = plan.status;
  if (isFinal(stage) && plan.requestObject !== undefined) event.requestObject = plan.requestObject;
  if (isFinal(stage) && plan.responseObject !== undefined) event.responseObject = plan.responseObject;
  event.requestReceivedTimestamp = receivedTime;
  event.stageTimestamp = stageTime;
  if (!received) event.annotations = plan.annotations;
  return event;
}
