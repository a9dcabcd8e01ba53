// What a CLI command may touch: its output streams and the environment, handed in by main.ts (the
// only module that touches process.*), so that commands run in-process in tests.

/** The part of a stream the commands use (process.stdout in production). */
export interface OutputStream {
  write(text: string): unknown;
  readonly isTTY?: boolean;
}

/** A command's view of the outside world. */
export interface CliIo {
  readonly stdout: OutputStream;
  readonly stderr: OutputStream;
  readonly env: Readonly<Record<string, string | undefined>>;
}

/** Exit codes shared by the commands. */
export const EXIT_OK = 0;
/** The command ran and found a problem (status), or refused or failed (checkpoint). */
export const EXIT_PROBLEM = 1;
/** Wrong usage, or (status) the daemon could not be asked. */
export const EXIT_UNAVAILABLE = 2;

/**
 * Colour only for a terminal, and never when NO_COLOR is set to anything (no-color.org) or the
 * terminal is dumb; FORCE_COLOR (not "0") turns it on for pipes, e.g. `watch --color`.
 */
export function useColor(stream: OutputStream, env: CliIo['env']): boolean {
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return false;
  if (env.FORCE_COLOR !== undefined && env.FORCE_COLOR !== '' && env.FORCE_COLOR !== '0') return true;
  return stream.isTTY === true && env.TERM !== 'dumb';
}

/** The few styles the CLI uses. */
export type Tone = 'red' | 'yellow' | 'green' | 'bold' | 'dim';

const SGR: Readonly<Record<Tone, string>> = { red: '31', yellow: '33', green: '32', bold: '1', dim: '2' };

/** Paints text with ANSI SGR codes when colour is on; identity otherwise. */
export type Paint = (tone: Tone, text: string) => string;

/** A Paint that colours, or one that returns the text unchanged. */
export function painter(color: boolean): Paint {
  return color ? (tone, text) => `\u001b[${SGR[tone]}m${text}\u001b[0m` : (_tone, text) => text;
}
