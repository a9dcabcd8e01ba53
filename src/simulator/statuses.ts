// responseStatus values and annotation helpers, worded as the API server words them, so that
// parsers and SIEM rules see realistic failure messages.
import type { SimObjectRef, SimStatus } from './audit-types.ts';

const OK_STATUSES: Readonly<Record<101 | 200 | 201, SimStatus>> = Object.freeze({
  101: Object.freeze({ metadata: Object.freeze({}), code: 101 }),
  200: Object.freeze({ metadata: Object.freeze({}), code: 200 }),
  201: Object.freeze({ metadata: Object.freeze({}), code: 201 }),
});

/** `{"metadata":{},"code":N}`: how success statuses appear. Shared frozen objects, so encoders can cache them. */
export function okStatus(code: 101 | 200 | 201): SimStatus {
  return OK_STATUSES[code];
}

function kindDetails(ref: SimObjectRef): NonNullable<SimStatus['details']> {
  // StatusDetails field order: name, group, kind.
  return {
    ...(ref.name === undefined ? {} : { name: ref.name }),
    ...(ref.apiGroup === undefined ? {} : { group: ref.apiGroup }),
    kind: ref.resource,
  };
}

function qualifiedResource(ref: SimObjectRef): string {
  return ref.apiGroup === undefined ? ref.resource : `${ref.resource}.${ref.apiGroup}`;
}

/** 404 NotFound for a named object. */
export function notFound(ref: SimObjectRef): SimStatus {
  return {
    metadata: {},
    status: 'Failure',
    message: `${qualifiedResource(ref)} "${ref.name ?? ''}" not found`,
    reason: 'NotFound',
    details: kindDetails(ref),
    code: 404,
  };
}

/** 403 Forbidden from RBAC, with the scope wording the authorizer uses. */
export function forbidden(ref: SimObjectRef, username: string, verb: string): SimStatus {
  const subject = ref.name === undefined ? qualifiedResource(ref) : `${qualifiedResource(ref)} "${ref.name}"`;
  const scope = ref.namespace === undefined ? 'at the cluster scope' : `in the namespace "${ref.namespace}"`;
  return {
    metadata: {},
    status: 'Failure',
    message: `${subject} is forbidden: User "${username}" cannot ${verb} resource "${ref.resource}" in API group "${ref.apiGroup ?? ''}" ${scope}`,
    reason: 'Forbidden',
    details: kindDetails(ref),
    code: 403,
  };
}

/** 409 Conflict: optimistic-concurrency failure on update. */
export function conflict(ref: SimObjectRef): SimStatus {
  return {
    metadata: {},
    status: 'Failure',
    message: `Operation cannot be fulfilled on ${qualifiedResource(ref)} "${ref.name ?? ''}": the object has been modified; please apply your changes to the latest version and try again`,
    reason: 'Conflict',
    details: kindDetails(ref),
    code: 409,
  };
}

/** 409 AlreadyExists on create. */
export function alreadyExists(ref: SimObjectRef): SimStatus {
  return {
    metadata: {},
    status: 'Failure',
    message: `${qualifiedResource(ref)} "${ref.name ?? ''}" already exists`,
    reason: 'AlreadyExists',
    details: kindDetails(ref),
    code: 409,
  };
}

/** The status of a Panic-stage event (filters/audit.go). */
export const PANIC_STATUS: SimStatus = Object.freeze({
  metadata: Object.freeze({}),
  status: 'Failure',
  message: "APIServer panic'd: runtime error: invalid memory address or nil pointer dereference",
  reason: 'InternalError',
  code: 500,
});

/** Formats nanoseconds like Go's time.Duration.String(): "561.927µs", "7.85594907s", "4m7.5s". */
export function formatGoDuration(nanos: number): string {
  if (nanos < 1000) return `${nanos}ns`;
  if (nanos < 1_000_000) return `${trimFraction(nanos / 1000)}µs`;
  if (nanos < 1_000_000_000) return `${trimFraction(nanos / 1_000_000)}ms`;
  const totalSeconds = nanos / 1_000_000_000;
  const hours = Math.floor(totalSeconds / 3600);
  const minutes = Math.floor((totalSeconds - hours * 3600) / 60);
  const seconds = trimFraction((nanos - (hours * 3600 + minutes * 60) * 1_000_000_000) / 1_000_000_000);
  if (hours > 0) return `${hours}h${minutes}m${seconds}s`;
  if (minutes > 0) return `${minutes}m${seconds}s`;
  return `${seconds}s`;
}

function trimFraction(value: number): string {
  // Go prints at most 9 significant fractional digits and no trailing zeros.
  return value.toFixed(9).replace(/\.?0+$/, '');
}

/** Builds an annotations map with sorted keys, as Go's encoder writes maps. */
export function sortedAnnotations(
  entries: readonly (readonly [string, string])[],
): Readonly<Record<string, string>> {
  const sorted = [...entries].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return Object.fromEntries(sorted);
}
