// `k8s-audit-forwarder checkpoint show|reset|clear-data-loss`: the operator's offline tools for the
// persisted checkpoint. Changes need --yes, are refused while a daemon uses the state directory
// (it would overwrite them), keep the previous file next to the new one, and are written atomically.
import { parseArgs } from 'node:util';
import { describeError } from '../errors.ts';
import {
  type CheckpointDocument,
  type CheckpointEntry,
  entriesAtEnd,
  type FileOnDisk,
  inspectEntryFile,
  listSetAsideCopies,
  readCheckpoint,
  replaceCheckpoint,
  keepCorruptCopy,
  writeFreshCheckpoint,
} from './checkpoint-file.ts';
import { parseResetTarget, planReset, selectEntries } from './checkpoint-reset.ts';
import { findDaemons } from './daemon-probe.ts';
import { type CliIo, EXIT_OK, EXIT_PROBLEM, EXIT_UNAVAILABLE, painter, type Paint, useColor } from './io.ts';
import { renderChanges, renderCheckpoint } from './render-checkpoint.ts';
import { DEFAULT_STATUS_URL } from './status-command.ts';

export const CHECKPOINT_USAGE = `Usage:
  k8s-audit-forwarder checkpoint show --state-dir DIR [--json]
  k8s-audit-forwarder checkpoint reset --state-dir DIR (--file PATH_OR_KEY | --all)
                                       --to beginning|end|OFFSET [--sink NAME]... --yes
  k8s-audit-forwarder checkpoint clear-data-loss --state-dir DIR --yes

Offline tools for the checkpoint in DIR (the config's state.dir). Stop the forwarder first: it keeps
the checkpoint in memory and would overwrite a change at its next save. (A forwarder waiting on a
corrupt checkpoint holds nothing: repair it in place, it picks the new one up within 30 s.)

show             the files, each sink's acknowledged offset (bytes), states and data-loss records
reset            moves offsets: "beginning" sends the file again (duplicates), "end" skips what is
                 unsent (loss), OFFSET must be where a line starts. Without --sink every sink moves.
                 --all with a corrupt checkpoint sets it aside so the daemon can start: with
                 --to beginning every file is read again from its start; with --to end also give
                 --source (the audit log path) and --sink for each sink, and files start at their end.
clear-data-loss  forgets the data-loss records once they were dealt with (status then exits 0)

Options:
  --state-dir DIR      directory holding checkpoint.json
  --file PATH_OR_KEY   one entry, by its key or the path it was recorded at
  --all                every entry
  --to WHERE           beginning, end, or a byte offset
  --sink NAME          only this sink (repeatable)
  --source PATH        with a corrupt checkpoint and --to end: the audit log path (source.path)
  --backup-glob GLOB   with --source: the config's source.backupGlob, if set
  --yes                apply; without it the plan is printed and nothing changes
  --force              apply even though a running forwarder seems to use DIR
  --url URL            where to look for a running forwarder (default ${DEFAULT_STATUS_URL})
  --json               (show) print the checkpoint as JSON

Exit codes: 0 done, 1 refused or failed (nothing changed), 2 wrong usage.
`;

/** Test seams: the HTTP client for the daemon probe, the clock, the process table. */
export interface CheckpointCommandDeps {
  readonly fetch?: typeof fetch;
  readonly now?: () => Date;
  /** /proc on Linux; undefined skips the process scan. */
  readonly procDir?: string;
  readonly selfPid?: number;
}

