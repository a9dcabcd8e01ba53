// Renders a persisted checkpoint for `checkpoint show`, and a reset plan for `checkpoint reset`.
// Offsets are printed as exact byte counts: they are what an operator passes back to --to.
import type { CheckpointDocument } from './checkpoint-file.ts';
import type { OffsetChange } from './checkpoint-reset.ts';
import { formatAgo, formatBytes, formatCount, renderTable } from './format.ts';
import type { Paint } from './io.ts';

/** Where the checkpoint is, how to paint, and the time ages are measured from. */
export interface CheckpointRenderOptions {
  readonly path: string;
  readonly paint: Paint;
  readonly nowMs: number;
  /** Earlier copies next to it (set aside as corrupt, or kept before a reset). */
  readonly setAside?: readonly string[];
}

/** The `checkpoint show` text: one block per file with each sink's offset, then data-loss records. */
export function renderCheckpoint(document: CheckpointDocument, options: CheckpointRenderOptions): string {
  const { paint, nowMs } = options;
  const out: string[] = [
    `${paint('bold', `checkpoint ${options.path}`)} · written ${document.writtenAt} (${formatAgo(document.writtenAt, nowMs)}) · ` +
      (document.files.length === 1 ? '1 file' : `${document.files.length} files`),
  ];
  for (const entry of document.files) {
    out.push('');
    out.push(paint('bold', entry.path));
    out.push(
      `  key ${entry.key} · dev ${entry.dev} ino ${entry.ino} · fingerprint ${entry.fingerprint.slice(0, 12)}… ` +
        `(${entry.fingerprintBytes} bytes) · ${entry.state} · size ${entry.size}`,
    );
    const rows = Object.entries(entry.offsets).map(([sink, offset]) => {
      const behind = entry.size - offset;
      return [
        `  ${sink}`,
        String(offset),
        behind > 0
          ? { text: `${formatBytes(behind)} behind`, paint: (text: string) => paint('yellow', text) }
          : 'caught up',
      ];
    });
    if (rows.length === 0) out.push(paint('dim', '  no sink offsets recorded'));
    else out.push(...renderTable(['  SINK', 'OFFSET', ''], rows).slice(1));
  }
  if (document.files.length === 0) out.push('', 'no files recorded');
  if (document.dataLoss.length > 0) {
    out.push('');
    out.push(
      paint(
        'red',
        `DATA LOSS: ${document.dataLoss.length === 1 ? '1 record' : `${document.dataLoss.length} records`}`,
      ),
    );
    for (const record of document.dataLoss) {
      const atLeast = record.unreadBytesIsLowerBound === true ? 'at least ' : '';
      const bySink = Object.entries(record.unreadBytesBySink ?? {})
        .map(([sink, bytes]) => `${sink} ${formatCount(bytes)}`)
        .join(', ');
      out.push(
        paint(
          'red',
          `  ${record.path} (${record.key}): ${atLeast}${formatCount(record.unreadBytes)} bytes unread` +
            `${bySink === '' ? '' : ` (${bySink})`} · ${record.reason} · detected ${record.detectedAt}`,
        ),
      );
    }
  }
  if (options.setAside !== undefined && options.setAside.length > 0) {
    out.push('');
    out.push(paint('dim', `earlier copies: ${options.setAside.join(', ')}`));
  }
  return `${out.join('\n')}\n`;
}

/** "sink: from → to (re-sends N / skips N)" per change. */
export function renderChanges(changes: readonly OffsetChange[], paint: Paint): string[] {
  return changes.map((change) => {
    const delta = change.from - change.to;
    const effect =
      delta > 0
        ? paint('yellow', `${formatBytes(delta)} will be sent again (duplicates where the sink keeps no ids)`)
        : paint('red', `${formatBytes(-delta)} will be skipped: those events will not reach ${change.sink}`);
    return `  ${change.path} [${change.key}] ${change.sink}: ${change.from} → ${change.to}: ${effect}`;
  });
}
