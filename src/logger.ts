// Builds the process logger: JSON lines through pino, with credential-looking fields redacted
// as a second line of defence behind the Secret type.
import { type DestinationStream, type Logger, type LevelWithSilent, pino } from 'pino';

const REDACT_PATHS = [
  '*.password',
  '*.apiKey',
  '*.token',
  '*.authorization',
  '*.Authorization',
  'headers.authorization',
  'req.headers.authorization',
  '*.key',
];

export function createLogger(level: LevelWithSilent, destination?: DestinationStream): Logger {
  return pino(
    {
      level,
      base: { name: 'k8s-audit-forwarder' },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    },
    destination,
  );
}
