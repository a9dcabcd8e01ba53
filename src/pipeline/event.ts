// The shape of an audit event after parsing and enrichment, as handed to sinks.
// Sinks derive their own wire format from it (ECS document, HEC envelope, syslog message).

/** An audit.k8s.io Event as parsed from one line; only the fields we rely on are typed. */
export interface AuditEvent {
  readonly kind?: string;
  readonly apiVersion?: string;
  readonly level?: string;
  readonly auditID?: string;
  readonly stage?: string;
  readonly requestURI?: string;
  readonly verb?: string;
  readonly user?: {
    readonly username?: string;
    readonly uid?: string;
    readonly groups?: readonly string[];
    readonly extra?: Readonly<Record<string, readonly string[]>>;
  };
  readonly impersonatedUser?: { readonly username?: string; readonly groups?: readonly string[] };
  readonly sourceIPs?: readonly string[];
  readonly userAgent?: string;
  readonly objectRef?: Readonly<Record<string, string | undefined>>;
  readonly responseStatus?: {
    readonly code?: number;
    readonly status?: string;
    readonly reason?: string;
    readonly message?: string;
  };
  readonly requestObject?: unknown;
  readonly responseObject?: unknown;
  readonly requestReceivedTimestamp?: string;
  readonly stageTimestamp?: string;
  /** v1beta1 and older carry this too (seconds precision). */
  readonly timestamp?: string;
  readonly annotations?: Readonly<Record<string, string>>;
  readonly [key: string]: unknown;
}

/** Where an event came from: for dead-letter records and debugging. */
export interface EventOrigin {
  readonly path: string;
  readonly fileKey: string;
  readonly offset: number;
}

export interface OutEvent {
  /** The parsed event, untouched. Sinks must not mutate it. */
  readonly audit: AuditEvent;
  /** The original line as read (UTF-8), for sinks that forward it verbatim and for dead-letter. */
  readonly raw: string;
  /** Deterministic id of this event (cluster + auditID + stage), stable across re-reads. */
  readonly id: string;
  /** ISO-8601 time of the event: stageTimestamp, else requestReceivedTimestamp, else timestamp. */
  readonly timestamp: string;
  readonly cluster: string;
  readonly node: string;
  readonly origin: EventOrigin;
  /** Set when the size policy removed fields so that the event fits a sink. */
  readonly shrunk?: ShrinkInfo;
}

export interface ShrinkInfo {
  readonly removed: readonly string[];
  readonly originalBytes: number;
}
