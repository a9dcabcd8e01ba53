// The Elasticsearch sink: one batch = one `_bulk` request of `create` actions with deterministic _ids, and the
// answer classified into a SendResult. It never resends anything itself: the client runs with maxRetries 0 so
// that the lane's retry loop is the only one (STYLE.md "Errors, retry, lifecycle").
import { readFileSync } from 'node:fs';
import { Client, type ClientOptions, errors, type estypes } from '@elastic/elasticsearch';
import type { Logger } from 'pino';
import { Secret } from '../../config/secret.ts';
import { ForwarderError } from '../../errors.ts';
import type { Batch, SendResult, Sink } from '../sink.ts';
import { type BulkOutcome, classifyBulk, describeError } from './classify.ts';
import {
  DEFAULT_MAX_EVENT_BYTES,
  DEFAULT_NAMESPACE,
  type ElasticsearchSinkConfig,
  parseIndexPattern,
} from './config.ts';
import type { EventEncoding } from '../encoding.ts';
import { dataStreamTarget, type EsTarget, targetIndexFor } from './encode.ts';
import { HASH_META_KEY, ilmPolicy, indexTemplate, managedName } from './template.ts';

export interface ElasticsearchSinkDeps {
  /** Bound to the sink's name already (the forwarder's child logger). */
  readonly log: Logger;
}

/**
 * Builds the sink: reads credential and certificate files (synchronously: this runs once at start, and keeps
 * the factory as simple to call as the other sinks'), then creates the client. Nothing is sent until
 * healthcheck() or send(). Throws ForwarderError KAF_SINK_CONFIG when a referenced file cannot be read.
 */
export function createElasticsearchSink(
  config: ElasticsearchSinkConfig,
  deps: ElasticsearchSinkDeps,
): ElasticsearchSink {
  const { log } = deps;
  const auth = resolveAuth(config);
  const tls = resolveTls(config);
  if (config.tls?.insecureSkipVerify === true) {
    log.warn(
      'TLS certificate verification is OFF for this sink (insecureSkipVerify); audit events and credentials can be intercepted.',
    );
  }
  const urls = config.urls ?? (config.url === undefined ? [] : [config.url]);
  const client = new Client({
    nodes: urls,
    ...(auth === undefined ? {} : { auth }),
    ...(tls === undefined ? {} : { tls }),
    // The lane's retry loop owns retries; the transport would otherwise resend 502/503/504 and connection
    // errors up to 3 more times on its own (sinks.md §1.8).
    maxRetries: 0,
    requestTimeout: config.requestTimeoutMs,
    compression: config.compression,
    name: config.name,
    sniffOnStart: false,
    sniffOnConnectionFault: false,
  });
  return new ElasticsearchSink(config, client, log);
}

/** The bulk answer's parts classifyBulk reads (ES never filters an error answer: its REST channel's error builder). */
const BULK_FILTER_PATH = 'errors,items.*.status,items.*.error';

export class ElasticsearchSink implements Sink {
  readonly name: string;
  readonly type = 'elasticsearch';
  readonly maxEventBytes: number;
  readonly encoding: EventEncoding;
  readonly #config: ElasticsearchSinkConfig;
  readonly #client: Client;
  readonly #log: Logger;
  readonly #target: EsTarget;
  readonly #urls: string;
  readonly #abort = new AbortController();
  /** The lane's signal combined with #abort, made once per lane signal (#requestSignal). */
  #combined: { readonly from: AbortSignal; readonly signal: AbortSignal } | undefined;
  // Mutable state, all here:
  readonly #inFlight = new Set<Promise<SendResult>>();
  #targetChecked = false;
  #closing: Promise<void> | undefined;

