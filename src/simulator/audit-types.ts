// The audit.k8s.io/v1 Event as the simulator builds it. Property order in these types is the
// order Go writes the fields (pkg/apis/audit/v1/types.go); builders must create objects in it.

/** Audit level of a policy rule. */
export type AuditLevel = 'Metadata' | 'Request' | 'RequestResponse';

/** Stage at which an event was generated. */
export type AuditStage = 'RequestReceived' | 'ResponseStarted' | 'ResponseComplete' | 'Panic';

/** authentication/v1 UserInfo. `extra` keys are sorted, as Go writes maps. */
export interface SimUserInfo {
  readonly username: string;
  readonly uid?: string;
  readonly groups?: readonly string[];
  readonly extra?: Readonly<Record<string, readonly string[]>>;
}

/** audit/v1 ObjectReference. */
export interface SimObjectRef {
  readonly resource: string;
  readonly namespace?: string;
  readonly name?: string;
  readonly uid?: string;
  readonly apiGroup?: string;
  readonly apiVersion?: string;
  readonly resourceVersion?: string;
  readonly subresource?: string;
}

/** metav1.Status as it appears in responseStatus. */
export interface SimStatus {
  readonly metadata: Readonly<Record<string, never>>;
  readonly status?: 'Success' | 'Failure';
  readonly message?: string;
  readonly reason?: string;
  readonly details?: { readonly name?: string; readonly group?: string; readonly kind?: string };
  readonly code: number;
}

/** One audit event, fields in Go's order; optional fields are absent (omitempty), never null. */
export interface SimAuditEvent {
  readonly kind: 'Event';
  readonly apiVersion: 'audit.k8s.io/v1';
  readonly level: AuditLevel;
  readonly auditID: string;
  readonly stage: AuditStage;
  readonly requestURI: string;
  readonly verb: string;
  readonly user: SimUserInfo;
  readonly impersonatedUser?: SimUserInfo;
  readonly sourceIPs: readonly string[];
  readonly userAgent: string;
  readonly objectRef?: SimObjectRef;
  readonly responseStatus?: SimStatus;
  readonly requestObject?: object;
  readonly responseObject?: object;
  readonly requestReceivedTimestamp: string;
  readonly stageTimestamp: string;
  readonly annotations?: Readonly<Record<string, string>>;
}