function parseCheckpointArgs(argv: readonly string[]) {
  return parseArgs({
    args: [...argv],
    allowPositionals: true,
    options: {
      'state-dir': { type: 'string' },
      json: { type: 'boolean', default: false },
      file: { type: 'string' },
      all: { type: 'boolean', default: false },
      to: { type: 'string' },
      sink: { type: 'string', multiple: true, default: [] },
      source: { type: 'string' },
      'backup-glob': { type: 'string' },
      yes: { type: 'boolean', default: false },
      force: { type: 'boolean', default: false },
      url: { type: 'string', default: DEFAULT_STATUS_URL },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
}

type Values = ReturnType<typeof parseCheckpointArgs>['values'];

interface Context {
  readonly io: CliIo;
  readonly deps: CheckpointCommandDeps;
  readonly values: Values;
  readonly stateDir: string;
  readonly paint: Paint;
  readonly now: Date;
}

/** Runs `checkpoint <show|reset|clear-data-loss>` (arguments after "checkpoint"); resolves with the exit code. */
export async function runCheckpointCommand(
  argv: readonly string[],
  io: CliIo,
  deps: CheckpointCommandDeps = {},
): Promise<number> {
  let parsed;
  try {
    parsed = parseCheckpointArgs(argv);
  } catch (error) {
    return usageError(io, describeError(error));
  }
  const { values, positionals } = parsed;
  const action = positionals[0];
  if (values.help || action === undefined) {
    (action === undefined && !values.help ? io.stderr : io.stdout).write(CHECKPOINT_USAGE);
    return values.help ? EXIT_OK : EXIT_UNAVAILABLE;
  }
  if (positionals.length > 1) return usageError(io, `unexpected argument ${JSON.stringify(positionals[1])}`);
  const stateDir = values['state-dir'];
  if (stateDir === undefined) return usageError(io, `${action}: --state-dir DIR is required`);
  const context: Context = {
    io,
    deps,
    values,
    stateDir,
    paint: painter(useColor(io.stdout, io.env)),
    now: (deps.now ?? (() => new Date()))(),
  };
  try {
    switch (action) {
      case 'show':
        return await show(context);
      case 'reset':
        return await reset(context);
      case 'clear-data-loss':
        return await clearDataLoss(context);
      default:
        return usageError(io, `unknown checkpoint command ${JSON.stringify(action)}`);
    }
  } catch (error) {
    io.stderr.write(
      `checkpoint ${action}: ${describeError(error)}\nNothing was changed unless stated above.\n`,
    );
    return EXIT_PROBLEM;
  }
}

function usageError(io: CliIo, message: string): number {
  io.stderr.write(`checkpoint: ${message}\n\n${CHECKPOINT_USAGE}`);
  return EXIT_UNAVAILABLE;
}

async function show({ io, values, stateDir, paint, now }: Context): Promise<number> {
  const read = await readCheckpoint(stateDir);
  switch (read.kind) {
    case 'missing':
      io.stderr.write(
        `No checkpoint at ${read.path}: the forwarder has not saved one yet (or --state-dir is wrong).\n`,
      );
      return EXIT_PROBLEM;
    case 'corrupt':
      io.stderr.write(
        `${paint('red', `The checkpoint ${read.path} is corrupt: ${read.reason}.`)}\n` +
          'Set it aside so the forwarder can start, reading every file again:\n' +
          `  k8s-audit-forwarder checkpoint reset --state-dir ${stateDir} --all --to beginning --yes\n`,
      );
      return EXIT_PROBLEM;
    case 'ok':
      if (values.json) io.stdout.write(`${JSON.stringify(read.document, null, 2)}\n`);
      else {
        const setAside = await listSetAsideCopies(stateDir);
        io.stdout.write(
          renderCheckpoint(read.document, { path: read.path, paint, nowMs: now.getTime(), setAside }),
        );
      }
      return EXIT_OK;
  }
}

async function reset(context: Context): Promise<number> {
  const { io, values, stateDir, paint, now } = context;
  if ((values.file === undefined) === !values.all)
    return usageError(io, 'reset: give either --file PATH_OR_KEY or --all');
  if (values.to === undefined) return usageError(io, 'reset: --to beginning|end|OFFSET is required');
  const to = parseResetTarget(values.to);
  if (to === undefined)
    return usageError(
      io,
      `reset: --to expects beginning, end or a byte offset, got ${JSON.stringify(values.to)}`,
    );
  if (values.all && typeof to === 'number') {
    return usageError(
      io,
      'reset: --all takes --to beginning or --to end; a byte offset only makes sense for one file',
    );
  }

  const read = await readCheckpoint(stateDir);
  if (read.kind === 'missing') {
    io.stderr.write(
      `No checkpoint at ${read.path}: nothing to reset. Files the forwarder has not seen start where source.startAt says.\n`,
    );
    return EXIT_PROBLEM;
  }
  if (read.kind === 'corrupt') {
    if (!values.all) {
      io.stderr.write(
        `The checkpoint ${read.path} is corrupt (${read.reason}): its entries cannot be changed one by one.\n` +
          `Reset it whole: k8s-audit-forwarder checkpoint reset --state-dir ${stateDir} --all --to beginning|end --yes\n`,
      );
      return EXIT_PROBLEM;
    }
    return resetCorrupt(context, read.path, read.reason, to === 'end' ? 'end' : 'beginning');
  }

  const selected = selectEntries(read.document, {
    all: values.all,
    ...(values.file !== undefined && { file: values.file }),
  });
  if (!selected.ok) {
    io.stderr.write(`reset: ${selected.error}\n`);
    return EXIT_PROBLEM;
  }
  // The plan is pure; what the files look like now is gathered first, so offsets can be checked.
  const facts = new Map<string, FileOnDisk>();
  for (const entry of selected.entries) {
    facts.set(entry.key, await inspectEntryFile(entry, typeof to === 'number' ? to : undefined));
  }
  const plan = planReset(
    read.document,
    { all: values.all, to, sinks: values.sink, ...(values.file !== undefined && { file: values.file }) },
    facts,
  );
  if (!plan.ok) {
    io.stderr.write(`reset: ${plan.error}\nNothing was changed.\n`);
    return EXIT_PROBLEM;
  }
  io.stdout.write(`Reset of ${read.path}:\n`);
  for (const line of renderChanges(plan.changes, paint)) io.stdout.write(`${line}\n`);
  for (const note of plan.notes) io.stdout.write(`  note: ${note}\n`);
  // The plan is printed before any check so that an operator sees what --yes would do.
  if (plan.changes.length === 0) return EXIT_OK;
  if (!(await confirm(context))) return EXIT_PROBLEM;
  // The previous file is kept next to it: a wrong reset can be undone by renaming it back.
  const { backup } = await replaceCheckpoint(stateDir, plan.document, 'reset', now);
  io.stdout.write(`Done. The previous checkpoint is kept as ${backup}.\nStart the forwarder to apply it.\n`);
  return EXIT_OK;
}

async function resetCorrupt(
  context: Context,
  path: string,
  reason: string,
  to: 'beginning' | 'end',
): Promise<number> {
  const { io, values, stateDir, paint, now } = context;
  // An unreadable checkpoint names no files and no sinks. "beginning" needs neither: an empty but valid
  // checkpoint makes the daemon treat every file as new and read it from 0 (not a first run, so
  // source.startAt does not apply). "end" needs entries for the files as they are now, for every sink.
  if (to === 'end' && (values.source === undefined || values.sink.length === 0)) {
    io.stderr.write(
      `The checkpoint ${path} is corrupt (${reason}), so it no longer says which files exist or which sinks there are.\n` +
        "To start every file at its end, also give --source (the config's source.path) and --sink NAME for each sink.\n" +
        'Or use --to beginning to read every file again (duplicates, no loss), or set checkpoint.onCorrupt: end.\n',
    );
    return EXIT_PROBLEM;
  }
  let entries: CheckpointEntry[] = [];
  if (to === 'end' && values.source !== undefined) {
    entries = await entriesAtEnd(values.source, values.sink, values['backup-glob']);
  }
  io.stdout.write(`${paint('red', `The checkpoint ${path} is corrupt: ${reason}.`)}\n`);
  io.stdout.write(
    `It will be kept as ${path}.corrupt-<time> and replaced (atomically) by a new one in which:\n`,
  );
  if (to === 'beginning') {
    io.stdout.write(
      paint(
        'yellow',
        '  every audit file is read again from its beginning (events already sent are sent again)\n',
      ),
    );
  } else {
    for (const entry of entries) {
      const offset = Object.values(entry.offsets)[0] ?? 0;
      io.stdout.write(
        `  ${entry.path}: ${entry.state === 'active' ? `starts at ${offset}` : 'skipped (finished)'}\n`,
      );
    }
    io.stdout.write(
      paint('red', '  what was not sent before is skipped: those events will not reach the sinks\n'),
    );
  }
  if (!(await confirm(context))) return EXIT_PROBLEM;
  const aside = await keepCorruptCopy(stateDir, now);
  await writeFreshCheckpoint(stateDir, entries, now);
  io.stdout.write(`Done. The corrupt checkpoint is kept as ${aside}.\nStart the forwarder.\n`);
  return EXIT_OK;
}

async function clearDataLoss(context: Context): Promise<number> {
  const { io, stateDir, paint, now } = context;
  const read = await readCheckpoint(stateDir);
  if (read.kind !== 'ok') {
    io.stderr.write(
      read.kind === 'missing'
        ? `No checkpoint at ${read.path}.\n`
        : `The checkpoint ${read.path} is corrupt: ${read.reason}.\n`,
    );
    return EXIT_PROBLEM;
  }
  const records = read.document.dataLoss;
  if (records.length === 0) {
    io.stdout.write('No data-loss records: nothing to clear.\n');
    return EXIT_OK;
  }
  io.stdout.write(
    `${paint('red', `${records.length === 1 ? '1 data-loss record' : `${records.length} data-loss records`} will be forgotten:`)}\n`,
  );
  for (const record of records) {
    io.stdout.write(
      `  ${record.path}: ${record.unreadBytes} bytes unread · ${record.reason} · detected ${record.detectedAt}\n`,
    );
  }
  io.stdout.write(
    'They stay in the logs (ERROR "Audit events lost") and in the kept copy of the checkpoint.\n',
  );
  if (!(await confirm(context))) return EXIT_PROBLEM;
  const document: CheckpointDocument = { ...read.document, dataLoss: [] };
  const { backup } = await replaceCheckpoint(stateDir, document, 'clear-data-loss', now);
  io.stdout.write(`Done. The previous checkpoint is kept as ${backup}.\n`);
  return EXIT_OK;
}

/** --yes given and no daemon using the state directory (or --force): the change may be written. */
async function confirm({ io, deps, values, stateDir, paint }: Context): Promise<boolean> {
  // Asked only once there is something to write, and before --yes, so a dry run also warns.
  const sightings = await findDaemons(stateDir, {
    statusUrl: values.url,
    ...(deps.fetch !== undefined && { fetch: deps.fetch }),
    ...(deps.procDir !== undefined && { procDir: deps.procDir }),
    selfPid: deps.selfPid ?? -1,
  });
  for (const sighting of sightings.filter((s) => s.usesStateDir && !s.holdsCheckpoint)) {
    io.stderr.write(`note: ${sighting.description}.\n`);
  }
  const certain = sightings.filter((sighting) => sighting.usesStateDir && sighting.holdsCheckpoint);
  for (const sighting of sightings.filter((s) => !s.usesStateDir)) {
    io.stderr.write(
      `${paint('yellow', 'warning:')} ${sighting.description}; if it uses ${stateDir}, stop it first.\n`,
    );
  }
  if (certain.length > 0) {
    const list = certain.map((sighting) => `  - ${sighting.description}\n`).join('');
    if (!values.force) {
      io.stderr.write(
        `${paint('red', 'Refusing: a running forwarder uses this state directory:')}\n${list}` +
          'It keeps the checkpoint in memory and would overwrite this change at its next save. Stop it first ' +
          '(or pass --force if this is wrong).\nNothing was changed.\n',
      );
      return false;
    }
    io.stderr.write(
      `${paint('yellow', 'warning: --force given although a running forwarder uses this state directory:')}\n${list}`,
    );
  }
  if (!values.yes) {
    io.stderr.write('Nothing was changed: add --yes to apply this.\n');
    return false;
  }
  return true;
}
