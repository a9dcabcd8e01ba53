// Turns a /status document into the `status` command's verdict and its compact human summary.
// Pure: the same document and time always give the same text, so both are unit-tested.
import type { DataLossView, FileStatusView, SinkStatusView, StatusSnapshot } from '../status/snapshot.ts';
import { formatAgo, formatBytes, formatCount, formatDuration, renderTable, type Row } from './format.ts';
import { EXIT_OK, EXIT_PROBLEM, type Paint } from './io.ts';

/** The verdict of `status` on a /status document. */
export interface StatusAssessment {
  /** 0: healthy (retries in progress are not a problem); 1: an operator must look. */
  readonly exitCode: typeof EXIT_OK | typeof EXIT_PROBLEM;
  /** Why the exit code is 1. */
  readonly problems: readonly string[];
  /** Worth knowing, not failing: retrying sinks, start-up checks still pending. */
  readonly warnings: readonly string[];
}

/** A sink that is failing, recorded data loss, or an unusable checkpoint make the verdict 1. */
export function assessStatus(snapshot: StatusSnapshot): StatusAssessment {
  const problems: string[] = [];
  const warnings: string[] = [];
  for (const sink of snapshot.sinks) {
    if (sink.state === 'failing')
      problems.push(`sink ${sink.name} is failing${reasonSuffix(sink.lastError)}`);
    else if (sink.state === 'retrying')
      warnings.push(`sink ${sink.name} is retrying${reasonSuffix(sink.lastError)}`);
    else if (sink.state === 'starting')
      warnings.push(`sink ${sink.name} has not passed its start-up check yet`);
  }
  if (snapshot.dataLoss.length > 0) {
    problems.push(
      `data was lost: ${plural(snapshot.dataLoss.length, 'file')} removed before every sink read it ` +
        `(${formatBytes(totalLostBytes(snapshot.dataLoss))})`,
    );
  }
  if (snapshot.checkpoint.error !== undefined) {
    problems.push(`the checkpoint cannot be used: ${snapshot.checkpoint.error}`);
  } else if (snapshot.readinessChecks.some((check) => check.name === 'checkpoint' && !check.ok)) {
    // Data-loss records live in the checkpoint: right after start they are not known yet.
    warnings.push('the checkpoint is still being opened (data-loss records not known yet)');
  }
  return { exitCode: problems.length > 0 ? EXIT_PROBLEM : EXIT_OK, problems, warnings };
}

/** How to paint, and the time ages are measured from. */
export interface RenderOptions {
  readonly paint: Paint;
  readonly nowMs: number;
}

/** The compact summary: header, sinks, files with lag, data loss, readiness, verdict. */
export function renderStatus(snapshot: StatusSnapshot, options: RenderOptions): string {
  const { paint, nowMs } = options;
  const assessment = assessStatus(snapshot);
  const out: string[] = [];

  const readiness = snapshot.ready ? paint('green', 'ready') : paint('yellow', 'not ready');
  out.push(
    `${paint('bold', `k8s-audit-forwarder ${snapshot.version}`)} · cluster ${snapshot.cluster} · node ${snapshot.node} · ` +
      `up ${formatDuration(snapshot.uptimeSeconds)} · ${readiness}`,
  );
  const checkpoint = snapshot.checkpoint;
  const written =
    checkpoint.lastPersistedAt === undefined
      ? 'not written yet'
      : `written ${formatAgo(checkpoint.lastPersistedAt, nowMs)}`;
  out.push(
    `checkpoint ${checkpoint.path} · ${plural(checkpoint.entries, 'file')} · ${written}` +
      (checkpoint.pendingChanges ? ' · changes pending' : ''),
  );
  if (checkpoint.error !== undefined) out.push(paint('red', `  checkpoint error: ${checkpoint.error}`));
  out.push('');

  out.push(...renderSinks(snapshot.sinks, options));
  out.push('');
  out.push(...renderFiles(snapshot.files, snapshot.sinks, paint));

  if (snapshot.dataLoss.length > 0) {
    out.push('');
    out.push(...renderDataLoss(snapshot.dataLoss, paint));
  }
  if (!snapshot.ready) {
    out.push('');
    out.push(paint('yellow', 'not ready:'));
    for (const reason of snapshot.notReadyReasons) out.push(`  - ${reason}`);
  }
  const deadLetter = snapshot.deadLetter;
  if (deadLetter.count > 0) {
    const reasons = Object.entries(deadLetter.bySink)
      .map(
        ([sink, byReason]) =>
          `${sink}: ${Object.entries(byReason)
            .map(([reason, count]) => `${reason} ${formatCount(count)}`)
            .join(', ')}`,
      )
      .join('; ');
    out.push('');
    out.push(
      paint('yellow', `dead-letter: ${plural(deadLetter.count, 'record')} since start`) +
        `${reasons === '' ? '' : ` (${reasons})`} → ${deadLetter.path}`,
    );
  }

  out.push('');
  if (assessment.exitCode === EXIT_OK) {
    const note = assessment.warnings.length > 0 ? ` (${assessment.warnings.join('; ')})` : '';
    out.push(paint('green', 'OK') + note);
  } else {
    out.push(paint('red', `PROBLEM: ${assessment.problems.join('; ')}`));
    for (const warning of assessment.warnings) out.push(paint('yellow', `also: ${warning}`));
  }
  return `${out.join('\n')}\n`;
}

