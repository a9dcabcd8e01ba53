// The one catalogue of errors the forwarder throws on purpose. Each has a stable code that
// operators can search for; remote failures are results (SendResult), never these.

export type ErrorCode =
  | 'KAF_CONFIG_INVALID'
  | 'KAF_CONFIG_UNREADABLE'
  | 'KAF_ENV_UNSET'
  | 'KAF_CHECKPOINT_CORRUPT'
  | 'KAF_CHECKPOINT_WRITE'
  | 'KAF_STATE_DIR'
  | 'KAF_SINK_HEALTHCHECK'
  | 'KAF_SINK_CONFIG'
  | 'KAF_DEAD_LETTER_WRITE'
  | 'KAF_SOURCE_READ'
  | 'KAF_USAGE';

export class ForwarderError extends Error {
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ForwarderError';
    this.code = code;
  }
}

export class ConfigError extends ForwarderError {
  /** Every problem found, one line each, with its YAML path. */
  readonly problems: readonly string[];

  constructor(problems: readonly string[], code: ErrorCode = 'KAF_CONFIG_INVALID') {
    super(code, `Invalid configuration:\n  ${problems.join('\n  ')}`);
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

export class CheckpointError extends ForwarderError {
  readonly file: string;

  constructor(
    code: 'KAF_CHECKPOINT_CORRUPT' | 'KAF_CHECKPOINT_WRITE',
    file: string,
    message: string,
    cause?: unknown,
  ) {
    super(code, `${message} (checkpoint file ${file})`, { cause });
    this.name = 'CheckpointError';
    this.file = file;
  }
}

/** Renders any thrown value as a one-line message without stack, for logs and /status. */
export function describeError(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    return typeof code === 'string' && !error.message.includes(code)
      ? `${code}: ${error.message}`
      : error.message;
  }
  return String(error);
}
