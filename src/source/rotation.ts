// Pure classification of what happened to the active path between two looks at it.
// The API server only ever rotates by rename+create (audit-format.md §5); a shrink or a changed head
// on the same inode means an outside tool truncated the file (copytruncate, or by hand).

/** What a stat of the active path (plus a look at its head) tells. */
export interface PathStat {
  readonly dev: number;
  readonly ino: number;
  readonly size: number;
  /** False when the first bytes no longer match the fingerprint taken earlier; undefined = not checked. */
  readonly headMatches?: boolean;
}

export type RotationKind =
  /** Same file, nothing new. */
  | 'same'
  /** Same file, appended to. */
  | 'grown'
  /** The path now names another file (rename+create, or delete+create): the old one is final. */
  | 'rotated'
  /** Same inode but smaller, or with other first bytes: truncated in place (copytruncate). */
  | 'truncated'
  /** Nothing at the path (renamed or deleted, the new file not created yet). */
  | 'gone'
  /** A file appeared where there was none. */
  | 'created'
  /** Still nothing at the path. */
  | 'absent';

/** Compares the file we follow at the active path (`previous`) with what the path holds now (`next`). */
export function classifyRotation(previous: PathStat | undefined, next: PathStat | undefined): RotationKind {
  if (previous === undefined) return next === undefined ? 'absent' : 'created';
  if (next === undefined) return 'gone';
  if (next.dev !== previous.dev || next.ino !== previous.ino) return 'rotated';
  if (next.size < previous.size || next.headMatches === false) return 'truncated';
  return next.size > previous.size ? 'grown' : 'same';
}