function renderSinks(sinks: readonly SinkStatusView[], { paint, nowMs }: RenderOptions): string[] {
  const rows: Row[] = [];
  const details: (string | undefined)[] = [];
  for (const sink of sinks) {
    const tone = sink.state === 'ok' ? 'green' : sink.state === 'failing' ? 'red' : 'yellow';
    rows.push([
      sink.name,
      sink.type,
      { text: sink.state, paint: (text) => paint(tone, text) },
      sink.lagBytes > 0 ? `${formatBytes(sink.lagBytes)} / ${formatDuration(sink.lagSeconds)}` : '0',
      sink.inFlightBatches > 0
        ? `${plural(sink.inFlightBatches, 'batch', 'batches')}, ${formatBytes(sink.inFlightBytes)}`
        : '0',
      formatCount(sink.delivered),
      formatCount(sink.retried),
      formatCount(sink.deadLettered),
      formatAgo(sink.lastSuccessAt, nowMs),
    ]);
    details.push(
      sink.state !== 'ok' && sink.lastError !== undefined
        ? `${sink.state}${sink.failingSince === undefined ? '' : ` since ${formatAgo(sink.failingSince, nowMs)}`}: ${sink.lastError}`
        : undefined,
    );
  }
  const table = renderTable(
    ['SINK', 'TYPE', 'STATE', 'LAG', 'IN FLIGHT', 'DELIVERED', 'RETRIED', 'DEAD-LETTERED', 'LAST SUCCESS'],
    rows,
  );
  const out = [paint('bold', table[0] ?? '')];
  table.slice(1).forEach((line, index) => {
    out.push(line);
    const detail = details[index];
    if (detail !== undefined)
      out.push(paint(sinks[index]?.state === 'failing' ? 'red' : 'yellow', `  └ ${detail}`));
  });
  return out;
}

/** Files with something left to deliver, and the active file; finished ones are only counted. */
function renderFiles(
  files: readonly FileStatusView[],
  sinks: readonly SinkStatusView[],
  paint: Paint,
): string[] {
  const shown = files.filter(
    (file) => file.state !== 'lost' && (file.state === 'active' || file.lagBytes > 0),
  );
  const finished = files.filter((file) => file.state === 'finished' && file.lagBytes === 0).length;
  const rows: Row[] = shown.map((file) => {
    const behind = sinks
      .map((sink) => ({ name: sink.name, lag: file.sinks[sink.name]?.lagBytes ?? 0 }))
      .filter((entry) => entry.lag > 0)
      .map((entry) => `${entry.name} ${formatBytes(entry.lag)}`)
      .join(', ');
    return [
      file.path,
      file.state + (file.compressed ? ' (gz)' : ''),
      formatBytes(file.size),
      behind === ''
        ? 'caught up'
        : `${behind}${file.lagSeconds > 0 ? ` / ${formatDuration(file.lagSeconds)}` : ''}`,
    ];
  });
  if (rows.length === 0) {
    return [
      files.length === 0
        ? 'no audit file found yet'
        : `no file with lag (${plural(finished, 'finished file')})`,
    ];
  }
  const table = renderTable(['FILE', 'STATE', 'SIZE', 'NOT YET ACKNOWLEDGED'], rows);
  const out = [paint('bold', table[0] ?? ''), ...table.slice(1)];
  if (finished > 0) out.push(paint('dim', `(and ${plural(finished, 'finished file')})`));
  return out;
}

function renderDataLoss(records: readonly DataLossView[], paint: Paint): string[] {
  const out = [
    paint(
      'red',
      `DATA LOSS: ${plural(records.length, 'file')} removed before every sink read it; ` +
        `${formatBytes(totalLostBytes(records))} of audit events never reached every sink`,
    ),
  ];
  for (const record of records) {
    const bySink = Object.entries(record.unreadBytesBySink ?? {})
      .filter(([, bytes]) => bytes > 0)
      .map(([sink, bytes]) => `${sink} ${formatBytes(bytes)}`)
      .join(', ');
    const atLeast = record.unreadBytesIsLowerBound === true ? 'at least ' : '';
    out.push(
      paint(
        'red',
        `  ${record.path}: ${atLeast}${formatBytes(record.unreadBytes)} unread` +
          `${bySink === '' ? '' : ` (${bySink})`} · ${record.reason} · detected ${record.detectedAt}`,
      ),
    );
  }
  return out;
}

function totalLostBytes(records: readonly DataLossView[]): number {
  return records.reduce((sum, record) => sum + record.unreadBytes, 0);
}

function reasonSuffix(reason: string | undefined): string {
  return reason === undefined ? '' : `: ${reason}`;
}

function plural(count: number, noun: string, nouns = `${noun}s`): string {
  return `${formatCount(count)} ${count === 1 ? noun : nouns}`;
}