  constructor(config: ElasticsearchSinkConfig, client: Client, log: Logger) {
    this.name = config.name;
    this.maxEventBytes = config.maxEventBytes ?? DEFAULT_MAX_EVENT_BYTES;
    this.#config = config;
    this.#client = client;
    this.#log = log;
    this.#target =
      config.index === undefined
        ? dataStreamTarget(config.namespace ?? DEFAULT_NAMESPACE)
        : { kind: 'index', pattern: parseIndexPattern(config.index), source: config.index };
    this.#urls = (config.urls ?? [config.url ?? '']).join(', ');
    this.encoding = { format: 'elasticsearch-bulk', target: this.#target };
  }

  /** The data stream, or the index pattern, events go to. */
  get target(): EsTarget {
    return this.#target;
  }

  /**
   * GET / (reachable, credentials, product, version), then the target: installs template and ILM policy when
   * manageTemplate is on, else checks that the data stream exists or a data-stream template would create it.
   * After one full pass only GET / is repeated (this also serves /readyz).
   */
  async healthcheck(signal: AbortSignal): Promise<void> {
    const info = await this.#call('GET /', 'the monitor cluster privilege', signal, () =>
      this.#client.info(undefined, { signal }),
    );
    const version = info.version.number;
    const major = Number(version.split('.')[0]);
    if (major !== 8 && major !== 9) {
      throw this.#failure(
        `Elasticsearch ${version} at ${this.#urls} is not supported; 8.x or 9.x is required.`,
      );
    }
    if (this.#targetChecked) return;
    this.#log.info(
      { version, cluster: info.cluster_name, flavor: info.version.build_flavor },
      'Connected to Elasticsearch.',
    );
    if (this.#config.manageTemplate) await this.#installTemplate(signal);
    else await this.#checkTarget(signal);
    this.#targetChecked = true;
  }

  /**
   * The lane passes the same signal to every send(): one combined signal for it, not an AbortSignal.any()
   * per request, each of which both long-lived signals kept as a dependant until a full GC collected it.
   */
  #requestSignal(signal: AbortSignal): AbortSignal {
    if (this.#combined?.from !== signal)
      this.#combined = { from: signal, signal: AbortSignal.any([signal, this.#abort.signal]) };
    return this.#combined.signal;
  }

  async send(batch: Batch, signal: AbortSignal): Promise<SendResult> {
    if (batch.ends.length === 0) return { status: 'delivered' };
    if (this.#closing !== undefined || this.#abort.signal.aborted) {
      return { status: 'retryable', reason: 'sink is closing' };
    }
    const task = this.#bulk(batch, signal);
    this.#inFlight.add(task);
    try {
      return await task;
    } finally {
      this.#inFlight.delete(task);
    }
  }

  close(): Promise<void> {
    this.#closing ??= (async () => {
      await Promise.allSettled([...this.#inFlight]);
      await this.#client.close();
    })();
    return this.#closing;
  }

