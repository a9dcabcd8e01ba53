// CLI around SimulatedApiServer, so tests can run the "API server" as a separate process and kill
// it. Reports progress as JSON lines on stdout ({"event":"started"|"rotate"|...}) for the parent
// to synchronize on; runs until --count events were generated or SIGTERM/SIGINT.
import { randomInt } from 'node:crypto';
import { parseArgs } from 'node:util';
import { describeError } from '../errors.ts';
import { DEFAULT_MAX_SIZE_BYTES, SimulatedApiServer, type SimulatedApiServerOptions } from './apiserver.ts';

const USAGE = `Usage: node src/simulator/main.ts --path FILE [options]

  --path FILE              audit log path (--audit-log-path)
  --rate N|max             lines per second (default 1000; "max" = as fast as possible)
  --burst N                most lines per tick when catching up (default: 100 ms worth)
  --count N                stop after N events (default: run until SIGTERM)
  --max-size-bytes N       rotate before exceeding N bytes (default ${DEFAULT_MAX_SIZE_BYTES})
  --compress               gzip backups in the background
  --max-backups N          keep at most N backups (default 0 = all)
  --mill-delay-ms N        delay before each background delete/compress pass (default 0)
  --seed N                 generator seed (default: random, printed at start)
  --start-time ISO         simulated time of the first event (default: now)
  --clock-step-ms N        mean simulated time between requests (default 2)
  --large-event-ratio R    share of 10-300 KB lines (default 0.005)
  --huge-line-after N      emit one huge line after N lines...
  --huge-line-bytes N      ...of exactly N bytes
  --manifest FILE          record every written line, rotation, compression and removal (JSON lines)
`;

const FLAGS = {
  path: { type: 'string' },
  rate: { type: 'string' },
  burst: { type: 'string' },
  count: { type: 'string' },
  'max-size-bytes': { type: 'string' },
  compress: { type: 'boolean' },
  'max-backups': { type: 'string' },
  'mill-delay-ms': { type: 'string' },
  seed: { type: 'string' },
  'start-time': { type: 'string' },
  'clock-step-ms': { type: 'string' },
  'large-event-ratio': { type: 'string' },
  'huge-line-after': { type: 'string' },
  'huge-line-bytes': { type: 'string' },
  manifest: { type: 'string' },
  help: { type: 'boolean' },
} as const;

type Values = ReturnType<typeof parseArgs<{ options: typeof FLAGS }>>['values'];

/** Turns argv into simulator options, collecting every problem instead of stopping at the first. */
function toOptions(values: Values, problems: string[]): SimulatedApiServerOptions & { seed: number } {
  const number = (flag: keyof Values, min: number, integer = true): number | undefined => {
    const raw = values[flag];
    if (raw === undefined || typeof raw === 'boolean') return undefined;
    const value = Number(raw);
    if (!Number.isFinite(value) || value < min || (integer && !Number.isInteger(value))) {
      problems.push(
        `--${flag} must be ${integer ? 'an integer' : 'a number'} >= ${min}, got ${JSON.stringify(raw)}`,
      );
      return undefined;
    }
    return value;
  };
  if (values.path === undefined) problems.push('--path is required');
  const rate = values.rate === 'max' ? Infinity : number('rate', Number.MIN_VALUE, false);
  const startTime = values['start-time'] === undefined ? Date.now() : Date.parse(values['start-time']);
  if (Number.isNaN(startTime))
    problems.push(`--start-time must be an ISO date, got ${JSON.stringify(values['start-time'])}`);
  const hugeAfter = number('huge-line-after', 0);
  const hugeBytes = number('huge-line-bytes', 1);
  if ((hugeAfter === undefined) !== (hugeBytes === undefined)) {
    problems.push('--huge-line-after and --huge-line-bytes go together');
  }
  const seed = number('seed', 0) ?? randomInt(2 ** 31);
  const largeEventRatio = number('large-event-ratio', 0, false);
  const clockStepMs = number('clock-step-ms', Number.MIN_VALUE, false);
  const optional = <K extends string, V>(key: K, value: V | undefined): { [P in K]?: V } =>
    (value === undefined ? {} : { [key]: value }) as { [P in K]?: V };
  return {
    path: values.path ?? '',
    seed,
    compress: values.compress === true,
    generator: {
      startTime,
      ...optional('largeEventRatio', largeEventRatio),
      ...optional('clockStepMs', clockStepMs),
      ...(hugeAfter !== undefined && hugeBytes !== undefined
        ? { hugeLine: { afterLines: hugeAfter, bytes: hugeBytes } }
        : {}),
    },
    ...optional('ratePerSec', rate),
    ...optional('burstLines', number('burst', 1)),
    ...optional('count', number('count', 0)),
    ...optional('maxSizeBytes', number('max-size-bytes', 1)),
    ...optional('maxBackups', number('max-backups', 0)),
    ...optional('millDelayMs', number('mill-delay-ms', 0)),
    ...optional('manifestPath', values.manifest),
  };
}

function report(event: string, fields: Record<string, unknown> = {}): void {
  process.stdout.write(`${JSON.stringify({ event, ...fields })}\n`);
}

async function main(): Promise<number> {
  let values: Values;
  try {
    values = parseArgs({ options: FLAGS, strict: true, allowPositionals: false }).values;
  } catch (error) {
    process.stderr.write(`${describeError(error)}\n\n${USAGE}`);
    return 2;
  }
  if (values.help === true) {
    process.stdout.write(USAGE);
    return 0;
  }
  const problems: string[] = [];
  const options = toOptions(values, problems);
  if (problems.length > 0) {
    process.stderr.write(`Invalid arguments:\n  ${problems.join('\n  ')}\n\n${USAGE}`);
    return 2;
  }
  const server = new SimulatedApiServer(options);
  server.on('rotate', ({ backupPath, file }) => {
    report('rotate', { backup: backupPath, file });
  });
  server.on('compress', ({ from, to }) => {
    report('compress', { from, to });
  });
  server.on('remove', ({ path }) => {
    report('remove', { path });
  });
  server.on('drop', ({ auditID, stage, bytes }) => {
    report('drop', { auditID, stage, bytes });
  });
  server.on('millError', (error) => {
    process.stderr.write(`Mill pass failed: ${describeError(error)}\n`);
  });
  const stop = (): void => {
    void server.stop();
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  await server.start();
  report('started', { path: options.path, seed: options.seed, pid: process.pid });
  try {
    await server.finished();
  } catch (error) {
    process.stderr.write(`Simulator failed: ${describeError(error)}\n`);
    return 1;
  }
  report('finished', { ...server.stats() });
  return 0;
}

process.exitCode = await main();
