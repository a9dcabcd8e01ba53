// The demo behind `npm start`: a simulated API server writes and rotates (gzip, backup deletion)
// an audit log under ./var/demo, and a forwarder ships it to a local file and serves its status.
// Runs until Ctrl-C, which stops both cleanly.
import { mkdir } from 'node:fs/promises';
import { resolve } from 'node:path';
import { type Logger, pino } from 'pino';
import { loadConfigFile } from '../config/load.ts';
import { Forwarder } from '../forwarder.ts';
import { createLogger } from '../logger.ts';
import { SimulatedApiServer } from '../simulator/apiserver.ts';

const CONFIG = new URL('../../config/demo.yaml', import.meta.url).pathname;
/** How long a stop waits for the forwarder to read the API server's last writes. */
const CATCH_UP_MS = 5000;
const PROGRESS_EVERY_MS = 2000;

async function main(): Promise<void> {
  const config = await loadConfigFile(CONFIG, process.env);
  const logPath = resolve('var/demo/forwarder.log');
  await mkdir(resolve('var/demo'), { recursive: true });
  const log = createLogger(config.logLevel, pino.destination({ dest: logPath, mkdir: true, sync: false }));

  // About 1.2 KB per event at 300 events/s: the 1 MiB file rotates every few seconds.
  const apiServer = new SimulatedApiServer({
    path: resolve(config.source.path),
    ratePerSec: 300,
    maxSizeBytes: 1024 * 1024,
    compress: true,
    maxBackups: 5,
    millDelayMs: 500,
    seed: Date.now() % 2_147_483_647,
  });
  const forwarder = await startForwarder(config, log);
  await apiServer.start();

  const output = resolve((config.sinks[0] as { path?: string }).path ?? '');
  process.stdout.write(
    [
      'k8s-audit-forwarder demo',
      `  simulated API server writing  ${resolve(config.source.path)} (rotates at 1 MiB, gzip, keeps 5 backups)`,
      `  events shipped to             ${output}`,
      `  status                        http://${forwarder.statusAddress ?? '?'}/status  (also /metrics /healthz /readyz)`,
      `  forwarder logs                ${logPath}`,
      '  Ctrl-C to stop.',
      '',
    ].join('\n'),
  );
  const progress = setInterval(() => {
    const snapshot = forwarder.snapshot();
    const sink = snapshot.sinks[0];
    const stats = apiServer.stats();
    process.stdout.write(
      `written ${stats.linesWritten} events (${stats.rotations} rotations) · delivered ${sink?.delivered ?? 0}` +
        ` · lag ${sink?.lagBytes ?? 0} bytes · dead-letter ${snapshot.deadLetter.count}` +
        ` · data loss ${snapshot.dataLoss.length}\n`,
    );
  }, PROGRESS_EVERY_MS);

  await new Promise<void>((done) => {
    process.once('SIGINT', done);
    process.once('SIGTERM', done);
  });
  clearInterval(progress);
  process.stdout.write(
    '\nStopping: the API server stops writing, the forwarder drains and saves its checkpoint…\n',
  );
  await apiServer.stop();
  // Reading stops at SIGTERM, so first let the forwarder read what the API server wrote last (briefly).
  const catchUpUntil = Date.now() + CATCH_UP_MS;
  while (Date.now() < catchUpUntil && (forwarder.snapshot().sinks[0]?.lagBytes ?? 0) > 0) {
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  await forwarder.stop();
  const sink = forwarder.snapshot().sinks[0];
  const written = apiServer.stats().linesWritten;
  const delivered = sink?.delivered ?? 0;
  process.stdout.write(
    `Done: ${written} events written, ${delivered} delivered${remark(written, delivered)}.\n`,
  );
}

function remark(written: number, delivered: number): string {
  if (delivered < written) return ' (the rest is read from the checkpoint on the next start)';
  if (delivered > written) return ' (with events an earlier run had not delivered)';
  return '';
}

async function startForwarder(
  config: Awaited<ReturnType<typeof loadConfigFile>>,
  log: Logger,
): Promise<Forwarder> {
  const forwarder = new Forwarder(config, { log, stdout: process.stdout });
  try {
    await forwarder.start();
    return forwarder;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw error;
    // Port 9880 is taken (another forwarder?): take any free port rather than fail the demo.
    const fallback = new Forwarder(config, { log, stdout: process.stdout, statusListen: '127.0.0.1:0' });
    await fallback.start();
    return fallback;
  }
}

await main();
process.exit(0);
