#!/usr/bin/env node
// Composition root and CLI: parses argv, loads the config, wires the forwarder, owns signals and
// exit codes. The only module that touches process.*.
import { parseArgs } from 'node:util';
import { runCheckpointCommand } from './cli/checkpoint-command.ts';
import type { CliIo } from './cli/io.ts';
import { runStatusCommand } from './cli/status-command.ts';
import { loadConfigFile } from './config/load.ts';
import { ConfigError, describeError, ForwarderError } from './errors.ts';
import { Forwarder } from './forwarder.ts';
import { createLogger } from './logger.ts';
import { VERSION } from './version.ts';

const USAGE = `k8s-audit-forwarder ${VERSION}: ships Kubernetes API server audit logs to your SIEM.

Usage:
  k8s-audit-forwarder run --config FILE           run the daemon
  k8s-audit-forwarder check-config --config FILE  validate a config and print it, secrets masked
  k8s-audit-forwarder status [--url URL] [--json] summary of a running daemon (exit 1: failing sink or data loss)
  k8s-audit-forwarder checkpoint show|reset|clear-data-loss --state-dir DIR ...
                                                  inspect or repair the checkpoint offline (--help for details)
  k8s-audit-forwarder --version | --help

Options:
  -c, --config FILE   the YAML configuration (see config/forwarder.example.yaml)
  --status-listen A   override status.listen, e.g. 127.0.0.1:0

Exit codes: 0 ok, 1 invalid config or runtime failure, 2 usage error.
`;

async function main(argv: readonly string[]): Promise<number> {
  // Each of these commands parses its own options.
  const io: CliIo = { stdout: process.stdout, stderr: process.stderr, env: process.env };
  if (argv[0] === 'status') return runStatusCommand(argv.slice(1), io);
  if (argv[0] === 'checkpoint') {
    return runCheckpointCommand(argv.slice(1), io, { procDir: '/proc', selfPid: process.pid });
  }
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      allowPositionals: true,
      options: {
        config: { type: 'string', short: 'c' },
        'status-listen': { type: 'string' },
        version: { type: 'boolean', short: 'v' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (error) {
    process.stderr.write(`${describeError(error)}\n\n${USAGE}`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.version) {
    process.stdout.write(`${VERSION}\n`);
    return 0;
  }
  const command = positionals[0];
  if (values.help || command === undefined || command === 'help') {
    process.stdout.write(USAGE);
    return command === undefined && !values.help ? 2 : 0;
  }
  switch (command) {
    case 'run':
    case 'check-config': {
      if (values.config === undefined) {
        process.stderr.write(`${command}: --config FILE is required\n`);
        return 2;
      }
      let config;
      try {
        config = await loadConfigFile(values.config, process.env);
      } catch (error) {
        if (error instanceof ConfigError) {
          process.stderr.write(`${values.config}: ${error.message}\n`);
          return 1;
        }
        throw error;
      }
      if (command === 'check-config') {
        // Secrets serialize as "[redacted]" through their toJSON.
        process.stdout.write(`${JSON.stringify(config, null, 2)}\n`);
        process.stderr.write(`${values.config}: configuration is valid\n`);
        return 0;
      }
      return runDaemon(config, values['status-listen']);
    }
    default:
      process.stderr.write(`unknown command "${command}"\n\n${USAGE}`);
      return 2;
  }
}

async function runDaemon(
  config: Awaited<ReturnType<typeof loadConfigFile>>,
  statusListen: string | undefined,
): Promise<number> {
  const log = createLogger(config.logLevel);
  let reportFatal: (reason: 'fatal') => void = () => undefined;
  const fatal = new Promise<'fatal'>((resolve) => {
    reportFatal = resolve;
  });
  let forwarder: Forwarder;
  try {
    forwarder = new Forwarder(config, {
      log,
      stdout: process.stdout,
      ...(statusListen !== undefined && { statusListen }),
      onFatal: () => {
        reportFatal('fatal');
      },
    });
    await forwarder.start();
  } catch (error) {
    log.fatal({ err: error }, 'Cannot start the forwarder.');
    return 1;
  }
  const signal = new Promise<NodeJS.Signals>((resolve) => {
    process.once('SIGTERM', () => {
      resolve('SIGTERM');
    });
    process.once('SIGINT', () => {
      resolve('SIGINT');
    });
  });
  const reason = await Promise.race([signal, fatal]);
  log.info({ reason }, 'Stopping: flushing in-flight events and saving the checkpoint.');
  // A second signal means the operator does not want to wait for the drain.
  const forceExit = (): void => {
    log.warn('Second signal: exiting now; unacknowledged events will be re-read on start.');
    process.exit(1);
  };
  process.once('SIGTERM', forceExit);
  process.once('SIGINT', forceExit);
  await forwarder.stop();
  return reason === 'fatal' ? 1 : 0;
}

main(process.argv.slice(2)).then(
  (code) => {
    // Exit explicitly: a stray handle (a watcher, a keep-alive socket) must not keep a stopped daemon alive.
    process.exit(code);
  },
  (error: unknown) => {
    const code = error instanceof ForwarderError ? error.code : 'UNEXPECTED';
    process.stderr.write(`k8s-audit-forwarder: ${code}: ${describeError(error)}\n`);
    process.exitCode = 1;
  },
);
