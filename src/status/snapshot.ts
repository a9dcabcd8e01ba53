// The shape of GET /status: what ops read to decide whether audit data is flowing, how far
// behind it is and whether anything was lost. Built fresh per request; never holds secrets.
import type { LaneStatus } from '../pipeline/lane.ts';

export interface FileStatusView {
  readonly key: string;
  readonly path: string;
  readonly state: string;
  readonly size: number;
  /** Lowest acknowledged offset across sinks: what the checkpoint guarantees. */
  readonly acknowledgedOffset: number;
  /** Per sink: acknowledged and read offsets. */
  readonly sinks: Readonly<Record<string, { readonly acknowledgedOffset: number; readonly readOffset: number }>>;
  readonly lagBytes: number;
  readonly lastWriteAt?: string;
}

export interface DataLossView {
  readonly path: string;
  readonly key: string;
  readonly unreadBytes: number;
  readonly detectedAt: string;
  readonly reason: string;
}

export interface StatusSnapshot {
  readonly version: string;
  readonly startedAt: string;
  readonly uptimeSeconds: number;
  readonly ready: boolean;
  readonly notReadyReasons: readonly string[];
  readonly cluster: string;
  readonly node: string;
  readonly source: { readonly path: string };
  readonly checkpoint: {
    readonly path: string;
    readonly lastPersistedAt?: string;
    readonly entries: number;
    readonly error?: string;
  };
  readonly files: readonly FileStatusView[];
  readonly sinks: readonly (LaneStatus & { readonly lagBytes: number; readonly lagSeconds: number })[];
  readonly dataLoss: readonly DataLossView[];
  readonly deadLetter: { readonly path: string; readonly count: number };
}
