// Plans a `checkpoint reset`: which entries and sinks move to which offset, and what that means
// (events sent again, or never sent). Pure: the files' facts are gathered beforehand, so every
// refusal and every figure is unit-tested without touching a disk.
import type { CheckpointDocument, CheckpointEntry, FileOnDisk } from './checkpoint-file.ts';

/** --to: the file's start, the end of its last complete line, or a byte offset. */
export type ResetTarget = 'beginning' | 'end' | number;

/** What the operator asked `checkpoint reset` for. */
export interface ResetRequest {
  /** A checkpoint key, or a file path as recorded; undefined with `all`. */
  readonly file?: string;
  readonly all: boolean;
  readonly to: ResetTarget;
  /** Only these sinks' offsets; default every sink the entry records. */
  readonly sinks: readonly string[];
}

/** One sink's offset in one file, before and after. */
export interface OffsetChange {
  readonly key: string;
  readonly path: string;
  readonly sink: string;
  readonly from: number;
  readonly to: number;
}

/** The new document and what changes, or why the reset is refused. */
export type ResetPlan =
  | {
      readonly ok: true;
      readonly document: CheckpointDocument;
      readonly changes: readonly OffsetChange[];
      readonly notes: readonly string[];
    }
  | { readonly ok: false; readonly error: string };

/** Parses --to: "beginning", "end" or a byte offset. */
export function parseResetTarget(text: string): ResetTarget | undefined {
  if (text === 'beginning' || text === 'end') return text;
  if (!/^\d+$/.test(text)) return undefined;
  const offset = Number(text);
  return Number.isSafeInteger(offset) ? offset : undefined;
}

/** The entries a request names: all of them, the one with that key, or those recorded at that path. */
export function selectEntries(
  document: CheckpointDocument,
  request: Pick<ResetRequest, 'file' | 'all'>,
): { ok: true; entries: CheckpointEntry[] } | { ok: false; error: string } {
  if (request.all) return { ok: true, entries: [...document.files] };
  const wanted = request.file ?? '';
  const byKey = document.files.filter((entry) => entry.key === wanted);
  if (byKey.length > 0) return { ok: true, entries: byKey };
  const byPath = document.files.filter(
    (entry) => entry.path === wanted || stripSlashes(entry.path) === stripSlashes(wanted),
  );
  if (byPath.length === 1) return { ok: true, entries: byPath };
  if (byPath.length > 1) {
    return {
      ok: false,
      error:
        `${byPath.length} entries were recorded at ${wanted} (the file was replaced); name one by its key:\n` +
        byPath.map((entry) => `  ${entry.key}  ${entry.state}  ${entry.size} bytes`).join('\n'),
    };
  }
  const known = document.files.map((entry) => `  ${entry.key}  ${entry.path}`).join('\n');
  return {
    ok: false,
    error: `no checkpoint entry has the key or path ${JSON.stringify(wanted)}${known === '' ? ' (the checkpoint has no files)' : `; known:\n${known}`}`,
  };
}

function stripSlashes(path: string): string {
  return path.replace(/\/+$/, '');
}

/**
 * Computes the new document. `facts` holds, per entry key, what is at the entry's path now; an
 * offset is checked against the file's current size and line starts when the file is still there.
 */
export function planReset(
  document: CheckpointDocument,
  request: ResetRequest,
  facts: ReadonlyMap<string, FileOnDisk>,
): ResetPlan {
  if (request.all && typeof request.to === 'number') {
    return {
      ok: false,
      error: '--all takes --to beginning or --to end; a byte offset only makes sense for one file',
    };
  }
  const selected = selectEntries(document, request);
  if (!selected.ok) return selected;
  if (selected.entries.length === 0) return { ok: false, error: 'the checkpoint has no files to reset' };

  const changes: OffsetChange[] = [];
  const notes: string[] = [];
  const files = document.files.map((entry) => ({ ...entry, offsets: { ...entry.offsets } }));
  for (const original of selected.entries) {
    const entry = files.find((candidate) => candidate.key === original.key);
    if (!entry) continue;
    const recorded = Object.keys(entry.offsets);
    const sinks = request.sinks.length > 0 ? request.sinks : recorded;
    if (sinks.length === 0) {
      return {
        ok: false,
        error: `${entry.path} (${entry.key}) records no sink offsets; name the sink with --sink`,
      };
    }
    const unknown = sinks.filter((sink) => !recorded.includes(sink));
    if (unknown.length > 0 && !request.all) {
      return {
        ok: false,
        error: `${entry.path} (${entry.key}) has no offset for sink ${unknown.join(', ')}; it records: ${recorded.join(', ') || 'none'}`,
      };
    }
    const fact = facts.get(entry.key) ?? { isSameFile: false, isCompressed: false };
    const target = resolveTarget(entry, request.to, fact);
    if (!target.ok) return { ok: false, error: `${entry.path}: ${target.error}` };
    if (target.note !== undefined) notes.push(`${entry.path}: ${target.note}`);
    if (fact.size !== undefined && fact.size > entry.size) entry.size = fact.size;
    for (const sink of sinks) {
      const from = entry.offsets[sink];
      if (from === undefined) continue;
      if (from !== target.offset)
        changes.push({ key: entry.key, path: entry.path, sink, from, to: target.offset });
      entry.offsets[sink] = target.offset;
    }
    // A finished file is never read again; one with bytes left to send must be picked up again.
    const lowest = Math.min(...Object.values(entry.offsets));
    if (entry.state === 'finished' && lowest < entry.size) entry.state = 'rotated';
  }
  if (changes.length === 0) notes.push('every selected offset already has that value; nothing changes');
  return { ok: true, document: { ...document, files }, changes, notes };
}

function resolveTarget(
  entry: CheckpointEntry,
  to: ResetTarget,
  fact: FileOnDisk,
): { ok: true; offset: number; note?: string } | { ok: false; error: string } {
  if (to === 'beginning') return { ok: true, offset: 0 };
  if (to === 'end') {
    if (fact.lineAlignedEnd !== undefined) return { ok: true, offset: fact.lineAlignedEnd };
    return {
      ok: true,
      offset: entry.size,
      note: fact.isSameFile
        ? 'compressed: its end is taken from the checkpoint'
        : `not found at this path; its end is the size the checkpoint recorded (${entry.size} bytes)`,
    };
  }
  const size = fact.size ?? entry.size;
  if (to > size) {
    return {
      ok: false,
      error: `offset ${to} is beyond the file's ${fact.size === undefined ? 'recorded ' : ''}size of ${size} bytes`,
    };
  }
  if (fact.boundary && !fact.boundary.isLineStart) {
    const next = fact.boundary.nextLineStart;
    return {
      ok: false,
      error:
        `offset ${to} is inside a line (its tail would be dead-lettered as invalid JSON)` +
        (next === undefined ? '' : `; the next line starts at ${next}: use --to ${next}`),
    };
  }
  if (!fact.isSameFile || fact.isCompressed) {
    return {
      ok: true,
      offset: to,
      note: `not checked against the file (${fact.isCompressed ? 'compressed' : 'not found at this path'}): make sure ${to} is where a line starts`,
    };
  }
  return { ok: true, offset: to };
}
