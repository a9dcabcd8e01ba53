// `k8s-audit-forwarder status`: asks a running daemon for GET /status and prints a compact summary
// (or the JSON). The exit code makes it a probe: 0 healthy, 1 a sink failing or data lost,
// 2 the daemon could not be asked.
import { parseArgs } from 'node:util';
import { describeError } from '../errors.ts';
import type { StatusSnapshot } from '../status/snapshot.ts';
import { EXIT_UNAVAILABLE, painter, useColor, type CliIo } from './io.ts';
import { assessStatus, renderStatus } from './render-status.ts';

/** status.listen's default, as a URL. */
export const DEFAULT_STATUS_URL = 'http://127.0.0.1:9880';
const DEFAULT_TIMEOUT_MS = 5000;

export const STATUS_USAGE = `Usage: k8s-audit-forwarder status [--url URL] [--json] [--timeout-ms N]

Reads GET /status from a running forwarder and prints sinks (state, lag, errors), files with lag,
data loss and dead-letter counts.

Options:
  --url URL        the daemon's status address (default ${DEFAULT_STATUS_URL}; "/status" may be included)
  --json           print the /status document as JSON instead of the summary
  --timeout-ms N   give up after N ms (default ${DEFAULT_TIMEOUT_MS})

Exit codes: 0 healthy (retries in progress included), 1 a sink is failing, data was lost or the
checkpoint is unusable, 2 the daemon could not be reached (or wrong usage).
`;

/** Test seams: the HTTP client and the clock. */
export interface StatusCommandDeps {
  readonly fetch?: typeof fetch;
  readonly now?: () => number;
}

/** Runs `status` with its arguments (after the command name); resolves with the exit code. */
export async function runStatusCommand(
  argv: readonly string[],
  io: CliIo,
  deps: StatusCommandDeps = {},
): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: {
        url: { type: 'string', default: DEFAULT_STATUS_URL },
        json: { type: 'boolean', default: false },
        'timeout-ms': { type: 'string', default: String(DEFAULT_TIMEOUT_MS) },
        help: { type: 'boolean', short: 'h', default: false },
      },
    }));
  } catch (error) {
    io.stderr.write(`status: ${describeError(error)}\n\n${STATUS_USAGE}`);
    return EXIT_UNAVAILABLE;
  }
  if (values.help) {
    io.stdout.write(STATUS_USAGE);
    return 0;
  }
  const timeoutMs = Number(values['timeout-ms']);
  if (!Number.isInteger(timeoutMs) || timeoutMs <= 0) {
    io.stderr.write(
      `status: --timeout-ms expects a positive integer, got ${JSON.stringify(values['timeout-ms'])}\n`,
    );
    return EXIT_UNAVAILABLE;
  }
  let url: URL;
  try {
    url = statusUrl(values.url);
  } catch {
    io.stderr.write(
      `status: --url expects an http(s) URL such as ${DEFAULT_STATUS_URL}, got ${JSON.stringify(values.url)}\n`,
    );
    return EXIT_UNAVAILABLE;
  }

  const fetched = await fetchStatus(url, timeoutMs, deps.fetch ?? fetch);
  if (!fetched.ok) {
    io.stderr.write(`status: cannot read ${url.href}: ${fetched.reason}\n`);
    io.stderr.write('Is the forwarder running, and is --url its status.listen address?\n');
    return EXIT_UNAVAILABLE;
  }
  const snapshot = fetched.snapshot;
  const assessment = assessStatus(snapshot);
  if (values.json) {
    io.stdout.write(`${JSON.stringify(snapshot, null, 2)}\n`);
  } else {
    const paint = painter(useColor(io.stdout, io.env));
    io.stdout.write(renderStatus(snapshot, { paint, nowMs: (deps.now ?? Date.now)() }));
  }
  return assessment.exitCode;
}

/** Accepts "http://host:port", ".../" or ".../status". */
/** The /status URL for a --url value. */
export function statusUrl(base: string): URL {
  const url = new URL(base);
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new TypeError('not an http(s) URL');
  if (!url.pathname.endsWith('/status')) url.pathname = `${url.pathname.replace(/\/+$/, '')}/status`;
  return url;
}

type FetchResult = { ok: true; snapshot: StatusSnapshot } | { ok: false; reason: string };

async function fetchStatus(url: URL, timeoutMs: number, fetchImpl: typeof fetch): Promise<FetchResult> {
  let response: Response;
  try {
    response = await fetchImpl(url, {
      signal: AbortSignal.timeout(timeoutMs),
      headers: { accept: 'application/json' },
    });
  } catch (error) {
    return { ok: false, reason: describeFetchError(error, timeoutMs) };
  }
  let text: string;
  try {
    text = await response.text();
  } catch (error) {
    return { ok: false, reason: describeFetchError(error, timeoutMs) };
  }
  if (!response.ok) return { ok: false, reason: `HTTP ${response.status}: ${text.slice(0, 200).trim()}` };
  let document: unknown;
  try {
    document = JSON.parse(text);
  } catch {
    return { ok: false, reason: 'the answer is not JSON (is this a k8s-audit-forwarder?)' };
  }
  if (!isStatusSnapshot(document)) {
    return { ok: false, reason: 'the answer is not a k8s-audit-forwarder /status document' };
  }
  return { ok: true, snapshot: document };
}

/** Enough of the shape to render safely; newer daemons may add fields. */
function isStatusSnapshot(value: unknown): value is StatusSnapshot {
  if (value === null || typeof value !== 'object') return false;
  const document = value as Record<string, unknown>;
  return (
    typeof document.version === 'string' &&
    Array.isArray(document.sinks) &&
    Array.isArray(document.files) &&
    Array.isArray(document.dataLoss) &&
    typeof document.checkpoint === 'object' &&
    document.checkpoint !== null &&
    typeof document.deadLetter === 'object' &&
    document.deadLetter !== null
  );
}

function describeFetchError(error: unknown, timeoutMs: number): string {
  if (error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError')) {
    return `no answer within ${timeoutMs} ms`;
  }
  // fetch() wraps the socket error ("fetch failed"); the cause says what happened (ECONNREFUSED...).
  const cause = error instanceof Error ? error.cause : undefined;
  return cause === undefined ? describeError(error) : describeError(cause);
}