  destroy(): void {
    if (this.#abort.signal.aborted) return;
    this.#abort.abort(new Error('sink destroyed'));
    this.#client.close().catch((error: unknown) => {
      this.#log.debug({ err: error }, 'Closing the Elasticsearch client failed.');
    });
  }

  async #bulk(batch: Batch, signal: AbortSignal): Promise<SendResult> {
    // The payload is the NDJSON body already: `create` action and document per event.
    const body = batch.payload;
    let outcome: BulkOutcome;
    try {
      const response = await this.#client.bulk(
        // A pre-serialized body goes to the wire verbatim (the transport only serializes arrays).
        {
          operations: body as unknown as NonNullable<estypes.BulkRequest['operations']>,
          // Only what classifyBulk reads (Logstash and Beats ask for the same): a 1,000-item answer is then
          // ~25 bytes an item instead of ~250, which Elasticsearch serializes and we parse on the main thread.
          filter_path: BULK_FILTER_PATH,
        },
        {
          signal: this.#requestSignal(signal),
          // The transport wraps each request in an OpenTelemetry span (a no-op one: this daemon registers no
          // tracer), whose context objects per request outlived young collections on the main thread.
          openTelemetry: { enabled: false },
          meta: true,
          // Answers of every status come back as responses (with their headers, for Retry-After) rather than
          // as errors: the client's errors deep-copy their request to redact it, and for a Buffer body that
          // is an entry per byte (~400 MB of garbage per failed 3 MB request, measured). Transport errors
          // still throw; 'remove' drops their request headers (the credentials) without copying anything.
          ignore: HTTP_ERROR_STATUSES,
          redaction: { type: 'remove' },
        },
      );
      outcome = {
        kind: 'response',
        statusCode: response.statusCode,
        headers: response.headers,
        body: response.body,
      };
    } catch (error) {
      outcome = outcomeOf(error);
    }
    const result = classifyBulk(outcome, batch.ends.length, Date.now());
    this.#log.debug(
      {
        seq: batch.seq,
        events: batch.ends.length,
        bodyBytes: body.length,
        status: result.status,
        ...(result.status === 'partial'
          ? { retry: result.retry.length, rejected: result.rejected.length }
          : {}),
      },
      'Bulk request answered.',
    );
    return result;
  }

  async #installTemplate(signal: AbortSignal): Promise<void> {
    const name = managedName(this.#target);
    const privileges = 'the manage_index_templates and manage_ilm cluster privileges';
    let policyName: string | undefined;
    if (this.#config.ilm !== undefined) {
      const policy = ilmPolicy(this.#target, this.#config.ilm.retentionDays);
      const path = `/_ilm/policy/${encodeURIComponent(name)}`;
      const current = await this.#getOptional(`GET ${path}`, privileges, signal, path);
      const installed = metaHash(
        isRecord(current) && isRecord(current[name]) ? current[name].policy : undefined,
      );
      if (installed !== metaHash((policy as { policy: unknown }).policy)) {
        await this.#call(`PUT ${path}`, privileges, signal, () =>
          this.#client.transport.request({ method: 'PUT', path, body: policy }, { signal }),
        );
        this.#log.info({ policy: name }, 'Installed the ILM policy.');
      }
      policyName = name;
    }
    const template = indexTemplate(this.#target, policyName === undefined ? {} : { ilmPolicy: policyName });
    const path = `/_index_template/${encodeURIComponent(name)}`;
    const current = await this.#getOptional(`GET ${path}`, privileges, signal, path);
    const entries =
      isRecord(current) && Array.isArray(current.index_templates) ? current.index_templates : [];
    const installed = metaHash(isRecord(entries[0]) ? entries[0].index_template : undefined);
    if (installed !== metaHash(template)) {
      await this.#call(`PUT ${path}`, privileges, signal, () =>
        this.#client.transport.request({ method: 'PUT', path, body: template }, { signal }),
      );
      this.#log.info(
        { template: name },
        'Installed the index template; existing indices keep their mapping until the next rollover or new index.',
      );
    }
  }

  async #checkTarget(signal: AbortSignal): Promise<void> {
    const target = this.#target;
    if (target.kind === 'data-stream') {
      const path = `/_data_stream/${encodeURIComponent(target.name)}`;
      const stream = await this.#getOptional(`GET ${path}`, 'view_index_metadata', signal, path, true);
      if (stream === forbidden) return;
      if (stream !== undefined) return;
    }
    const templates = await this.#getOptional(
      'GET /_index_template',
      'manage_index_templates',
      signal,
      '/_index_template',
      true,
    );
    if (templates === forbidden) return;
    const sample =
      target.kind === 'data-stream' ? target.name : targetIndexFor(target, new Date().toISOString());
    const match = bestTemplate(templates, sample);
    if (target.kind === 'index') {
      this.#log.info(
        { index: sample, template: match?.name ?? null },
        match === undefined
          ? 'No index template matches the target; dynamic mapping applies (the documents are mapping-safe).'
          : 'An index template matches the target.',
      );
      return;
    }
    if (match?.dataStream !== true) {
      throw this.#failure(
        `Data stream ${target.name} does not exist and no index template with data_stream matches it` +
          `${match === undefined ? '' : ` (best match: ${match.name})`}; writes would not create a data stream. ` +
          "Set manageTemplate: true, install Elastic's Kubernetes integration, or use `index` for classic indices.",
      );
    }
    this.#log.info(
      { dataStream: target.name, template: match.name },
      'The data stream will be created on first write.',
    );
  }

  /** GET that may answer 404 (undefined) or, when tolerated, 403 (`forbidden`: cannot check, carry on). */
  async #getOptional(
    what: string,
    privilege: string,
    signal: AbortSignal,
    path: string,
    tolerateForbidden = false,
  ): Promise<unknown> {
    try {
      return await this.#client.transport.request({ method: 'GET', path }, { signal });
    } catch (error) {
      if (error instanceof errors.ResponseError && error.statusCode === 404) return undefined;
      if (tolerateForbidden && error instanceof errors.ResponseError && error.statusCode === 403) {
        this.#log.warn(
          { request: what, privilege },
          'Cannot check the Elasticsearch target (missing privilege); continuing without the check.',
        );
        return forbidden;
      }
      throw this.#explain(what, privilege, error);
    }
  }

  async #call<T>(
    what: string,
    privilege: string,
    signal: AbortSignal,
    request: () => Promise<T>,
  ): Promise<T> {
    try {
      return await request();
    } catch (error) {
      if (signal.aborted) throw this.#failure(`Healthcheck aborted during ${what}.`, error);
      throw this.#explain(what, privilege, error);
    }
  }

  /** Turns a client error into a message that names the likely cause and the setting to change. */
  #explain(what: string, privilege: string, error: unknown): ForwarderError {
    const at = `Elasticsearch at ${this.#urls}`;
    if (error instanceof errors.ConnectionError || error instanceof errors.NoLivingConnectionsError) {
      return this.#failure(
        `Cannot reach ${at} (${error.message}). Check the url, DNS, firewalls and the tls settings.`,
        error,
      );
    }
    if (error instanceof errors.TimeoutError) {
      return this.#failure(`${at} did not answer ${what} within ${this.#config.requestTimeoutMs} ms.`, error);
    }
    if (error instanceof errors.ProductNotSupportedError) {
      return this.#failure(
        `The server at ${this.#urls} is not Elasticsearch: its answer lacks the X-Elastic-Product header ` +
          '(OpenSearch, or a proxy that drops headers).',
        error,
      );
    }
    if (error instanceof errors.ResponseError) {
      const status = error.statusCode ?? 0;
      const body: unknown = error.body;
      const detail =
        isRecord(body) && body.error !== undefined
          ? describeError(body.error)
          : typeof body === 'string'
            ? body
            : '';
      if (status === 401) {
        return this.#failure(`${at} refused the credentials (401 ${detail}). Check the sink's auth.`, error);
      }
      if (status === 403) {
        return this.#failure(`The credentials lack ${privilege} needed for ${what} (403 ${detail}).`, error);
      }
      if (status === 404 && what === 'GET /') {
        return this.#failure(
          `No Elasticsearch at ${this.#urls} (GET / answered 404); check the url's path.`,
          error,
        );
      }
      if (
        status === 400 &&
        isRecord(body) &&
        isRecord(body.error) &&
        body.error.type === 'media_type_header_exception'
      ) {
        return this.#failure(
          `${at} refuses this client's compatibility headers (${detail}); its major version does not suit the 8.x client.`,
          error,
        );
      }
      return this.#failure(`${what} failed with HTTP ${status}: ${detail}`, error);
    }
    return this.#failure(`${what} failed: ${error instanceof Error ? error.message : String(error)}`, error);
  }

  #failure(message: string, cause?: unknown): ForwarderError {
    return new ForwarderError('KAF_SINK_HEALTHCHECK', `Sink ${this.name}: ${message}`, { cause });
  }
}

