// In-memory CliIo for running commands in-process: captured stdout/stderr, chosen TTY-ness and env.
import type { CliIo } from '../../../src/cli/io.ts';

export interface CapturedIo extends CliIo {
  out(): string;
  err(): string;
}

export function captureIo(options: { isTTY?: boolean; env?: Record<string, string> } = {}): CapturedIo {
  let out = '';
  let err = '';
  return {
    stdout: {
      isTTY: options.isTTY ?? false,
      write: (text: string) => {
        out += text;
        return true;
      },
    },
    stderr: {
      write: (text: string) => {
        err += text;
        return true;
      },
    },
    env: options.env ?? {},
    out: () => out,
    err: () => err,
  };
}

/** A fetch that answers every request with `body` (JSON) or fails like a closed port. */
export function fakeFetch(body: unknown, status = 200): typeof fetch {
  return () =>
    Promise.resolve(
      new Response(typeof body === 'string' ? body : JSON.stringify(body), {
        status,
        headers: { 'content-type': 'application/json' },
      }),
    );
}

export const refusedFetch: typeof fetch = () =>
  Promise.reject(
    new TypeError('fetch failed', {
      cause: Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:9880'), { code: 'ECONNREFUSED' }),
    }),
  );
