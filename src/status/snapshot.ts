// The shape of GET /status: what ops read to decide whether audit data is flowing, how far
// behind it is and whether anything was lost. Built fresh per request; never holds secrets.
// The `status` CLI reads this document, so fields are only ever added, never renamed.
import type { LaneStatus } from '../pipeline/lane.ts';

/** A file's lifecycle: written by the API server, renamed away, read to the end by every sink, or gone unread. */
export type FileState = 'active' | 'rotated' | 'finished' | 'lost';

/** What recognises a file across renames: device, inode and a hash of its first bytes. */
export interface FileIdentityView {
  readonly dev: number;
  readonly ino: number;
  /** SHA-256 (hex) of the first `fingerprintBytes` bytes of the (uncompressed) content; absent for a lost file. */
  readonly fingerprint?: string;
  readonly fingerprintBytes?: number;
}

/** One sink's progress in one file. Offsets are bytes of the (uncompressed) content. */
export interface FileSinkView {
  /** Everything before it was delivered or dead-lettered by this sink. */
  readonly acknowledgedOffset: number;
  /** Everything before it was read by this sink's lane; absent before reading started. */
  readonly readOffset?: number;
  /** size - acknowledgedOffset. */
  readonly lagBytes: number;
}

export interface FileStatusView {
  /** Checkpoint key of the file's identity. */
  readonly key: string;
  readonly path: string;
  readonly identity?: FileIdentityView;
  readonly state: FileState;
  /** A gzip-compressed backup (read by decompressing; `size` is then the trailer's figure). */
  readonly compressed: boolean;
  /** Bytes of content known. */
  readonly size: number;
  /** Lowest acknowledged offset across sinks: what the checkpoint guarantees for every sink. */
  readonly acknowledgedOffset: number;
  /** size - acknowledgedOffset. */
  readonly lagBytes: number;
  /**
   * A lower bound of the age of the oldest bytes not yet acknowledged by every sink: the time since the
   * file's last write when anything is unacknowledged, else 0. The sinks' lagSeconds are more precise.
   */
  readonly lagSeconds: number;
  /** The file's last write (mtime), ISO 8601. */
  readonly modifiedAt?: string;
  readonly sinks: Readonly<Record<string, FileSinkView>>;
}

/** starting: the start-up check has not passed yet (and has not failed). */
export type SinkStateView = 'starting' | 'ok' | 'retrying' | 'failing';

/** A lane's status (see LaneStatus for the fields) with the start-up state and its lag. */
export interface SinkStatusView extends Omit<LaneStatus, 'state'> {
  readonly state: SinkStateView;
  /** Bytes of the audit files not yet acknowledged by this sink (read or not). */
  readonly lagBytes: number;
  /**
   * How far behind this sink is, in seconds: the age of the oldest event read but not acknowledged, or,
   * when larger, the time since the last write of a file it has not finished. 0 when caught up.
   */
  readonly lagSeconds: number;
}

/** A file removed before every sink read it: these events never reached (some) sinks. */
export interface DataLossView {
  readonly path: string;
  readonly key: string;
  readonly dev?: number;
  readonly ino?: number;
  /** The most any sink missed. */
  readonly unreadBytes: number;
  readonly unreadBytesBySink?: Readonly<Record<string, number>>;
  /** True when the file may have grown after its size was last recorded: the loss is at least this. */
  readonly unreadBytesIsLowerBound?: boolean;
  readonly detectedAt: string;
  /** e.g. deleted-before-read, truncated-before-read. */
  readonly reason: string;
}

/** One condition of /readyz. */
export interface ReadinessCheck {
  /** config, checkpoint, sink/<name>. */
  readonly name: string;
  readonly ok: boolean;
  readonly reason?: string;
}

/** GET /status. */
export interface StatusSnapshot {
  readonly version: string;
  readonly startedAt: string;
  readonly uptimeSeconds: number;
  /** True once the config is loaded, the checkpoint open and every sink's start-up check passed. */
  readonly ready: boolean;
  readonly readinessChecks: readonly ReadinessCheck[];
  /** The failing readiness checks as sentences (also the body of a 503 /readyz). */
  readonly notReadyReasons: readonly string[];
  readonly cluster: string;
  readonly node: string;
  readonly source: { readonly path: string };
  readonly checkpoint: {
    readonly path: string;
    readonly lastPersistedAt?: string;
    /** Seconds since the checkpoint was last written (or since start, when it never was). */
    readonly ageSeconds: number;
    /** Acknowledgements not written yet (they are, within checkpoint.intervalMs, unless writes fail). */
    readonly pendingChanges: boolean;
    /** Files it describes. */
    readonly entries: number;
    /** Why it cannot be opened (corrupt, state directory not writable); reading waits until fixed. */
    readonly error?: string;
  };
  readonly files: readonly FileStatusView[];
  readonly sinks: readonly SinkStatusView[];
  /** Kept in the checkpoint (newest 100), so they survive restarts until cleared by an operator. */
  readonly dataLoss: readonly DataLossView[];
  readonly deadLetter: {
    readonly path: string;
    /** Records written since start. */
    readonly count: number;
    /** Records written since start, per sink and reason. */
    readonly bySink: Readonly<Record<string, Readonly<Record<string, number>>>>;
  };
}