const forbidden = Symbol('forbidden');

const HTTP_ERROR_STATUSES = Array.from({ length: 200 }, (_, index) => 400 + index);

function outcomeOf(error: unknown): BulkOutcome {
  if (error instanceof errors.ResponseError) {
    return {
      kind: 'response',
      statusCode: error.statusCode ?? 0,
      headers: error.headers ?? {},
      body: error.body as unknown,
    };
  }
  if (error instanceof Error) return { kind: 'transport-error', name: error.name, message: error.message };
  return { kind: 'transport-error', name: 'Error', message: String(error) };
}

function metaHash(value: unknown): unknown {
  return isRecord(value) && isRecord(value._meta) ? value._meta[HASH_META_KEY] : undefined;
}

/** The highest-priority template whose patterns match name, as Elasticsearch picks it. */
function bestTemplate(response: unknown, name: string): { name: string; dataStream: boolean } | undefined {
  const entries =
    isRecord(response) && Array.isArray(response.index_templates) ? response.index_templates : [];
  let best: { name: string; dataStream: boolean; priority: number } | undefined;
  for (const entry of entries) {
    if (!isRecord(entry) || typeof entry.name !== 'string' || !isRecord(entry.index_template)) continue;
    const template = entry.index_template;
    const patterns = Array.isArray(template.index_patterns)
      ? template.index_patterns
      : [template.index_patterns];
    if (!patterns.some((pattern) => typeof pattern === 'string' && globMatch(pattern, name))) continue;
    const priority = typeof template.priority === 'number' ? template.priority : 0;
    if (best === undefined || priority > best.priority) {
      best = { name: entry.name, dataStream: isRecord(template.data_stream), priority };
    }
  }
  return best === undefined ? undefined : { name: best.name, dataStream: best.dataStream };
}

