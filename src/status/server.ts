// The status endpoint: /healthz (alive, event loop turning), /readyz (start-up done),
// /status (JSON snapshot) and /metrics (Prometheus text). Read-only; binds where configured.
// Every body passes the Redactor on its way out: no response may carry a credential.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import type { ForwarderMetrics } from './metrics.ts';
import { Redactor } from './redact.ts';
import type { StatusSnapshot } from './snapshot.ts';

export interface StatusProvider {
  snapshot(): StatusSnapshot;
  /** Refreshes gauges derived from state (lag, checkpoint age) before a scrape. */
  refreshMetrics(): void;
}

const HEARTBEAT_MS = 1000;
/** The event loop is considered stuck when the heartbeat is this late. */
const STUCK_AFTER_MS = 10_000;

export interface StatusServerOptions {
  /** Scrubs credentials (the config's secrets among them) from every response body. */
  readonly redactor?: Redactor;
}

export class StatusServer {
  readonly #server: Server;
  readonly #provider: StatusProvider;
  readonly #metrics: ForwarderMetrics;
  readonly #log: Logger;
  readonly #redactor: Redactor;
  #lastHeartbeat = Date.now();
  #heartbeat: NodeJS.Timeout | undefined;

  constructor(
    provider: StatusProvider,
    metrics: ForwarderMetrics,
    log: Logger,
    options: StatusServerOptions = {},
  ) {
    this.#provider = provider;
    this.#metrics = metrics;
    this.#log = log;
    this.#redactor = options.redactor ?? new Redactor();
    this.#server = createServer((request, response) => {
      this.#handle(request, response).catch((error: unknown) => {
        this.#log.error({ err: error }, 'Status request failed.');
        if (!response.headersSent) this.#send(response, 500, 'text/plain', 'internal error\n');
        else response.destroy();
      });
    });
  }

  /** Listens on "host:port" (port 0 picks a free one); resolves with the bound address. */
  async listen(listen: string): Promise<AddressInfo> {
    const separator = listen.lastIndexOf(':');
    const host = listen.slice(0, separator).replace(/^\[(.*)\]$/, '$1');
    const port = Number(listen.slice(separator + 1));
    await new Promise<void>((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen(port, host, () => {
        this.#server.off('error', reject);
        resolve();
      });
    });
    this.#heartbeat = setInterval(() => {
      this.#lastHeartbeat = Date.now();
    }, HEARTBEAT_MS);
    this.#heartbeat.unref();
    return this.#server.address() as AddressInfo;
  }

  async close(): Promise<void> {
    clearInterval(this.#heartbeat);
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => {
      this.#server.close(() => {
        resolve();
      });
    });
  }

  async #handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const url = new URL(request.url ?? '/', 'http://status.invalid');
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      this.#send(response, 405, 'text/plain', 'method not allowed\n', { allow: 'GET, HEAD' });
      return;
    }
    switch (url.pathname) {
      case '/healthz': {
        const lateMs = Date.now() - this.#lastHeartbeat;
        const ok = lateMs < STUCK_AFTER_MS;
        this.#send(
          response,
          ok ? 200 : 503,
          'text/plain',
          ok ? 'ok\n' : `event loop stalled for ${lateMs} ms\n`,
        );
        return;
      }
      case '/readyz': {
        const snapshot = this.#provider.snapshot();
        this.#send(response, snapshot.ready ? 200 : 503, 'text/plain', renderReadiness(snapshot));
        return;
      }
      case '/status': {
        const snapshot = this.#redactor.value(this.#provider.snapshot());
        this.#send(response, 200, 'application/json', `${JSON.stringify(snapshot, null, 2)}\n`);
        return;
      }
      case '/metrics': {
        this.#provider.refreshMetrics();
        const text = await this.#metrics.registry.metrics();
        this.#send(response, 200, this.#metrics.registry.contentType, text);
        return;
      }
      default:
        this.#send(response, 404, 'text/plain', 'not found: try /status, /metrics, /healthz or /readyz\n');
    }
  }

  #send(
    response: ServerResponse,
    status: number,
    contentType: string,
    body: string,
    headers: Record<string, string> = {},
  ): void {
    response.writeHead(status, { 'content-type': contentType, 'cache-control': 'no-store', ...headers });
    // JSON bodies were scrubbed string by string; a text pass over the syntax could break it.
    const scrubbed =
      contentType === 'application/json' ? this.#redactor.secrets(body) : this.#redactor.text(body);
    response.end(response.req.method === 'HEAD' ? undefined : scrubbed);
  }
}

/**
 * The /readyz body in the Kubernetes API server's style: one "[+]check ok" or "[-]check failed: reason"
 * line per condition, then the verdict. Probes read only the status code; people read the lines.
 */
export function renderReadiness(snapshot: Pick<StatusSnapshot, 'ready' | 'readinessChecks'>): string {
  const lines = snapshot.readinessChecks.map((check) =>
    check.ok ? `[+]${check.name} ok` : `[-]${check.name} failed: ${check.reason ?? 'not ready'}`,
  );
  lines.push(snapshot.ready ? 'readyz check passed' : 'readyz check failed');
  return `${lines.join('\n')}\n`;
}