function globMatch(pattern: string, name: string): boolean {
  const source = pattern
    .split('*')
    .map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
    .join('.*');
  return new RegExp(`^${source}$`).test(name);
}

function resolveAuth(config: ElasticsearchSinkConfig): ClientOptions['auth'] | undefined {
  const auth = config.auth;
  if (auth === undefined) return undefined;
  const at = `sinks.${config.name}.auth`;
  if (auth.apiKey !== undefined || auth.apiKeyFile !== undefined) {
    const key = auth.apiKey ?? readSecretFile(`${at}.apiKeyFile`, auth.apiKeyFile ?? '');
    return { apiKey: key.reveal() };
  }
  if (auth.bearer !== undefined || auth.bearerFile !== undefined) {
    const token = auth.bearer ?? readSecretFile(`${at}.bearerFile`, auth.bearerFile ?? '');
    return { bearer: token.reveal() };
  }
  const password = auth.password ?? readSecretFile(`${at}.passwordFile`, auth.passwordFile ?? '');
  return { username: auth.username ?? '', password: password.reveal() };
}

function resolveTls(config: ElasticsearchSinkConfig): ClientOptions['tls'] | undefined {
  const tls = config.tls;
  if (tls === undefined) return undefined;
  const at = `sinks.${config.name}.tls`;
  return {
    rejectUnauthorized: !tls.insecureSkipVerify,
    ...(tls.caFile === undefined ? {} : { ca: readConfigFile(`${at}.caFile`, tls.caFile) }),
    ...(tls.certFile === undefined ? {} : { cert: readConfigFile(`${at}.certFile`, tls.certFile) }),
    ...(tls.keyFile === undefined ? {} : { key: readConfigFile(`${at}.keyFile`, tls.keyFile) }),
  };
}

function readSecretFile(where: string, path: string): Secret {
  const value = readConfigFile(where, path).toString('utf8').trim();
  if (value === '') throw new ForwarderError('KAF_SINK_CONFIG', `${where}: ${path} is empty`);
  return new Secret(value);
}

function readConfigFile(where: string, path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code ?? String(error);
    throw new ForwarderError('KAF_SINK_CONFIG', `${where}: cannot read ${path}: ${reason}`, { cause: error });
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}
