// A protocol-faithful fake Elasticsearch 8.x/9.x on 127.0.0.1 for tests, built from shared/reference/sinks.md §1
// and the §4.1 checklist. It keeps state across requests (documents, mappings, data streams, templates) so that
// retries really collide, applies dynamic mapping the way Elasticsearch does (and rejects what it rejects), and
// takes scripted faults. Behaviour that sinks.md does not cover is marked "(inferred)" where it is written.
import { randomBytes } from 'node:crypto';
import {
  createServer as createHttpServer,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { isIP, type AddressInfo, type Socket } from 'node:net';
import { gunzipSync, inflateSync } from 'node:zlib';

const MiB = 1024 * 1024;
const PRODUCT_HEADER = 'X-elastic-product';
/** Lucene's hard limit for one indexed term (keyword values without ignore_above). */
const MAX_TERM_BYTES = 32766;
const MAX_ID_BYTES = 512;
const DEFAULT_DEPTH_LIMIT = 20;
const METADATA_FIELDS = new Set([
  '_id',
  '_index',
  '_source',
  '_routing',
  '_seq_no',
  '_version',
  '_primary_term',
  '_field_names',
  '_ignored',
  '_tier',
  '_data_stream_timestamp',
  '_doc_count',
]);

// ---------------------------------------------------------------------------------------------------------------
// Public types

export interface FakeEsOptions {
  /** Server version reported by GET /; its major decides which compatible-with values are accepted. */
  readonly version?: string;
  /** Credentials accepted; absent = security disabled (every request is anonymous and allowed). */
  readonly auth?: FakeEsAuth;
  /** http.max_content_length in bytes, applied to the decompressed body (default 100 MiB). */
  readonly maxContentLength?: number;
  /** Default index.mapping.total_fields.limit when no template sets one (default 1000). */
  readonly totalFieldsLimit?: number;
  /** action.auto_create_index (default true). */
  readonly autoCreateIndex?: boolean;
  /**
   * Install the built-in `logs` template (logs-*-*, priority 100, data streams). Deliberately a strict subset
   * of the real one: it maps only @timestamp and data_stream.*, so the default dynamic mapping (date detection
   * on, no ignore_malformed, no ignore_dynamic_beyond_limit) applies to everything else. Default true.
   */
  readonly builtinLogsTemplate?: boolean;
  /** Serve HTTPS with this key pair instead of HTTP. */
  readonly tls?: { readonly key: string | Buffer; readonly cert: string | Buffer };
  /** Clock for backing-index dates and ILM timestamps. */
  readonly now?: () => Date;
  /**
   * Keep every request (headers and body) for assertions. Default true; the benchmark turns it off so that a
   * million-event run does not hold gigabytes of request bodies. Documents are kept either way.
   */
  readonly recordRequests?: boolean;
  /**
   * Parse and map only every Nth document of index/create operations (default 1: all of them). For the
   * throughput benchmark only, where parsing every 2-3 KB document would make this fake, not the forwarder,
   * the bottleneck on a 2-core machine. The others are still checked to be one `{...}` line, stored under
   * their _id, and answered 409 when the _id exists; any document that does not look like an object, and
   * every document while item faults are scripted, is fully checked.
   */
  readonly checkDocumentsEvery?: number;
  /**
   * Keep each stored document's source (default true). false is for the throughput benchmark only: per document
   * the fake then keeps what Elasticsearch's write path decides by (index, _id, version, seq_no), so 409s on
   * existing ids, versions, seq_nos and counts stay exact, but not its bytes, so that a million-document run does
   * not hold gigabytes of request bodies. Reading a source (documents()[i].source, GET /{index}/_doc/{id}, an
   * update) then throws. Request bodies are read into reused buffers, as nothing keeps them.
   */
  readonly keepSources?: boolean;
}

export interface FakeEsAuth {
  /** Values accepted after "ApiKey " (base64 of "id:api_key"). */
  readonly apiKeys?: readonly string[];
  readonly users?: readonly { readonly username: string; readonly password: string }[];
  readonly bearerTokens?: readonly string[];
}

/** A whole-request fault, used instead of (or around) normal handling. */
export type RequestFault =
  /** Answer with this status; a realistic body per status is used unless one is given. */
  | {
      readonly type: 'status';
      readonly status: number;
      readonly body?: unknown;
      readonly headers?: Readonly<Record<string, string>>;
    }
  /** Reset the TCP connection (RST) once the request has started to arrive. */
  | { readonly type: 'reset' }
  /** Handle the request normally (its writes are applied) but hold the answer back for ms. */
  | { readonly type: 'delay'; readonly ms: number }
  /** Handle normally but leave out X-Elastic-Product (a proxy or another product answering). */
  | { readonly type: 'no-product-header' };

export type ItemFault =
  | 'es_rejected_execution_exception'
  | 'circuit_breaking_exception'
  | 'document_parsing_exception'
  | 'mapper_parsing_exception'
  | 'internal_error'
  | 'unavailable_shards_exception';

export interface ItemContext {
  /** Position of the item in its request. */
  readonly position: number;
  readonly op: string;
  readonly index: string | undefined;
  readonly id: string | undefined;
  readonly source: unknown;
}

export interface RecordedRequest {
  readonly method: string;
  readonly path: string;
  readonly query: Readonly<Record<string, string>>;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  /** Bytes received on the wire (compressed if gzip). */
  readonly wireBytes: number;
  /** The decoded body as text. */
  readonly body: string;
  /** Status answered; 0 when the connection was reset. */
  status: number;
  readonly fault?: RequestFault['type'];
}

export interface StoredDocument {
  readonly index: string;
  readonly id: string;
  readonly source: Record<string, unknown>;
  readonly version: number;
  readonly seqNo: number;
}

// ---------------------------------------------------------------------------------------------------------------
// Mapping model

interface ObjectNode {
  readonly kind: 'object';
  dynamic: DynamicMode | undefined;
  enabled: boolean;
  readonly properties: Map<string, MappingNode>;
}

interface LeafNode {
  readonly kind: 'leaf';
  readonly type: string;
  readonly ignoreAbove: number | undefined;
  readonly ignoreMalformed: boolean;
  readonly index: boolean;
  value: string | undefined;
  /** Multi-fields; filled while the leaf is built, never changed once it is in a mapping. */
  readonly fields: Map<string, LeafNode>;
  readonly extra: Record<string, unknown>;
  /** fields as a list, made on first use by validateLeaf (which runs for every value). */
  subfields: readonly Subfield[] | undefined;
}

interface Subfield {
  readonly name: string;
  readonly leaf: LeafNode;
  /** "." + name: the path suffix of this multi-field of a top-level leaf. */
  readonly suffix: string;
}

type MappingNode = ObjectNode | LeafNode;
type DynamicMode = 'true' | 'false' | 'strict' | 'runtime';

interface RootMapping extends ObjectNode {
  dateDetection: boolean;
  numericDetection: boolean;
}

interface IndexSettings {
  totalFieldsLimit: number;
  depthLimit: number;
  lifecyclePolicy: string | undefined;
  flat: Record<string, string>;
}

interface IndexState {
  readonly name: string;
  readonly uuid: string;
  readonly settings: IndexSettings;
  /** Mutated in place by documents (with an undo log, see applyDocument); never shared with another index. */
  readonly mapping: RootMapping;
  /** countFields(mapping), kept up to date as documents add fields. */
  fieldCount: number;
  readonly docs: DocumentStore;
  seqNo: number;
  readonly dataStream: string | undefined;
  readonly createdAt: Date;
}

interface DataStreamState {
  readonly name: string;
  readonly template: string;
  readonly backingIndices: string[];
  readonly createdAt: Date;
}

interface IndexTemplate {
  readonly name: string;
  readonly body: Record<string, unknown>;
  readonly patterns: readonly string[];
  readonly priority: number;
  readonly isDataStream: boolean;
  readonly builtin: boolean;
}

interface IlmPolicy {
  readonly name: string;
  readonly policy: Record<string, unknown>;
  version: number;
  modifiedDate: string;
}

/** A failure inside document parsing: becomes an item error. */
class ItemFailure extends Error {
  readonly status: number;
  readonly error: Record<string, unknown>;

  constructor(status: number, error: Record<string, unknown>) {
    super(String(error.reason));
    this.status = status;
    this.error = error;
  }
}

/** A failure of the whole request: becomes an error envelope. */
class RequestFailure extends Error {
  readonly status: number;
  readonly type: string;
  readonly extra: Record<string, unknown>;

  constructor(status: number, type: string, reason: string, extra: Record<string, unknown> = {}) {
    super(reason);
    this.status = status;
    this.type = type;
    this.extra = extra;
  }
}

interface RequestContext {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly method: string;
  readonly path: string;
  readonly query: Readonly<Record<string, string>>;
  /** The request's filter_path, compiled; applied to every response but an error (see #prepareJson). */
  readonly filter: ResponseFilter | undefined;
  readonly record: RecordedRequest;
  /** compatible-with version requested, echoed in the response content type. */
  compatVersion: number | undefined;
  sendProductHeader: boolean;
  principal: string;
  delayMs: number;
  /** The body to send once any scripted delay has passed. */
  pendingBody?: string;
}

interface ScriptedRequestFault {
  readonly fault: RequestFault;
  remaining: number;
  readonly method: string | undefined;
  readonly path: RegExp;
}

interface ScriptedItemFault {
  readonly fault: ItemFault;
  remaining: number;
  readonly where: (item: ItemContext) => boolean;
}

// ---------------------------------------------------------------------------------------------------------------
// The server

export class FakeElasticsearch {
  readonly #server: Server;
  readonly #version: string;
  readonly #major: number;
  readonly #auth: FakeEsAuth | undefined;
  readonly #maxContentLength: number;
  readonly #totalFieldsLimit: number;
  readonly #autoCreateIndex: boolean;
  readonly #now: () => Date;
  readonly #protocol: 'http' | 'https';
  readonly #clusterUuid = randomBytes(16).toString('base64url').slice(0, 22);
  readonly #sockets = new Set<Socket>();
  readonly #timers = new Set<NodeJS.Timeout>();
  // Mutable state, all here:
  readonly #indices = new Map<string, IndexState>();
  readonly #dataStreams = new Map<string, DataStreamState>();
  readonly #templates = new Map<string, IndexTemplate>();
  readonly #policies = new Map<string, IlmPolicy>();
  readonly #requestFaults: ScriptedRequestFault[] = [];
  readonly #itemFaults: ScriptedItemFault[] = [];
  readonly #deniedActions = new Set<string>();
  readonly #deniedWriteIndices = new Set<string>();
  readonly #requests: RecordedRequest[] = [];
  /** Bulk items answered, per status: what a long run can check without recording requests. */
  readonly #itemStatuses = new Map<number, number>();
  readonly #recordRequests: boolean;
  readonly #checkDocumentsEvery: number;
  readonly #keepSources: boolean;
  /** Set when keepSources is false: request bodies are then read into buffers lent for one request. */
  readonly #bodyBuffers: BodyBufferPool | undefined;
  #documentsSeen = 0;
  #port = 0;

  private constructor(options: FakeEsOptions) {
    this.#version = options.version ?? '8.19.3';
    this.#major = Number(this.#version.split('.')[0]);
    this.#auth = options.auth;
    this.#maxContentLength = options.maxContentLength ?? 100 * MiB;
    this.#totalFieldsLimit = options.totalFieldsLimit ?? 1000;
    this.#autoCreateIndex = options.autoCreateIndex ?? true;
    this.#now = options.now ?? (() => new Date());
    this.#recordRequests = options.recordRequests ?? true;
    this.#checkDocumentsEvery = options.checkDocumentsEvery ?? 1;
    this.#keepSources = options.keepSources ?? true;
    this.#bodyBuffers = this.#keepSources ? undefined : new BodyBufferPool();
    this.#protocol = options.tls ? 'https' : 'http';
    const handler = (req: IncomingMessage, res: ServerResponse): void => {
      this.#handle(req, res).catch((error: unknown) => {
        if (!res.headersSent && !res.destroyed) {
          res.statusCode = 500;
          res.end(
            JSON.stringify({ error: { type: 'fake_internal_error', reason: String(error) }, status: 500 }),
          );
        }
      });
    };
    this.#server = options.tls
      ? createHttpsServer({ key: options.tls.key, cert: options.tls.cert }, handler)
      : createHttpServer(handler);
    this.#server.on('connection', (socket: Socket) => {
      this.#sockets.add(socket);
      socket.on('close', () => this.#sockets.delete(socket));
    });
    if (options.builtinLogsTemplate ?? true) {
      this.#templates.set('logs', {
        name: 'logs',
        patterns: ['logs-*-*'],
        priority: 100,
        isDataStream: true,
        builtin: true,
        body: {
          index_patterns: ['logs-*-*'],
          priority: 100,
          data_stream: { hidden: false, allow_custom_routing: false },
          template: {
            mappings: {
              properties: {
                '@timestamp': { type: 'date' },
                data_stream: {
                  properties: {
                    type: { type: 'constant_keyword', value: 'logs' },
                    dataset: { type: 'constant_keyword' },
                    namespace: { type: 'constant_keyword' },
                  },
                },
              },
            },
          },
          _meta: {
            description: 'default logs template installed by x-pack (fake: strict subset)',
            managed: true,
          },
        },
      });
    }
  }

  /** Starts a fake on 127.0.0.1 with an ephemeral port. */
  static async start(options: FakeEsOptions = {}): Promise<FakeElasticsearch> {
    const fake = new FakeElasticsearch(options);
    await new Promise<void>((resolve, reject) => {
      fake.#server.once('error', reject);
      fake.#server.listen(0, '127.0.0.1', () => {
        resolve();
      });
    });
    fake.#port = (fake.#server.address() as AddressInfo).port;
    return fake;
  }

  get url(): string {
    return `${this.#protocol}://127.0.0.1:${this.#port}`;
  }

  get port(): number {
    return this.#port;
  }

  /** How many bulk items were answered with each status (201 created, 409 already there, ...). */
  itemStatusCounts(): ReadonlyMap<number, number> {
    return this.#itemStatuses;
  }

  /** Every request received, in order. */
  get requests(): readonly RecordedRequest[] {
    return this.#requests;
  }

  /** Bulk requests only. */
  get bulkRequests(): readonly RecordedRequest[] {
    return this.#requests.filter((request) => /(^|\/)_bulk$/.test(request.path));
  }

  /** Stops listening and drops every open connection. */
  async close(): Promise<void> {
    for (const timer of this.#timers) clearTimeout(timer);
    this.#timers.clear();
    for (const socket of this.#sockets) socket.destroy();
    await new Promise<void>((resolve) => {
      this.#server.close(() => {
        resolve();
      });
    });
  }

  /** Scripts the next `times` requests matching path (default: bulk requests) to fail with `fault`. */
  failRequests(fault: RequestFault, options: { times?: number; path?: RegExp; method?: string } = {}): void {
    this.#requestFaults.push({
      fault,
      remaining: options.times ?? 1,
      method: options.method,
      path: options.path ?? /(^|\/)_bulk$/,
    });
  }

  /** Scripts bulk items matching `where` (default: every item) to fail with `fault`, `times` items in all. */
  failItems(
    fault: ItemFault,
    options: { times?: number; where?: (item: ItemContext) => boolean } = {},
  ): void {
    this.#itemFaults.push({ fault, remaining: options.times ?? 1, where: options.where ?? (() => true) });
  }

  /** Denies an action (e.g. "indices:data/write/bulk", "cluster:monitor/main") to every principal: 403. */
  denyAction(action: string): void {
    this.#deniedActions.add(action);
  }

  /** Denies writes to indices matching the pattern: per-item 403 security_exception (inferred shape). */
  denyWrites(indexPattern: string): void {
    this.#deniedWriteIndices.add(indexPattern);
  }

  /** Lifts every denial. */
  allowAll(): void {
    this.#deniedActions.clear();
    this.#deniedWriteIndices.clear();
  }

  /**
   * Documents stored in an index, a data stream (all its backing indices) or, without target, everywhere. With
   * keepSources: false each one's `source` throws when read.
   */
  documents(target?: string): StoredDocument[] {
    return this.#targetIndices(target).flatMap((index) => [...index.docs.values()]);
  }

  /** How many documents documents(target) would list, without listing them (a benchmark stores millions). */
  documentCount(target?: string): number {
    return this.#targetIndices(target).reduce((sum, index) => sum + index.docs.size, 0);
  }

  #targetIndices(target: string | undefined): IndexState[] {
    const names =
      target === undefined
        ? [...this.#indices.keys()]
        : (this.#dataStreams.get(target)?.backingIndices ?? (this.#indices.has(target) ? [target] : []));
    return names.flatMap((name) => this.#indices.get(name) ?? []);
  }

  indexNames(): string[] {
    return [...this.#indices.keys()];
  }

  dataStreamNames(): string[] {
    return [...this.#dataStreams.keys()];
  }

  templateNames(): string[] {
    return [...this.#templates.keys()];
  }

  /** The mapping of an index (or a data stream's write index) as Elasticsearch would return it. */
  mapping(target: string): Record<string, unknown> | undefined {
    const index = this.#indices.get(this.#dataStreams.get(target)?.backingIndices.at(-1) ?? target);
    return index ? renderRoot(index.mapping) : undefined;
  }

  /** Number of mapped fields counted against index.mapping.total_fields.limit. */
  fieldCount(target: string): number {
    const index = this.#indices.get(this.#dataStreams.get(target)?.backingIndices.at(-1) ?? target);
    return index ? countFields(index.mapping) : 0;
  }

  // -------------------------------------------------------------------------------------------------------------
  // Request handling

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://fake');
    const method = (req.method ?? 'GET').toUpperCase();
    const path = decodeURIComponent(url.pathname.replace(/\/+$/, '')) || '/';
    const scripted = this.#takeRequestFault(method, path);
    if (scripted?.type === 'reset') {
      await this.#resetConnection(req, method, path, url);
      return;
    }

    const pool = this.#bodyBuffers;
    if (!pool) {
      await this.#answer(req, res, method, path, url, scripted, await readBody(req));
      return;
    }
    // Nothing keeps a reference to the body once its request is answered (keepSources: false), so its buffer
    // goes back to the pool then, and only then: handling is synchronous up to the answer's (delayed) flush.
    const lent = await readPooledBody(req, pool);
    try {
      await this.#answer(req, res, method, path, url, scripted, lent.body);
    } finally {
      pool.give(lent.buffer);
    }
  }

  async #answer(
    req: IncomingMessage,
    res: ServerResponse,
    method: string,
    path: string,
    url: URL,
    scripted: RequestFault | undefined,
    raw: Buffer,
  ): Promise<void> {
    let body: Buffer;
    try {
      body = decodeBody(raw, req.headers['content-encoding']);
    } catch (error) {
      const record = this.#record(req, method, path, url, raw.length, '', scripted);
      record.status = 400;
      this.#writeJson(
        res,
        400,
        errorEnvelope(400, 'parse_exception', `cannot decode request body: ${String(error)}`),
        {
          product: true,
        },
      );
      return;
    }
    // Without recording nobody can see the record's body: skip decoding it (the benchmark sends gigabytes).
    const recordedBody = this.#recordRequests ? body.toString('utf8') : '';
    const record = this.#record(req, method, path, url, raw.length, recordedBody, scripted);
    const query = Object.fromEntries(url.searchParams);
    const ctx: RequestContext = {
      req,
      res,
      method,
      path,
      query,
      filter: compileFilterPath(query.filter_path),
      record,
      compatVersion: undefined,
      sendProductHeader: scripted?.type !== 'no-product-header',
      principal: 'anonymous',
      delayMs: scripted?.type === 'delay' ? scripted.ms : 0,
    };

    // http.max_content_length applies to the decompressed body; the answer is an empty 413 (sinks.md §1.4).
    if (body.length > this.#maxContentLength) {
      await this.#respond(ctx, 413, undefined, { product: false });
      return;
    }
    try {
      this.#authenticate(ctx);
      this.#negotiate(ctx, body.length > 0);
      if (scripted?.type === 'status') {
        this.#scriptedStatus(ctx, scripted);
        await this.#flush(ctx);
        return;
      }
      await this.#route(ctx, body);
    } catch (error) {
      if (error instanceof RequestFailure) {
        await this.#respond(
          ctx,
          error.status,
          errorEnvelope(error.status, error.type, error.message, error.extra),
        );
        return;
      }
      throw error;
    }
  }

  #record(
    req: IncomingMessage,
    method: string,
    path: string,
    url: URL,
    wireBytes: number,
    body: string,
    fault: RequestFault | undefined,
  ): RecordedRequest {
    const record: RecordedRequest = {
      method,
      path,
      query: Object.fromEntries(url.searchParams),
      headers: { ...req.headers },
      wireBytes,
      body,
      status: 0,
      ...(fault ? { fault: fault.type } : {}),
    };
    if (this.#recordRequests) this.#requests.push(record);
    return record;
  }

  async #resetConnection(req: IncomingMessage, method: string, path: string, url: URL): Promise<void> {
    this.#record(req, method, path, url, 0, '', { type: 'reset' });
    // Let the request start arriving, then drop the connection with a RST: the client sees ECONNRESET.
    await new Promise<void>((resolve) => {
      const done = (): void => {
        resolve();
      };
      req.once('data', done);
      req.once('end', done);
      const timer = setTimeout(done, 50);
      this.#timers.add(timer);
    });
    req.socket.resetAndDestroy();
  }

  #takeRequestFault(method: string, path: string): RequestFault | undefined {
    const index = this.#requestFaults.findIndex(
      (entry) =>
        entry.remaining > 0 &&
        entry.path.test(path) &&
        (entry.method === undefined || entry.method === method),
    );
    const entry = this.#requestFaults[index];
    if (!entry) return undefined;
    entry.remaining -= 1;
    if (entry.remaining === 0) this.#requestFaults.splice(index, 1);
    return entry.fault;
  }

  #scriptedStatus(ctx: RequestContext, fault: Extract<RequestFault, { type: 'status' }>): void {
    const { status } = fault;
    // 502/504 come from proxies in front of Elasticsearch: plain text, no product header.
    const fromProxy = status === 502 || status === 504;
    const body = fault.body !== undefined ? fault.body : defaultFaultBody(status, ctx.path);
    for (const [name, value] of Object.entries(fault.headers ?? {})) ctx.res.setHeader(name, value);
    if (status === 401) ctx.res.setHeader('WWW-Authenticate', WWW_AUTHENTICATE);
    if (typeof body === 'string') {
      ctx.res.statusCode = status;
      ctx.res.setHeader('content-type', 'text/plain; charset=UTF-8');
      if (!fromProxy && ctx.sendProductHeader) ctx.res.setHeader(PRODUCT_HEADER, 'Elasticsearch');
      ctx.pendingBody = body;
      return;
    }
    // A scripted answer is a fault: sent as given, never filtered.
    this.#prepareJson(ctx, status, body, { product: !fromProxy && status !== 413, error: true });
  }

  #authenticate(ctx: RequestContext): void {
    if (!this.#auth) return;
    const header = ctx.req.headers.authorization;
    const challenge = { header: { 'WWW-Authenticate': WWW_AUTHENTICATE } };
    if (header === undefined) {
      ctx.res.setHeader('WWW-Authenticate', WWW_AUTHENTICATE);
      throw new RequestFailure(
        401,
        'security_exception',
        `missing authentication credentials for REST request [${ctx.req.url ?? ctx.path}]`,
        challenge,
      );
    }
    const [scheme = '', ...rest] = header.split(' ');
    const credential = rest.join(' ');
    const auth = this.#auth;
    let principal: string | undefined;
    let failure =
      'unable to authenticate with provided credentials and anonymous access is not allowed for this request';
    if (scheme.toLowerCase() === 'apikey' && auth.apiKeys?.includes(credential)) {
      principal = `api_key:${Buffer.from(credential, 'base64').toString('utf8').split(':')[0] ?? ''}`;
    } else if (scheme.toLowerCase() === 'bearer' && auth.bearerTokens?.includes(credential)) {
      principal = 'bearer';
    } else if (scheme.toLowerCase() === 'basic') {
      const decoded = Buffer.from(credential, 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      const username = decoded.slice(0, colon);
      const password = decoded.slice(colon + 1);
      if (auth.users?.some((user) => user.username === username && user.password === password))
        principal = username;
      else
        failure = `unable to authenticate user [${username}] for REST request [${ctx.req.url ?? ctx.path}]`;
    }
    if (principal === undefined) {
      ctx.res.setHeader('WWW-Authenticate', WWW_AUTHENTICATE);
      throw new RequestFailure(401, 'security_exception', failure, challenge);
    }
    ctx.principal = principal;
  }

  #authorize(ctx: RequestContext, action: string): void {
    if (this.#deniedActions.has(action)) {
      throw new RequestFailure(
        403,
        'security_exception',
        `action [${action}] is unauthorized for user [${ctx.principal}] with effective roles [restricted]`,
      );
    }
  }

  /**
   * Media types (sinks.md §1.6): JSON/NDJSON bodies only; compatible-with must name this major or the one
   * before it and must match on Accept and Content-Type.
   */
  #negotiate(ctx: RequestContext, hasBody: boolean): void {
    const accept = headerValue(ctx.req.headers.accept);
    const contentType = hasBody ? headerValue(ctx.req.headers['content-type']) : undefined;
    if (contentType !== undefined && !isSupportedContentType(contentType)) {
      throw new RequestFailure(
        406,
        'content_type_header_exception',
        `Content-Type header [${contentType}] is not supported`,
      );
    }
    const acceptVersion = compatibleWith(accept);
    const contentVersion = compatibleWith(contentType);
    const invalid = (reason: string): RequestFailure =>
      new RequestFailure(
        400,
        'media_type_header_exception',
        'Invalid media-type value on headers [Accept, Content-Type]',
        {
          caused_by: { type: 'status_exception', reason },
        },
      );
    const allowed = [this.#major, this.#major - 1];
    if (acceptVersion !== undefined && !allowed.includes(acceptVersion)) {
      throw invalid(
        `Accept version must be either version ${this.#major} or ${this.#major - 1}, but found ${acceptVersion}. Accept=${accept ?? ''}`,
      );
    }
    if (contentVersion !== undefined && !allowed.includes(contentVersion)) {
      throw invalid(
        `Content-Type version must be either version ${this.#major} or ${this.#major - 1}, but found ${contentVersion}. Content-Type=${contentType ?? ''}`,
      );
    }
    if (contentType !== undefined && (acceptVersion !== undefined || contentVersion !== undefined)) {
      if (acceptVersion !== contentVersion) {
        throw invalid(
          'A compatible version is required on both Content-Type and Accept headers if either one has requested a ' +
            `compatible version and the compatible versions must match. Accept=${accept ?? ''}, Content-Type=${contentType}`,
        );
      }
    }
    ctx.compatVersion = acceptVersion ?? contentVersion;
  }

  async #route(ctx: RequestContext, body: Buffer): Promise<void> {
    const { method, path } = ctx;
    const parts = path.split('/').filter((part) => part !== '');
    const [first, second, third] = parts;
    if (path === '/' && (method === 'GET' || method === 'HEAD')) {
      this.#authorize(ctx, 'cluster:monitor/main');
      this.#prepareJson(ctx, 200, method === 'HEAD' ? undefined : this.#info());
    } else if (
      (method === 'POST' || method === 'PUT') &&
      (path === '/_bulk' || (parts.length === 2 && second === '_bulk'))
    ) {
      this.#authorize(ctx, 'indices:data/write/bulk');
      this.#prepareJson(ctx, 200, this.#bulk(ctx, body, parts.length === 2 ? first : undefined));
    } else if (first === '_index_template' && parts.length <= 2) {
      this.#indexTemplate(ctx, second, body);
    } else if (first === '_ilm' && second === 'policy' && parts.length <= 3) {
      this.#ilmPolicy(ctx, third, body);
    } else if (first === '_data_stream' && parts.length <= 2) {
      this.#dataStream(ctx, second);
    } else if (parts.length === 2 && second === '_mapping' && method === 'GET' && first !== undefined) {
      const mapping = this.mapping(first);
      if (!mapping) throw indexNotFound(first);
      this.#prepareJson(ctx, 200, { [this.#resolveName(first)]: { mappings: mapping } });
    } else if (
      parts.length === 3 &&
      second === '_doc' &&
      method === 'GET' &&
      first !== undefined &&
      third !== undefined
    ) {
      const doc = this.documents(first).find((candidate) => candidate.id === third);
      this.#prepareJson(
        ctx,
        doc ? 200 : 404,
        doc
          ? {
              _index: doc.index,
              _id: doc.id,
              _version: doc.version,
              _seq_no: doc.seqNo,
              _primary_term: 1,
              found: true,
              _source: doc.source,
            }
          : { _index: first, _id: third, found: false },
      );
    } else if (
      (method === 'POST' || method === 'GET') &&
      (path === '/_refresh' || (parts.length === 2 && second === '_refresh'))
    ) {
      this.#prepareJson(ctx, 200, { _shards: { total: 1, successful: 1, failed: 0 } });
    } else {
      throw new RequestFailure(
        400,
        'no_handler',
        `no handler found for uri [${ctx.req.url ?? path}] and method [${method}]`,
      );
    }
    await this.#flush(ctx);
  }

  #resolveName(target: string): string {
    return this.#dataStreams.get(target)?.backingIndices.at(-1) ?? target;
  }

  #info(): Record<string, unknown> {
    return {
      name: 'fake-node-0',
      cluster_name: 'fake-cluster',
      cluster_uuid: this.#clusterUuid,
      version: {
        number: this.#version,
        build_flavor: 'default',
        build_type: 'docker',
        build_hash: '0000000000000000000000000000000000000000',
        build_date: '2025-01-01T00:00:00.000000000Z',
        build_snapshot: false,
        lucene_version: this.#major >= 9 ? '10.1.0' : '9.12.0',
        minimum_wire_compatibility_version: this.#major >= 9 ? '8.18.0' : '7.17.0',
        minimum_index_compatibility_version: this.#major >= 9 ? '8.0.0' : '7.0.0',
      },
      tagline: 'You Know, for Search',
    };
  }

  // -------------------------------------------------------------------------------------------------------------
  // _bulk

  #bulk(ctx: RequestContext, body: Buffer, pathIndex: string | undefined): Record<string, unknown> {
    const started = Date.now();
    if (body.length === 0) {
      throw new RequestFailure(400, 'parse_exception', 'request body is required');
    }
    // The decoded text ends with "\n" exactly when the last byte is one.
    if (body[body.length - 1] !== 10) {
      throw new RequestFailure(
        400,
        'illegal_argument_exception',
        'The bulk request must be terminated by a newline [\\n]',
      );
    }
    const operations = parseBulkBody(body, pathIndex);
    const items: Record<string, unknown>[] = [];
    let errors = false;
    const targets: ResolvedTargets = new Map();
    for (let position = 0; position < operations.length; position++) {
      const operation = operations[position] as BulkOperation;
      const item = this.#bulkItem(ctx, body, operation, position, targets);
      if ('error' in item) errors = true;
      items.push({ [operation.op]: item });
      const status = Number(item.status);
      this.#itemStatuses.set(status, (this.#itemStatuses.get(status) ?? 0) + 1);
    }
    return { errors, took: Date.now() - started, items };
  }

  #bulkItem(
    ctx: RequestContext,
    body: Buffer,
    operation: BulkOperation,
    position: number,
    targets: ResolvedTargets,
  ): Record<string, unknown> {
    const { op, index: target } = operation;
    let source = operation.updateSource;
    let sourceText = '';
    let sourceError: string | undefined;
    const unchecked = (op === 'index' || op === 'create') && this.#skipsCheck(body, operation);
    if ((op === 'index' || op === 'create') && !unchecked) {
      sourceText = body.toString('utf8', operation.sourceStart, operation.sourceStop);
      try {
        source = JSON.parse(sourceText);
      } catch (error) {
        sourceError = (error as Error).message;
      }
    }
    const id = operation.id ?? (op === 'index' || op === 'create' ? generateId() : undefined);
    const fault =
      this.#itemFaults.length === 0
        ? undefined
        : this.#takeItemFault({ position, op, index: target, id: operation.id, source });
    // Within one request a target, once resolved, resolves the same way again (it exists from then on).
    let resolved = targets.get(target);
    if (resolved === undefined) {
      try {
        resolved = this.#resolveWriteTarget(target, op);
      } catch (error) {
        if (error instanceof ItemFailure)
          return { _index: target, _id: id ?? null, status: error.status, error: error.error };
        throw error;
      }
      targets.set(target, resolved);
    }
    const { index, dataStream } = resolved;
    const base = { _index: index.name, _id: id ?? null };
    if (fault) return failedItem(index, id, ...itemFaultError(fault, index.name, id ?? ''));
    if (matchesAny(this.#deniedWriteIndices, dataStream?.name ?? index.name)) {
      return failedItem(index, id, 403, {
        type: 'security_exception',
        reason: `action [indices:data/write/bulk[s]] is unauthorized for user [${ctx.principal}] on indices [${dataStream?.name ?? index.name}], this action is granted by the index privileges [create_doc,create,index,write,all]`,
      });
    }
    if (dataStream && op !== 'create') {
      return failedItem(index, id, 400, {
        type: 'illegal_argument_exception',
        reason: 'only write ops with an op_type of create are allowed in data streams',
      });
    }
    if (op === 'delete') return this.#delete(index, id ?? '', base);
    if (op === 'update') {
      return this.#update(index, id ?? '', source, base, (status, error) =>
        failedItem(index, id, status, error),
      );
    }

    const existingVersion = index.docs.versionOf(id ?? '');
    if (op === 'create' && existingVersion > 0) {
      return failedItem(index, id, 409, {
        type: 'version_conflict_engine_exception',
        reason: `[${id ?? ''}]: version conflict, document already exists (current version [${existingVersion}])`,
      });
    }
    // checkDocumentsEvery: a document not checked is stored as received, without parsing or mapping.
    if (!unchecked) {
      if (source === undefined || source === null || typeof source !== 'object' || Array.isArray(source)) {
        const reason = sourceText.trim() === '' ? 'failed to parse, document is empty' : 'failed to parse';
        return failedItem(index, id, 400, {
          type: 'document_parsing_exception',
          reason: `[1:1] ${reason}`,
          ...(sourceError ? { caused_by: { type: 'x_content_parse_exception', reason: sourceError } } : {}),
        });
      }
      try {
        if (dataStream && (source as Record<string, unknown>)['@timestamp'] == null) {
          throw new ItemFailure(400, {
            type: 'document_parsing_exception',
            reason: `[1:${sourceText.length}] failed to parse: data stream timestamp field [@timestamp] is missing`,
            caused_by: {
              type: 'illegal_argument_exception',
              reason: 'data stream timestamp field [@timestamp] is missing',
            },
          });
        }
        applyDocument(index, source as Record<string, unknown>, id ?? '', sourceText);
      } catch (error) {
        if (error instanceof ItemFailure) return failedItem(index, id, error.status, error.error);
        throw error;
      }
    }
    index.seqNo += 1;
    const version = existingVersion + 1;
    index.docs.put(id ?? '', version, index.seqNo, body, operation.sourceStart, operation.sourceStop);
    return {
      _index: base._index,
      _id: base._id,
      _version: version,
      result: existingVersion > 0 ? 'updated' : 'created',
      _shards: SHARDS,
      _seq_no: index.seqNo,
      _primary_term: 1,
      status: existingVersion > 0 ? 200 : 201,
    };
  }

  /** Whether checkDocumentsEvery lets this document through unparsed (it must look like one object). */
  #skipsCheck(body: Buffer, operation: BulkOperation): boolean {
    if (this.#checkDocumentsEvery === 1 || this.#itemFaults.length > 0) return false;
    const seen = this.#documentsSeen++;
    if (seen % this.#checkDocumentsEvery === 0) return false;
    return body[operation.sourceStart] === 0x7b && body[operation.sourceStop - 1] === 0x7d;
  }

  #delete(index: IndexState, id: string, base: Record<string, unknown>): Record<string, unknown> {
    const existingVersion = index.docs.versionOf(id);
    index.seqNo += 1;
    if (existingVersion > 0) index.docs.delete(id);
    return {
      ...base,
      _version: existingVersion + 1,
      result: existingVersion > 0 ? 'deleted' : 'not_found',
      _shards: { total: 2, successful: 1, failed: 0 },
      _seq_no: index.seqNo,
      _primary_term: 1,
      status: existingVersion > 0 ? 200 : 404,
    };
  }

  #update(
    index: IndexState,
    id: string,
    body: unknown,
    base: Record<string, unknown>,
    failure: (status: number, error: Record<string, unknown>) => Record<string, unknown>,
  ): Record<string, unknown> {
    const existing = index.docs.get(id);
    const doc = isPlainObject(body) && isPlainObject(body.doc) ? body.doc : undefined;
    if (!existing) {
      return failure(404, { type: 'document_missing_exception', reason: `[${id}]: document missing` });
    }
    if (!doc) {
      return failure(400, {
        type: 'action_request_validation_exception',
        reason: 'Validation Failed: 1: script or doc is missing;',
      });
    }
    const merged = deepMerge(existing.source, doc);
    try {
      applyDocument(index, merged, id, JSON.stringify(merged));
    } catch (error) {
      if (error instanceof ItemFailure) return failure(error.status, error.error);
      throw error;
    }
    index.seqNo += 1;
    index.docs.put(id, existing.version + 1, index.seqNo, NO_BYTES, 0, 0, merged);
    return {
      ...base,
      _version: existing.version + 1,
      result: 'updated',
      _shards: { total: 2, successful: 1, failed: 0 },
      _seq_no: index.seqNo,
      _primary_term: 1,
      status: 200,
    };
  }

  #takeItemFault(item: ItemContext): ItemFault | undefined {
    const index = this.#itemFaults.findIndex((entry) => entry.remaining > 0 && entry.where(item));
    const entry = this.#itemFaults[index];
    if (!entry) return undefined;
    entry.remaining -= 1;
    if (entry.remaining === 0) this.#itemFaults.splice(index, 1);
    return entry.fault;
  }

  /** Finds or auto-creates the index a write goes to (data stream write index, index, or a new one). */
  #resolveWriteTarget(name: string, op: string): ResolvedTarget {
    const stream = this.#dataStreams.get(name);
    if (stream) return { index: this.#mustIndex(stream.backingIndices.at(-1) ?? ''), dataStream: stream };
    const existing = this.#indices.get(name);
    if (existing) {
      return {
        index: existing,
        dataStream: existing.dataStream ? this.#dataStreams.get(existing.dataStream) : undefined,
      };
    }
    validateIndexName(name);
    if (!this.#autoCreateIndex || op === 'update' || op === 'delete') {
      throw new ItemFailure(404, {
        type: 'index_not_found_exception',
        reason: `no such index [${name}]`,
        'resource.type': 'index_expression',
        'resource.id': name,
        index_uuid: '_na_',
        index: name,
      });
    }
    const template = this.#matchTemplate(name);
    if (template?.isDataStream) {
      const created = this.#createDataStream(name, template);
      return { index: this.#mustIndex(created.backingIndices[0] ?? ''), dataStream: created };
    }
    return { index: this.#createIndex(name, template, undefined), dataStream: undefined };
  }

  #mustIndex(name: string): IndexState {
    const index = this.#indices.get(name);
    if (!index) throw new Error(`fake: missing index ${name}`);
    return index;
  }

  #matchTemplate(name: string): IndexTemplate | undefined {
    let best: IndexTemplate | undefined;
    for (const template of this.#templates.values()) {
      if (!template.patterns.some((pattern) => globMatch(pattern, name))) continue;
      if (!best || template.priority > best.priority) best = template;
    }
    return best;
  }

  #createDataStream(name: string, template: IndexTemplate): DataStreamState {
    const createdAt = this.#now();
    const backing = `.ds-${name}-${formatDay(createdAt)}-000001`;
    const stream: DataStreamState = { name, template: template.name, backingIndices: [backing], createdAt };
    this.#dataStreams.set(name, stream);
    this.#createIndex(backing, template, name);
    return stream;
  }

  #createIndex(
    name: string,
    template: IndexTemplate | undefined,
    dataStream: string | undefined,
  ): IndexState {
    const templateBody = (template?.body.template ?? {}) as Record<string, unknown>;
    const mapping = parseRootMapping(templateBody.mappings);
    if (dataStream && !mapping.properties.has('@timestamp'))
      mapping.properties.set('@timestamp', makeLeaf('date'));
    const flat = flattenSettings(templateBody.settings);
    // A fresh mapping per index (parsed from the template body each time): documents mutate it in place.
    const index: IndexState = {
      name,
      uuid: randomBytes(16).toString('base64url').slice(0, 22),
      settings: {
        totalFieldsLimit: Number(flat['index.mapping.total_fields.limit'] ?? this.#totalFieldsLimit),
        depthLimit: Number(flat['index.mapping.depth.limit'] ?? DEFAULT_DEPTH_LIMIT),
        lifecyclePolicy: flat['index.lifecycle.name'],
        flat,
      },
      mapping,
      fieldCount: countFields(mapping),
      docs: this.#keepSources ? new SourceDocumentStore(name) : new SourcelessDocumentStore(name),
      seqNo: -1,
      dataStream,
      createdAt: this.#now(),
    };
    this.#indices.set(name, index);
    return index;
  }

  // -------------------------------------------------------------------------------------------------------------
  // Templates, ILM policies, data streams (as far as a shipper uses them)

  #indexTemplate(ctx: RequestContext, name: string | undefined, body: Buffer): void {
    const { method } = ctx;
    if (method === 'GET' || method === 'HEAD') {
      this.#authorize(ctx, 'indices:admin/index_template/get');
      const matches = [...this.#templates.values()].filter(
        (template) => name === undefined || globMatch(name, template.name),
      );
      if (name !== undefined && matches.length === 0) {
        throw new RequestFailure(
          404,
          'resource_not_found_exception',
          `index template matching [${name}] not found`,
        );
      }
      this.#prepareJson(
        ctx,
        200,
        method === 'HEAD'
          ? undefined
          : {
              index_templates: matches.map((template) => ({
                name: template.name,
                index_template: template.body,
              })),
            },
      );
      return;
    }
    if ((method === 'PUT' || method === 'POST') && name !== undefined) {
      this.#authorize(ctx, 'indices:admin/index_template/put');
      const parsed = parseJsonBody(body);
      const patterns = toStringList(parsed.index_patterns);
      if (patterns.length === 0) {
        throw new RequestFailure(
          400,
          'action_request_validation_exception',
          'Validation Failed: 1: index patterns are missing;',
        );
      }
      if (name !== name.toLowerCase() || /[\s,"*\\<|>?/]/.test(name)) {
        throw new RequestFailure(
          400,
          'invalid_index_template_exception',
          `index_template [${name}] invalid, cause [name must be lower cased and must not contain invalid characters]`,
        );
      }
      const composedOf = toStringList(parsed.composed_of);
      if (composedOf.length > 0 && parsed.ignore_missing_component_templates === undefined) {
        throw new RequestFailure(
          400,
          'invalid_index_template_exception',
          `index_template [${name}] invalid, cause [index template [${name}] specifies component templates ${JSON.stringify(composedOf)} that do not exist]`,
        );
      }
      const priority = typeof parsed.priority === 'number' ? parsed.priority : 0;
      for (const other of this.#templates.values()) {
        if (other.name === name || other.priority !== priority) continue;
        if (patterns.some((pattern) => other.patterns.some((theirs) => patternsOverlap(pattern, theirs)))) {
          throw new RequestFailure(
            400,
            'illegal_argument_exception',
            `index template [${name}] has index patterns ${JSON.stringify(patterns)} matching patterns from existing templates [${other.name}] with patterns (${other.name} => ${JSON.stringify(other.patterns)}) that have the same priority [${priority}], multiple index templates may not match during index creation, please use a different priority`,
          );
        }
      }
      try {
        // Validate the mappings the way index creation would.
        parseRootMapping((parsed.template as Record<string, unknown> | undefined)?.mappings);
      } catch (error) {
        throw new RequestFailure(
          400,
          'mapper_parsing_exception',
          `Failed to parse mapping: ${String(error)}`,
        );
      }
      this.#templates.set(name, {
        name,
        body: parsed,
        patterns,
        priority,
        isDataStream: isPlainObject(parsed.data_stream),
        builtin: false,
      });
      this.#prepareJson(ctx, 200, { acknowledged: true });
      return;
    }
    if (method === 'DELETE' && name !== undefined) {
      if (!this.#templates.delete(name)) {
        throw new RequestFailure(404, 'resource_not_found_exception', `index_template [${name}] missing`);
      }
      this.#prepareJson(ctx, 200, { acknowledged: true });
      return;
    }
    throw new RequestFailure(
      405,
      'method_not_allowed',
      `Incorrect HTTP method for uri [${ctx.path}] and method [${method}]`,
    );
  }

  #ilmPolicy(ctx: RequestContext, name: string | undefined, body: Buffer): void {
    const { method } = ctx;
    if (method === 'GET') {
      this.#authorize(ctx, 'cluster:admin/ilm/get');
      const matches = [...this.#policies.values()].filter(
        (policy) => name === undefined || policy.name === name,
      );
      if (name !== undefined && matches.length === 0) {
        throw new RequestFailure(404, 'resource_not_found_exception', `Lifecycle policy not found: ${name}`);
      }
      this.#prepareJson(
        ctx,
        200,
        Object.fromEntries(
          matches.map((policy) => [
            policy.name,
            {
              version: policy.version,
              modified_date: policy.modifiedDate,
              policy: policy.policy,
              in_use_by: this.#policyUsers(policy.name),
            },
          ]),
        ),
      );
      return;
    }
    if (method === 'PUT' && name !== undefined) {
      this.#authorize(ctx, 'cluster:admin/ilm/put');
      const parsed = parseJsonBody(body);
      if (!isPlainObject(parsed.policy)) {
        throw new RequestFailure(
          400,
          'x_content_parse_exception',
          "[1:2] [put_lifecycle_request] policy doesn't support values of type: VALUE_NULL",
        );
      }
      const previous = this.#policies.get(name);
      this.#policies.set(name, {
        name,
        policy: parsed.policy,
        version: (previous?.version ?? 0) + 1,
        modifiedDate: this.#now().toISOString(),
      });
      this.#prepareJson(ctx, 200, { acknowledged: true });
      return;
    }
    throw new RequestFailure(
      405,
      'method_not_allowed',
      `Incorrect HTTP method for uri [${ctx.path}] and method [${method}]`,
    );
  }

  #policyUsers(policy: string): Record<string, unknown> {
    const indices = [...this.#indices.values()]
      .filter((index) => index.settings.lifecyclePolicy === policy)
      .map((index) => index.name);
    const templates = [...this.#templates.values()]
      .filter(
        (template) =>
          flattenSettings((template.body.template as Record<string, unknown> | undefined)?.settings)[
            'index.lifecycle.name'
          ] === policy,
      )
      .map((template) => template.name);
    return { indices, data_streams: [], composable_templates: templates };
  }

  #dataStream(ctx: RequestContext, name: string | undefined): void {
    const { method } = ctx;
    if (method === 'GET') {
      this.#authorize(ctx, 'indices:admin/data_stream/get');
      const matches = [...this.#dataStreams.values()].filter(
        (stream) => name === undefined || globMatch(name, stream.name),
      );
      if (name !== undefined && !name.includes('*') && matches.length === 0) throw indexNotFound(name);
      this.#prepareJson(ctx, 200, { data_streams: matches.map((stream) => this.#renderDataStream(stream)) });
      return;
    }
    if (method === 'PUT' && name !== undefined) {
      this.#authorize(ctx, 'indices:admin/data_stream/create');
      if (this.#dataStreams.has(name)) {
        throw new RequestFailure(
          400,
          'resource_already_exists_exception',
          `data_stream [${name}] already exists`,
        );
      }
      const template = this.#matchTemplate(name);
      if (!template?.isDataStream) {
        throw new RequestFailure(
          400,
          'illegal_argument_exception',
          `no matching index template found for data stream [${name}]`,
        );
      }
      this.#createDataStream(name, template);
      this.#prepareJson(ctx, 200, { acknowledged: true });
      return;
    }
    throw new RequestFailure(
      405,
      'method_not_allowed',
      `Incorrect HTTP method for uri [${ctx.path}] and method [${method}]`,
    );
  }

  #renderDataStream(stream: DataStreamState): Record<string, unknown> {
    const write = this.#indices.get(stream.backingIndices.at(-1) ?? '');
    return {
      name: stream.name,
      timestamp_field: { name: '@timestamp' },
      indices: stream.backingIndices.map((index) => ({
        index_name: index,
        index_uuid: this.#indices.get(index)?.uuid,
      })),
      generation: stream.backingIndices.length,
      status: 'GREEN',
      template: stream.template,
      ...(write?.settings.lifecyclePolicy ? { ilm_policy: write.settings.lifecyclePolicy } : {}),
      hidden: false,
      system: false,
      allow_custom_routing: false,
      replicated: false,
    };
  }

  // -------------------------------------------------------------------------------------------------------------
  // Responses

  /**
   * Sets status, headers and body of a JSON answer. filter_path applies to it unless it is an error: Elasticsearch
   * builds error responses with AbstractRestChannel.newErrorBuilder(), which disables filtering, and everything
   * else (a GET _doc's found:false 404 included) with newBuilder(), which applies it.
   */
  #prepareJson(
    ctx: RequestContext,
    status: number,
    body: unknown,
    options: { product?: boolean; error?: boolean } = {},
  ): void {
    ctx.res.statusCode = status;
    const contentType =
      ctx.compatVersion === undefined
        ? 'application/json'
        : `application/vnd.elasticsearch+json;compatible-with=${ctx.compatVersion}`;
    ctx.res.setHeader('content-type', contentType);
    if ((options.product ?? true) && ctx.sendProductHeader)
      ctx.res.setHeader(PRODUCT_HEADER, 'Elasticsearch');
    const filter = options.error === true ? undefined : ctx.filter;
    if (body === undefined) ctx.pendingBody = '';
    else ctx.pendingBody = filter ? stringifyFiltered(body, filter) : JSON.stringify(body);
  }

  /** Answers an error (never filtered), or an empty 413. */
  async #respond(
    ctx: RequestContext,
    status: number,
    body: unknown,
    options: { product?: boolean } = {},
  ): Promise<void> {
    if (status === 413) {
      ctx.res.statusCode = 413;
      ctx.pendingBody = '';
    } else {
      this.#prepareJson(ctx, status, body, { ...options, error: true });
    }
    await this.#flush(ctx);
  }

  async #flush(ctx: RequestContext): Promise<void> {
    if (ctx.delayMs > 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          this.#timers.delete(timer);
          resolve();
        }, ctx.delayMs);
        this.#timers.add(timer);
      });
    }
    ctx.record.status = ctx.res.statusCode;
    if (ctx.res.destroyed || ctx.res.writableEnded) return;
    const payload = ctx.pendingBody ?? '';
    ctx.res.setHeader('content-length', Buffer.byteLength(payload));
    ctx.res.end(ctx.req.method === 'HEAD' ? undefined : payload);
  }

  #writeJson(res: ServerResponse, status: number, body: unknown, options: { product: boolean }): void {
    res.statusCode = status;
    res.setHeader('content-type', 'application/json');
    if (options.product) res.setHeader(PRODUCT_HEADER, 'Elasticsearch');
    res.end(JSON.stringify(body));
  }
}

interface ResolvedTarget {
  readonly index: IndexState;
  readonly dataStream: DataStreamState | undefined;
}

/** Write targets resolved so far in one bulk request, by name. */
type ResolvedTargets = Map<string, ResolvedTarget>;

/** The _shards of a successful item: one shared object (responses are only serialized). */
const SHARDS = Object.freeze({ total: 2, successful: 1, failed: 0 });

/** A failed bulk item on an existing index. */
function failedItem(
  index: IndexState,
  id: string | undefined,
  status: number,
  error: Record<string, unknown>,
): Record<string, unknown> {
  return {
    _index: index.name,
    _id: id ?? null,
    status,
    error: { ...error, index_uuid: index.uuid, shard: '0', index: index.name },
  };
}

const WWW_AUTHENTICATE = ['Basic realm="security", charset="UTF-8"', 'Bearer realm="security"', 'ApiKey'];

// ---------------------------------------------------------------------------------------------------------------
// Response filtering (filter_path), as Elasticsearch does it. Read in elastic/elasticsearch: AbstractRestChannel
// (the parameter: comma-separated, trimmed, empty entries dropped; a leading "-" makes an exclusion),
// FilterPath (the trie: paths split at "." unless escaped as "\.", a name with "*" is a glob, "**" also matches
// itself one level down), FilterPathBasedFilter and Jackson's FilteringGeneratorDelegate (what is written), and
// JsonXContentGenerator (the includes filter is applied to the output first, then the excludes filter to what
// it lets through; the root object is written below both filters, so a response where nothing matches is {}).
// What gets written, per field of an object:
// - an included path ends at the field: the field and all under it; a path runs through it: what passes below;
//   a scalar under a path that has not ended is not written (_includeScalar is false for inclusions);
// - an excluded path ends at the field: not written; a path runs through it: the rest of it, scalars included;
// - arrays are transparent (each element is filtered as the array would be); an object or array is written only
//   if something in it is, except that under exclusions alone an object or array that was empty to begin with
//   is kept (includeEmptyObject/includeEmptyArray: inclusive == false && contentsFiltered == false, ES #109668).

/** One node of a compiled filter_path trie (ES FilterPath). */
interface FilterPathNode {
  /** A path ends here: the field matches, and everything under it. */
  readonly isFinal: boolean;
  /** "**": matches any name, and stays in force one level further down. */
  readonly isDoubleWildcard: boolean;
  readonly terms: ReadonlyMap<string, FilterPathNode>;
  readonly globs: readonly { readonly pattern: RegExp; readonly node: FilterPathNode }[];
}

/** A trie node while paths are inserted (ES FilterPathBuilder.BuildNode). */
interface FilterPathBuildNode {
  readonly isFinal: boolean;
  readonly children: Map<string, FilterPathBuildNode>;
}

/** Where a field name leads in one filter, and the name as the response writes it. */
interface FilterStep {
  /** The field's whole value matches ('match'), nothing of it does ('none'), or this state applies below it. */
  readonly next: FilterState | 'match' | 'none';
  /** `"name":`, quoted once per name rather than once per field written. */
  readonly field: string;
}

/** The trie nodes that apply to the fields of one object (ES: one FilterPathBasedFilter). */
class FilterState {
  readonly #nodes: readonly FilterPathNode[];
  /** step() by name: a response repeats its field names (a bulk response has thousands of alike items). */
  readonly #steps = new Map<string, FilterStep>();

  constructor(nodes: readonly FilterPathNode[]) {
    this.#nodes = nodes;
  }

  step(name: string): FilterStep {
    let step = this.#steps.get(name);
    if (step === undefined) {
      step = { next: evaluateFilterStep(this.#nodes, name), field: `${JSON.stringify(name)}:` };
      this.#steps.set(name, step);
    }
    return step;
  }
}

/** A request's filter_path: the inclusions and the exclusions (absent when there are none). */
interface ResponseFilter {
  readonly include: FilterState | undefined;
  readonly exclude: FilterState | undefined;
}

/** ES FilterPath.matches over every node, as FilterPathBasedFilter.evaluate combines them. */
function evaluateFilterStep(nodes: readonly FilterPathNode[], name: string): FilterStep['next'] {
  const next: FilterPathNode[] = [];
  for (const node of nodes) {
    const term = node.terms.get(name);
    if (term?.isFinal === true) return 'match';
    if (term) next.push(term);
    for (const glob of node.globs) {
      if (!glob.pattern.test(name)) continue;
      if (glob.node.isFinal) return 'match';
      next.push(glob.node);
    }
    if (node.isDoubleWildcard) next.push(node);
  }
  return next.length === 0 ? 'none' : new FilterState(next);
}

/** The compiled filter_path parameter, or undefined when it names no path (no filtering at all). */
function compileFilterPath(parameter: string | undefined): ResponseFilter | undefined {
  if (parameter === undefined) return undefined;
  const paths = [...new Set(parameter.split(',').map((path) => path.trim()))].filter((path) => path !== '');
  const includes = paths.filter((path) => !path.startsWith('-'));
  const excludes = paths.filter((path) => path.startsWith('-')).map((path) => path.slice(1));
  if (includes.length === 0 && excludes.length === 0) return undefined;
  return {
    include: includes.length === 0 ? undefined : new FilterState([buildFilterPaths(includes)]),
    exclude: excludes.length === 0 ? undefined : new FilterState([buildFilterPaths(excludes)]),
  };
}

function buildFilterPaths(paths: readonly string[]): FilterPathNode {
  const root: FilterPathBuildNode = { isFinal: false, children: new Map() };
  for (const path of paths) {
    const trimmed = path.trim();
    if (trimmed !== '') insertFilterPath(root, trimmed);
  }
  return freezeFilterPath('', root);
}

/** ES FilterPathBuilder.insertNode: split at the first unescaped "." (not at position 0), recurse. */
function insertFilterPath(node: FilterPathBuildNode, path: string): void {
  let split = -1;
  let escaped = false;
  for (let at = 0; at < path.length; at++) {
    if (path[at] === '.') {
      split = at;
      break;
    }
    if (path[at] === '\\' && path[at + 1] === '.') {
      at += 1;
      escaped = true;
    }
  }
  // Java's replaceAll("\\\\.", ".") : a backslash and the character after it become ".".
  const unescape = (field: string): string => (escaped ? field.replace(/\\./g, '.') : field);
  if (split <= 0) {
    // A path that ends here replaces whatever longer paths went through this field: all of it matches.
    node.children.set(unescape(path), { isFinal: true, children: new Map() });
    return;
  }
  const field = unescape(path.slice(0, split));
  let child = node.children.get(field);
  if (!child) {
    child = { isFinal: false, children: new Map() };
    node.children.set(field, child);
  }
  if (!child.isFinal) insertFilterPath(child, path.slice(split + 1));
}

function freezeFilterPath(segment: string, node: FilterPathBuildNode): FilterPathNode {
  const terms = new Map<string, FilterPathNode>();
  const globs: { pattern: RegExp; node: FilterPathNode }[] = [];
  for (const [name, child] of node.children) {
    const built = freezeFilterPath(name, child);
    if (name.includes('*')) globs.push({ pattern: globPattern(name), node: built });
    else terms.set(name, built);
  }
  return { isFinal: node.isFinal, isDoubleWildcard: segment === '**', terms, globs };
}

/** ES Glob.globMatch: "*" matches any run of characters (none included), everything else itself. */
function globPattern(glob: string): RegExp {
  const parts = glob.split('*').map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&'));
  return new RegExp(`^${parts.join('.*')}$`, 's');
}

/** The response body as Elasticsearch writes it under filter_path: the root object always, the rest filtered. */
function stringifyFiltered(body: unknown, filter: ResponseFilter): string {
  const value = toJsonValue(body);
  if (!isPlainObject(value)) return filteredJson(value, filter.include, filter.exclude) ?? '';
  return filteredObject(value, filter.include, filter.exclude) ?? '{}';
}

/**
 * The JSON text of value under the inclusions and exclusions that apply to it (undefined: not restricted), or
 * undefined when nothing of it is written.
 */
function filteredJson(
  value: unknown,
  include: FilterState | undefined,
  exclude: FilterState | undefined,
): string | undefined {
  if (include === undefined && exclude === undefined) return JSON.stringify(value);
  const json = toJsonValue(value);
  if (Array.isArray(json)) return filteredArray(json, include, exclude);
  if (json !== null && typeof json === 'object')
    return filteredObject(json as Record<string, unknown>, include, exclude);
  return include === undefined ? JSON.stringify(json) : undefined;
}

function filteredObject(
  object: Record<string, unknown>,
  include: FilterState | undefined,
  exclude: FilterState | undefined,
): string | undefined {
  let text: string | undefined;
  let hadFields = false;
  for (const key in object) {
    if (!Object.hasOwn(object, key)) continue;
    const value = object[key];
    // JSON.stringify leaves these out: they are not fields of the response.
    if (value === undefined || typeof value === 'function' || typeof value === 'symbol') continue;
    hadFields = true;
    const included = include?.step(key);
    if (included?.next === 'none') continue;
    const excluded = exclude?.step(key);
    if (excluded?.next === 'match') continue;
    const next = included?.next;
    const member = filteredJson(
      value,
      next === undefined || next === 'match' ? undefined : next,
      excluded === undefined || excluded.next === 'none' ? undefined : excluded.next,
    );
    if (member === undefined) continue;
    // One of the two filters applies here (filteredJson writes an object whole otherwise): its step has the name.
    const field = `${included?.field ?? excluded?.field ?? `${JSON.stringify(key)}:`}${member}`;
    text = text === undefined ? field : `${text},${field}`;
  }
  if (text !== undefined) return `{${text}}`;
  return include === undefined && !hadFields ? '{}' : undefined;
}

function filteredArray(
  array: readonly unknown[],
  include: FilterState | undefined,
  exclude: FilterState | undefined,
): string | undefined {
  const members: string[] = [];
  for (const element of array) {
    const member = filteredJson(element, include, exclude);
    if (member !== undefined) members.push(member);
  }
  if (members.length > 0) return `[${members.join(',')}]`;
  return include === undefined && array.length === 0 ? '[]' : undefined;
}

/** What JSON.stringify would write for value: its toJSON() if it has one (a Date). */
function toJsonValue(value: unknown): unknown {
  if (value !== null && typeof value === 'object' && 'toJSON' in value && typeof value.toJSON === 'function')
    return (value.toJSON as () => unknown)();
  return value;
}

// ---------------------------------------------------------------------------------------------------------------
// Bulk body parsing

interface BulkOperation {
  readonly op: 'index' | 'create' | 'update' | 'delete';
  readonly index: string;
  readonly id: string | undefined;
  /**
   * Where the source line is in the request body (start = stop for delete). An index/create source is decoded
   * and parsed only when its item is processed (a malformed one fails only its item), so that a request's
   * parsed documents do not all live at once; a stored document keeps these bytes.
   */
  readonly sourceStart: number;
  readonly sourceStop: number;
  /** An update's parsed body: parsed up front, as a malformed one fails the whole request. */
  readonly updateSource: unknown;
}

/** The body's lines, cut at "\n" bytes (never part of a multi-byte UTF-8 sequence) and decoded one at a time. */
class BulkLines {
  readonly #body: Buffer;
  /** Index of the body's final "\n" (the caller checked it is there); the text before it is split. */
  readonly #end: number;
  #next = 0;
  start = 0;
  stop = 0;

  constructor(body: Buffer) {
    this.#body = body;
    this.#end = body.length - 1;
  }

  hasMore(): boolean {
    return this.#next <= this.#end;
  }

  /** Moves to the next line; start/stop are its bytes without its "\n" and the "\r" that may precede it. */
  skip(): void {
    const body = this.#body;
    const newline = body.indexOf(10, this.#next);
    let stop = newline;
    if (stop > this.#next && body[stop - 1] === 13) stop -= 1;
    this.start = this.#next;
    this.stop = stop;
    this.#next = newline + 1;
  }

  /** The next line, decoded. */
  take(): string {
    this.skip();
    return this.#body.toString('utf8', this.start, this.stop);
  }
}

function parseBulkBody(body: Buffer, pathIndex: string | undefined): BulkOperation[] {
  // Each "\n" may be preceded by "\r" (sinks.md §1.1); blank lines between actions are skipped, as ES does.
  const lines = new BulkLines(body);
  const operations: BulkOperation[] = [];
  const validation: string[] = [];
  let lineNumber = 0;
  while (lines.hasMore()) {
    const line = lines.take();
    lineNumber += 1;
    if (line.trim() === '') continue;
    let action: unknown;
    try {
      action = JSON.parse(line);
    } catch (error) {
      throw new RequestFailure(
        400,
        'x_content_parse_exception',
        `[${lineNumber}:1] ${(error as Error).message}`,
      );
    }
    const keys = isPlainObject(action) ? Object.keys(action) : [];
    if (!isPlainObject(action) || keys.length !== 1) {
      throw new RequestFailure(
        400,
        'illegal_argument_exception',
        `Malformed action/metadata line [${lineNumber}], expected START_OBJECT or END_OBJECT but found [${typeof action}]`,
      );
    }
    const op = keys[0] ?? '';
    const meta = action[op];
    if (op !== 'index' && op !== 'create' && op !== 'update' && op !== 'delete') {
      throw new RequestFailure(
        400,
        'illegal_argument_exception',
        `Malformed action/metadata line [${lineNumber}], expected field [create], [delete], [index] or [update] but found [${op}]`,
      );
    }
    if (!isPlainObject(meta)) {
      throw new RequestFailure(
        400,
        'illegal_argument_exception',
        `Malformed action/metadata line [${lineNumber}], expected START_OBJECT but found [${typeof meta}]`,
      );
    }
    const index = typeof meta._index === 'string' ? meta._index : pathIndex;
    const id = typeof meta._id === 'string' || typeof meta._id === 'number' ? String(meta._id) : undefined;
    const position = operations.length + 1;
    if (index === undefined) validation.push(`${position}: index is missing`);
    // A UTF-16 code unit is at most 3 UTF-8 bytes: only long ids need counting.
    if (id !== undefined && id.length * 3 > MAX_ID_BYTES && Buffer.byteLength(id) > MAX_ID_BYTES) {
      validation.push(
        `${position}: id [${id}] is too long, must be no longer than 512 bytes but was: ${Buffer.byteLength(id)}`,
      );
    }
    if ((op === 'update' || op === 'delete') && id === undefined)
      validation.push(`${position}: id is missing`);
    let sourceStart = 0;
    let sourceStop = 0;
    let updateSource: unknown;
    if (op !== 'delete') {
      if (!lines.hasMore()) {
        throw new RequestFailure(
          400,
          'illegal_argument_exception',
          `The bulk request must be terminated by a newline [\\n]`,
        );
      }
      lines.skip();
      sourceStart = lines.start;
      sourceStop = lines.stop;
      lineNumber += 1;
      if (op === 'update') {
        try {
          updateSource = JSON.parse(body.toString('utf8', sourceStart, sourceStop));
        } catch (error) {
          throw new RequestFailure(
            400,
            'x_content_parse_exception',
            `[${lineNumber}:1] ${(error as Error).message}`,
          );
        }
      }
    }
    operations.push({ op, index: index ?? '', id, sourceStart, sourceStop, updateSource });
  }
  if (operations.length === 0) validation.push('1: no requests added');
  if (validation.length > 0) {
    throw new RequestFailure(
      400,
      'action_request_validation_exception',
      `Validation Failed: ${validation.join(';')};`,
    );
  }
  return operations;
}

const NO_BYTES = Buffer.alloc(0);

/**
 * A stored document. It keeps its source as received (its bytes in the request body) and parses it on first
 * read, so that a fake holding millions of documents does not hold millions of parsed objects. To callers it
 * is the plain { index, id, source, version, seqNo } object: the same own enumerable properties in that order,
 * `source` an accessor (settable, like the data property it stands for) that returns the same parsed object
 * on every read.
 */
class LazyDocument implements StoredDocument {
  declare readonly index: string;
  declare readonly id: string;
  declare readonly source: Record<string, unknown>;
  declare readonly version: number;
  declare readonly seqNo: number;
  #body: Buffer;
  #start: number;
  #stop: number;
  #parsed: Record<string, unknown> | undefined;

  /** One shared descriptor (one shared getter) keeps every instance on the same hidden class. */
  static readonly #sourceProperty: PropertyDescriptor = {
    enumerable: true,
    configurable: true,
    get(this: LazyDocument): Record<string, unknown> {
      return LazyDocument.#load(this);
    },
    set(this: LazyDocument, value: Record<string, unknown>): void {
      this.#parsed = value;
    },
  };

  constructor(
    index: string,
    id: string,
    version: number,
    seqNo: number,
    body: Buffer,
    start: number,
    stop: number,
    parsed?: Record<string, unknown>,
  ) {
    this.#body = body;
    this.#start = start;
    this.#stop = stop;
    this.#parsed = parsed;
    this.index = index;
    this.id = id;
    Object.defineProperty(this, 'source', LazyDocument.#sourceProperty);
    this.version = version;
    this.seqNo = seqNo;
  }

  static #load(doc: LazyDocument): Record<string, unknown> {
    doc.#parsed ??= JSON.parse(doc.#body.toString('utf8', doc.#start, doc.#stop)) as Record<string, unknown>;
    return doc.#parsed;
  }
}

/** The documents of one index by _id. */
interface DocumentStore {
  readonly size: number;
  /** The version of the document stored under id, or 0 when there is none. */
  versionOf(id: string): number;
  get(id: string): StoredDocument | undefined;
  /** Stores a document whose source is body[start, stop) as received, or `parsed` (an update's merge). */
  put(
    id: string,
    version: number,
    seqNo: number,
    body: Buffer,
    start: number,
    stop: number,
    parsed?: Record<string, unknown>,
  ): void;
  delete(id: string): void;
  values(): Iterable<StoredDocument>;
}

/** keepSources: true. The source is kept as received and parsed only if read (a benchmark stores millions). */
class SourceDocumentStore implements DocumentStore {
  readonly #documents = new Map<string, StoredDocument>();
  readonly #index: string;

  constructor(index: string) {
    this.#index = index;
  }

  get size(): number {
    return this.#documents.size;
  }

  versionOf(id: string): number {
    return this.#documents.get(id)?.version ?? 0;
  }

  get(id: string): StoredDocument | undefined {
    return this.#documents.get(id);
  }

  put(
    id: string,
    version: number,
    seqNo: number,
    body: Buffer,
    start: number,
    stop: number,
    parsed?: Record<string, unknown>,
  ): void {
    this.#documents.set(id, new LazyDocument(this.#index, id, version, seqNo, body, start, stop, parsed));
  }

  delete(id: string): void {
    this.#documents.delete(id);
  }

  values(): Iterable<StoredDocument> {
    return this.#documents.values();
  }
}

/**
 * keepSources: false. Per _id only its seq_no and, where it is not 1 (a create never makes one), its version;
 * documents are made when listed, with a source that throws when read. The ids are found through an
 * open-addressing table of [hash, entry] pairs rather than a Map: almost every bulk item looks up an id that is
 * not there yet, and in a Map of a million strings that costs several cache misses (bucket, then each chained
 * entry and its key string), here one (measured at a million documents: ~0.35 µs less per document than a Map, for ~40 MB more).
 */
class SourcelessDocumentStore implements DocumentStore {
  readonly #index: string;
  /** Per slot: the id's hash and its entry + 1 (0: an empty slot). Entries are never moved, only marked. */
  #slots = new Int32Array(2 * 1024);
  #mask = 1023;
  /** Entries in insertion order (documents() lists them so); a deleted one's id is undefined. */
  readonly #ids: (string | undefined)[] = [];
  readonly #hashes: number[] = [];
  readonly #seqNos: number[] = [];
  readonly #versions = new Map<string, number>();
  #size = 0;

  constructor(index: string) {
    this.#index = index;
  }

  get size(): number {
    return this.#size;
  }

  versionOf(id: string): number {
    if (this.#find(id, hashId(id)) < 0) return 0;
    return this.#versions.size === 0 ? 1 : (this.#versions.get(id) ?? 1);
  }

  get(id: string): StoredDocument | undefined {
    const entry = this.#find(id, hashId(id));
    return entry < 0 ? undefined : this.#document(entry);
  }

  put(id: string, version: number, seqNo: number): void {
    const hash = hashId(id);
    let entry = this.#find(id, hash);
    if (entry < 0) {
      if (2 * (this.#ids.length + 1) > this.#mask) this.#grow();
      entry = this.#ids.length;
      this.#ids.push(id);
      this.#hashes.push(hash);
      this.#seqNos.push(seqNo);
      this.#claim(hash, entry);
      this.#size += 1;
    } else {
      this.#seqNos[entry] = seqNo;
    }
    if (version !== 1) this.#versions.set(id, version);
    else if (this.#versions.size > 0) this.#versions.delete(id);
  }

  delete(id: string): void {
    const entry = this.#find(id, hashId(id));
    if (entry < 0) return;
    // The slot keeps pointing at the entry: a lookup passes it (the ids differ) and probes on.
    this.#ids[entry] = undefined;
    this.#versions.delete(id);
    this.#size -= 1;
  }

  *values(): Iterable<StoredDocument> {
    for (let entry = 0; entry < this.#ids.length; entry++) {
      if (this.#ids[entry] !== undefined) yield this.#document(entry);
    }
  }

  #document(entry: number): StoredDocument {
    const id = this.#ids[entry] as string;
    return new SourcelessDocument(
      this.#index,
      id,
      this.#versions.get(id) ?? 1,
      this.#seqNos[entry] as number,
    );
  }

  /** The live entry holding id, or -1. */
  #find(id: string, hash: number): number {
    const slots = this.#slots;
    for (let slot = hash & this.#mask; ; slot = (slot + 1) & this.#mask) {
      const entry = (slots[2 * slot + 1] as number) - 1;
      if (entry < 0) return -1;
      if (slots[2 * slot] === hash && this.#ids[entry] === id) return entry;
    }
  }

  /** Puts entry in the first empty slot of its probe sequence. */
  #claim(hash: number, entry: number): void {
    const slots = this.#slots;
    let slot = hash & this.#mask;
    while (slots[2 * slot + 1] !== 0) slot = (slot + 1) & this.#mask;
    slots[2 * slot] = hash;
    slots[2 * slot + 1] = entry + 1;
  }

  /** Doubles the table (kept at most half full) and places the live entries again. */
  #grow(): void {
    const capacity = 2 * (this.#mask + 1);
    this.#slots = new Int32Array(2 * capacity);
    this.#mask = capacity - 1;
    for (let entry = 0; entry < this.#ids.length; entry++) {
      if (this.#ids[entry] !== undefined) this.#claim(this.#hashes[entry] as number, entry);
    }
  }
}

/** FNV-1a over the id's UTF-16 code units. */
function hashId(id: string): number {
  let hash = 0x811c9dc5;
  for (let at = 0; at < id.length; at++) hash = Math.imul(hash ^ id.charCodeAt(at), 0x01000193);
  return hash;
}

/**
 * A stored document of a fake started with keepSources: false: what the write path decides by, and no source.
 * Reading `source` throws rather than answer with something that was not received.
 */
class SourcelessDocument implements StoredDocument {
  readonly index: string;
  readonly id: string;
  readonly version: number;
  readonly seqNo: number;

  constructor(index: string, id: string, version: number, seqNo: number) {
    this.index = index;
    this.id = id;
    this.version = version;
    this.seqNo = seqNo;
  }

  get source(): Record<string, unknown> {
    throw new Error(
      `fake Elasticsearch: the source of [${this.index}][${this.id}] was not kept (started with keepSources: false)`,
    );
  }
}

function generateId(): string {
  return randomBytes(15).toString('base64url');
}

function validateIndexName(name: string): void {
  const invalid = (why: string): ItemFailure =>
    new ItemFailure(400, {
      type: 'invalid_index_name_exception',
      reason: `Invalid index name [${name}], ${why}`,
      index: name,
      index_uuid: '_na_',
    });
  if (name === '' || name === '.' || name === '..') throw invalid("must not be '.' or '..'");
  if (name !== name.toLowerCase()) throw invalid('must be lowercase');
  if (/[\\/*?"<>| ,#:]/.test(name))
    throw invalid(
      "must not contain the following characters ['\\','/','*','?','\"','<','>','|',' ',',','#',':']",
    );
  if (/^[-_+]/.test(name)) throw invalid("must not start with '_', '-', or '+'");
  if (Buffer.byteLength(name) > 255) throw invalid('index name is too long');
}

function itemFaultError(fault: ItemFault, index: string, id: string): [number, Record<string, unknown>] {
  switch (fault) {
    case 'es_rejected_execution_exception':
      return [
        429,
        {
          type: 'es_rejected_execution_exception',
          reason: `rejected execution of primary operation [shard_detail=[${index}][0][P], shard_write_bytes=1024, coordinating_and_primary_bytes=536870912, replica_bytes=0, all_bytes=536870912, primary_operation_bytes=1024, max_coordinating_and_primary_bytes=536870912]`,
        },
      ];
    case 'circuit_breaking_exception':
      return [
        429,
        {
          type: 'circuit_breaking_exception',
          reason:
            '[parent] Data too large, data for [indices:data/write/bulk[s]] would be [1020054732/972.7mb], which is larger than the limit of [1020054732/972.7mb]',
          bytes_wanted: 1020054732,
          bytes_limit: 1020054732,
          durability: 'TRANSIENT',
        },
      ];
    case 'document_parsing_exception':
      return [
        400,
        {
          type: 'document_parsing_exception',
          reason: `[1:42] failed to parse field [kubernetes.audit.verb] of type [long] in document with id '${id}'. Preview of field's value: 'create'`,
          caused_by: { type: 'illegal_argument_exception', reason: 'For input string: "create"' },
        },
      ];
    case 'mapper_parsing_exception':
      return [
        400,
        {
          type: 'mapper_parsing_exception',
          reason: `failed to parse field [kubernetes.audit.verb] of type [long] in document with id '${id}'. Preview of field's value: 'create'`,
          caused_by: { type: 'number_format_exception', reason: 'For input string: "create"' },
        },
      ];
    case 'internal_error':
      return [500, { type: 'illegal_state_exception', reason: 'injected internal failure (fake)' }];
    case 'unavailable_shards_exception':
      // Type name inferred from ES's UnavailableShardsException (503); sinks.md §1.3 marks it NOT FOUND.
      return [
        503,
        {
          type: 'unavailable_shards_exception',
          reason: `[${index}][0] primary shard is not active Timeout: [1m], request: [BulkShardRequest [[${index}][0]] containing [1] requests]`,
        },
      ];
  }
}

function defaultFaultBody(status: number, path: string): unknown {
  switch (status) {
    case 401:
      return errorEnvelope(
        401,
        'security_exception',
        `unable to authenticate with provided credentials and anonymous access is not allowed for this request`,
        {
          header: { 'WWW-Authenticate': WWW_AUTHENTICATE },
        },
      );
    case 403:
      return errorEnvelope(
        403,
        'security_exception',
        `action [indices:data/write/bulk] is unauthorized for user [fake]`,
      );
    case 429:
      return errorEnvelope(
        429,
        'es_rejected_execution_exception',
        'rejected execution of coordinating operation [coordinating_and_primary_bytes=536870912, replica_bytes=0, all_bytes=536870912, coordinating_operation_bytes=1048576, max_coordinating_and_primary_bytes=536870912]',
      );
    case 500:
      return errorEnvelope(500, 'illegal_state_exception', 'injected internal failure (fake)');
    case 503:
      return errorEnvelope(
        503,
        'cluster_block_exception',
        'blocked by: [SERVICE_UNAVAILABLE/1/state not recovered / initialized];',
      );
    case 502:
      return '<html><body><h1>502 Bad Gateway</h1></body></html>';
    case 504:
      return '<html><body><h1>504 Gateway Time-out</h1></body></html>';
    default:
      return errorEnvelope(status, 'exception', `injected status ${status} for ${path}`);
  }
}

function errorEnvelope(
  status: number,
  type: string,
  reason: string,
  extra: Record<string, unknown> = {},
): Record<string, unknown> {
  // no-handler errors are a bare string in Elasticsearch.
  if (type === 'no_handler') return { error: reason, status };
  if (type === 'content_type_header_exception') return { error: reason, status };
  const cause = {
    type,
    reason,
    ...Object.fromEntries(Object.entries(extra).filter(([key]) => key !== 'caused_by')),
  };
  return { error: { root_cause: [cause], ...cause, ...extra }, status };
}

function indexNotFound(name: string): RequestFailure {
  return new RequestFailure(404, 'index_not_found_exception', `no such index [${name}]`, {
    'resource.type': 'index_or_alias',
    'resource.id': name,
    index_uuid: '_na_',
    index: name,
  });
}

// ---------------------------------------------------------------------------------------------------------------
// Dynamic mapping: what Elasticsearch does with a document, and what it rejects

function makeLeaf(
  type: string,
  options: Partial<Pick<LeafNode, 'ignoreAbove' | 'ignoreMalformed' | 'value' | 'index'>> = {},
): LeafNode {
  return {
    kind: 'leaf',
    type,
    ignoreAbove: options.ignoreAbove,
    ignoreMalformed: options.ignoreMalformed ?? false,
    index: options.index ?? true,
    value: options.value,
    fields: new Map(),
    extra: {},
    subfields: undefined,
  };
}

function makeObject(dynamic?: DynamicMode): ObjectNode {
  return { kind: 'object', dynamic, enabled: true, properties: new Map() };
}

function parseRootMapping(json: unknown): RootMapping {
  const root: RootMapping = { ...makeObject(), dateDetection: true, numericDetection: false };
  if (json === undefined || json === null) return root;
  if (!isPlainObject(json)) throw new Error('mappings must be an object');
  applyObjectSettings(root, json);
  if (json.date_detection !== undefined)
    root.dateDetection = json.date_detection === true || json.date_detection === 'true';
  if (json.numeric_detection !== undefined) {
    root.numericDetection = json.numeric_detection === true || json.numeric_detection === 'true';
  }
  return root;
}

function applyObjectSettings(node: ObjectNode, json: Record<string, unknown>): void {
  if (typeof json.dynamic === 'string' || typeof json.dynamic === 'boolean') {
    node.dynamic = String(json.dynamic) as DynamicMode;
  }
  if (json.enabled !== undefined) node.enabled = json.enabled === true || json.enabled === 'true';
  if (json.properties !== undefined) {
    if (!isPlainObject(json.properties)) throw new Error('properties must be an object');
    for (const [name, definition] of Object.entries(json.properties)) {
      if (!isPlainObject(definition))
        throw new Error(`Expected map for property [fields] on field [${name}]`);
      // Dotted names in mappings expand into objects, as in documents.
      const parts = name.split('.');
      if (parts.some((part) => part === ''))
        throw new Error(`field name cannot contain only dots or empty parts: [${name}]`);
      let parent: ObjectNode = node;
      for (const part of parts.slice(0, -1)) {
        let child = parent.properties.get(part);
        if (!child) {
          child = makeObject();
          parent.properties.set(part, child);
        }
        if (child.kind !== 'object') throw new Error(`field [${name}] conflicts with a leaf`);
        parent = child;
      }
      const leafName = parts.at(-1) ?? name;
      const existing = parent.properties.get(leafName);
      const parsed = parseNode(definition);
      if (existing?.kind === 'object' && parsed.kind === 'object') {
        for (const [key, value] of parsed.properties) existing.properties.set(key, value);
        existing.dynamic = parsed.dynamic ?? existing.dynamic;
        existing.enabled = parsed.enabled;
      } else {
        parent.properties.set(leafName, parsed);
      }
    }
  }
}

function parseNode(json: Record<string, unknown>): MappingNode {
  const type = typeof json.type === 'string' ? json.type : undefined;
  if (type === undefined || type === 'object' || type === 'nested') {
    const node = makeObject();
    applyObjectSettings(node, json);
    return node;
  }
  const leaf = makeLeaf(type, {
    ...(typeof json.ignore_above === 'number' ? { ignoreAbove: json.ignore_above } : {}),
    ignoreMalformed: json.ignore_malformed === true,
    ...(typeof json.value === 'string' ? { value: json.value } : {}),
    index: json.index !== false,
  });
  const known = new Set(['type', 'ignore_above', 'ignore_malformed', 'value', 'index', 'fields']);
  for (const [key, value] of Object.entries(json)) if (!known.has(key)) leaf.extra[key] = value;
  if (isPlainObject(json.fields)) {
    for (const [name, definition] of Object.entries(json.fields)) {
      if (isPlainObject(definition)) {
        const sub = parseNode(definition);
        if (sub.kind === 'leaf') leaf.fields.set(name, sub);
      }
    }
  }
  return leaf;
}

function renderRoot(root: RootMapping): Record<string, unknown> {
  return {
    ...(root.dynamic !== undefined ? { dynamic: root.dynamic } : {}),
    ...(root.dateDetection ? {} : { date_detection: false }),
    properties: renderProperties(root.properties),
  };
}

function renderProperties(properties: Map<string, MappingNode>): Record<string, unknown> {
  return Object.fromEntries([...properties].map(([name, node]) => [name, renderNode(node)]));
}

function renderNode(node: MappingNode): Record<string, unknown> {
  if (node.kind === 'object') {
    return {
      ...(node.dynamic !== undefined ? { dynamic: node.dynamic } : {}),
      ...(node.enabled ? {} : { enabled: false }),
      ...(node.properties.size > 0 ? { properties: renderProperties(node.properties) } : { type: 'object' }),
    };
  }
  return {
    type: node.type,
    ...(node.ignoreAbove !== undefined ? { ignore_above: node.ignoreAbove } : {}),
    ...(node.ignoreMalformed ? { ignore_malformed: true } : {}),
    ...(node.value !== undefined ? { value: node.value } : {}),
    ...(node.index ? {} : { index: false }),
    ...node.extra,
    ...(node.fields.size > 0
      ? { fields: Object.fromEntries([...node.fields].map(([name, sub]) => [name, renderNode(sub)])) }
      : {}),
  };
}

/** Fields counted against index.mapping.total_fields.limit: object and leaf mappers and multi-fields. */
function countFields(node: ObjectNode): number {
  let count = 0;
  for (const child of node.properties.values()) {
    count += 1;
    count += child.kind === 'object' ? countFields(child) : child.fields.size;
  }
  return count;
}

/** One mapping change made while parsing a document, undone if the document fails. */
type MappingChange =
  | { readonly kind: 'added'; readonly properties: Map<string, MappingNode>; readonly name: string }
  | { readonly kind: 'value'; readonly leaf: LeafNode; readonly previous: string | undefined };

interface ParseContext {
  readonly id: string;
  readonly sourceText: string;
  readonly root: RootMapping;
  readonly depthLimit: number;
  /** Every change made to the mapping by this document, in order. */
  readonly changes: MappingChange[];
  /** Fields added by this document, counted as countFields counts them. */
  added: number;
}

/**
 * Parses a document against the index mapping, adding dynamic fields to it in place. If the document fails
 * (an ItemFailure, or the total-fields limit), every change it made is undone, so the mapping is as before.
 */
function applyDocument(
  index: IndexState,
  source: Record<string, unknown>,
  id: string,
  sourceText: string,
): void {
  const root = index.mapping;
  const ctx: ParseContext = {
    id,
    sourceText,
    root,
    depthLimit: index.settings.depthLimit,
    changes: [],
    added: 0,
  };
  let done = false;
  try {
    if (root.enabled) parseObject(ctx, root, source, '', root.dynamic ?? 'true', 1);
    const before = index.fieldCount;
    const after = before + ctx.added;
    const limit = index.settings.totalFieldsLimit;
    if (after > limit) {
      const reason = `Limit of total fields [${limit}] has been exceeded while adding new fields [${after - before}]`;
      throw new ItemFailure(400, {
        type: 'document_parsing_exception',
        reason: `[1:${sourceText.length}] failed to parse: ${reason}`,
        caused_by: { type: 'illegal_argument_exception', reason },
      });
    }
    index.fieldCount = after;
    done = true;
  } finally {
    if (!done) undoChanges(ctx.changes);
  }
}

function undoChanges(changes: readonly MappingChange[]): void {
  for (let at = changes.length - 1; at >= 0; at--) {
    const change = changes[at] as MappingChange;
    if (change.kind === 'added') change.properties.delete(change.name);
    else change.leaf.value = change.previous;
  }
}

/** Adds a new (dynamic) mapping node under parent, recording the change and counting its fields. */
function addNode(ctx: ParseContext, parent: ObjectNode, name: string, node: MappingNode): void {
  parent.properties.set(name, node);
  ctx.changes.push({ kind: 'added', properties: parent.properties, name });
  // A new object is empty (its children are added and counted one by one); a new leaf brings its multi-fields.
  ctx.added += node.kind === 'object' ? 1 : 1 + node.fields.size;
}

function parseObject(
  ctx: ParseContext,
  node: ObjectNode,
  object: Record<string, unknown>,
  path: string,
  dynamic: DynamicMode,
  depth: number,
): void {
  // for-in over own keys visits them in Object.keys order, and lets V8 read the values by enum-cache index.
  for (const key in object) {
    if (!Object.prototype.hasOwnProperty.call(object, key)) continue;
    const value = object[key];
    if (key === '')
      throw parseFailure(
        ctx,
        key,
        'failed to parse: Field name cannot be an empty string',
        illegalArgument('Field name cannot be an empty string'),
      );
    // (A key starting with printable ASCII other than a space is not all whitespace: no need to trim it.)
    const first = key.charCodeAt(0);
    if ((first <= 32 || first >= 127) && key.trim() === '')
      throw parseFailure(ctx, key, `Field name cannot contain only whitespace: [${join(path, key)}]`);
    if (path === '' && METADATA_FIELDS.has(key)) {
      const reason = `Field [${key}] is a metadata field and cannot be added inside a document. Use the index API request parameters.`;
      throw parseFailure(ctx, key, `failed to parse: ${reason}`, illegalArgument(reason));
    }
    if (!key.includes('.')) {
      parseField(ctx, node, key, value, path, dynamic, depth);
      continue;
    }
    // Dots in a field name expand into objects (subobjects: true, the default).
    const parts = key.split('.');
    if (parts.every((part) => part === '')) {
      throw parseFailure(
        ctx,
        key,
        'failed to parse: field name cannot contain only dots',
        illegalArgument('field name cannot contain only dots'),
      );
    }
    if (parts.some((part) => part === '')) {
      const reason = `object field starting or ending with a [.] makes object resolution ambiguous: [${key}]`;
      throw parseFailure(ctx, key, `failed to parse: ${reason}`, illegalArgument(reason));
    }
    if (parts.some((part) => part.trim() === '')) {
      const reason = `object field cannot contain only whitespace: ['${join(path, key)}']`;
      throw parseFailure(ctx, key, `failed to parse: ${reason}`, illegalArgument(reason));
    }
    let parent: ObjectNode = node;
    let parentPath = path;
    let parentDynamic = dynamic;
    let parentDepth = depth;
    let skipped = false;
    for (const part of parts.slice(0, -1)) {
      const next = descend(ctx, parent, part, parentPath, parentDynamic, parentDepth, key);
      if (next === undefined) {
        skipped = true;
        break;
      }
      parent = next;
      parentPath = join(parentPath, part);
      parentDynamic = next.dynamic ?? parentDynamic;
      parentDepth += 1;
    }
    if (!skipped) parseField(ctx, parent, parts.at(-1) ?? key, value, parentPath, parentDynamic, parentDepth);
  }
}

/** The object mapper for `name` under parent, created if dynamic allows; undefined when its content is ignored. */
function descend(
  ctx: ParseContext,
  parent: ObjectNode,
  name: string,
  parentPath: string,
  dynamic: DynamicMode,
  depth: number,
  fullKey: string,
): ObjectNode | undefined {
  const existing = parent.properties.get(name);
  const path = join(parentPath, name);
  if (existing?.kind === 'object') return existing.enabled ? existing : undefined;
  if (existing?.kind === 'leaf') {
    if (existing.type === 'flattened') return undefined;
    const reason = `Could not dynamically add mapping for field [${join(parentPath, fullKey)}]. Existing mapping for [${path}] must be of type object but found [${existing.type}].`;
    throw parseFailure(ctx, name, `failed to parse: ${reason}`, illegalArgument(reason));
  }
  if (dynamic === 'false') return undefined;
  if (dynamic === 'strict') throw strictFailure(ctx, name, parentPath);
  checkDepth(ctx, path, depth + 1);
  const created = makeObject();
  addNode(ctx, parent, name, created);
  return created;
}

function parseField(
  ctx: ParseContext,
  parent: ObjectNode,
  name: string,
  value: unknown,
  parentPath: string,
  dynamic: DynamicMode,
  depth: number,
): void {
  // Concrete values (string, number, boolean) first: they are most fields.
  if (typeof value !== 'object') {
    if (value !== undefined) parseConcreteField(ctx, parent, name, value, parentPath, dynamic);
    return;
  }
  if (value === null) return;
  if (Array.isArray(value)) {
    for (const element of value) parseField(ctx, parent, name, element, parentPath, dynamic, depth);
    return;
  }
  parseObjectField(ctx, parent, name, value as Record<string, unknown>, parentPath, dynamic, depth);
}

function parseObjectField(
  ctx: ParseContext,
  parent: ObjectNode,
  name: string,
  value: Record<string, unknown>,
  parentPath: string,
  dynamic: DynamicMode,
  depth: number,
): void {
  const existing = parent.properties.get(name);
  const path = join(parentPath, name);
  if (existing?.kind === 'leaf') {
    if (existing.type === 'flattened') return;
    throw parseFailure(
      ctx,
      name,
      `failed to parse field [${path}] of type [${existing.type}] in document with id '${ctx.id}'. Preview of field's value: '${javaPreview(value)}'`,
      {
        type: 'illegal_state_exception',
        reason: `Can't get text on a START_OBJECT at 1:${column(ctx, name)}`,
      },
    );
  }
  let node = existing;
  if (!node) {
    if (dynamic === 'false') return;
    if (dynamic === 'strict') throw strictFailure(ctx, name, parentPath);
    checkDepth(ctx, path, depth + 1);
    node = makeObject();
    addNode(ctx, parent, name, node);
  }
  if (!node.enabled) return;
  parseObject(ctx, node, value, path, node.dynamic ?? dynamic, depth + 1);
}

/** A concrete value (string, number, boolean). */
function parseConcreteField(
  ctx: ParseContext,
  parent: ObjectNode,
  name: string,
  value: unknown,
  parentPath: string,
  dynamic: DynamicMode,
): void {
  const existing = parent.properties.get(name);
  if (existing?.kind === 'leaf') {
    validateLeaf(ctx, existing, value, parentPath, name, '');
    return;
  }
  if (existing) {
    if (!existing.enabled) return;
    throw parseFailure(
      ctx,
      name,
      `object mapping for [${join(parentPath, name)}] tried to parse field [${name}] as object, but found a concrete value`,
    );
  }
  if (dynamic === 'false') return;
  if (dynamic === 'strict') throw strictFailure(ctx, name, parentPath);
  addNode(ctx, parent, name, dynamicLeaf(ctx.root, value));
}

function dynamicLeaf(root: RootMapping, value: unknown): LeafNode {
  if (typeof value === 'boolean') return makeLeaf('boolean');
  if (typeof value === 'number') return makeLeaf(Number.isInteger(value) ? 'long' : 'float');
  const text = String(value);
  // ES tries date formats only on strings with more than one ':', '-' or '/' ("since '1' gets parsed as well").
  if (root.dateDetection && hasDateShape(text) && isDynamicDate(text)) return makeLeaf('date');
  if (root.numericDetection && /^-?\d+$/.test(text)) return makeLeaf('long');
  if (root.numericDetection && /^-?\d*\.\d+(e-?\d+)?$/i.test(text)) return makeLeaf('float');
  const leaf = makeLeaf('text');
  leaf.fields.set('keyword', makeLeaf('keyword', { ignoreAbove: 256 }));
  return leaf;
}

/**
 * A leaf value's field path is join(parentPath, name) + suffix (suffix: ".keyword" and the like for a
 * multi-field, else ""); it is built only for a message. name is the field's key in the document.
 */
function leafPath(parentPath: string, name: string, suffix: string): string {
  return join(parentPath, name) + suffix;
}

/** The value as the messages quote it. */
function valueText(value: unknown): string {
  return typeof value === 'string' ? value : JSON.stringify(value);
}

function malformedValue(
  ctx: ParseContext,
  leaf: LeafNode,
  value: unknown,
  parentPath: string,
  name: string,
  suffix: string,
  causedBy: Record<string, unknown>,
): ItemFailure {
  return parseFailure(
    ctx,
    name,
    `failed to parse field [${leafPath(parentPath, name, suffix)}] of type [${leaf.type}] in document with id '${ctx.id}'. Preview of field's value: '${valueText(value)}'`,
    causedBy,
  );
}

function validateLeaf(
  ctx: ParseContext,
  leaf: LeafNode,
  value: unknown,
  parentPath: string,
  name: string,
  suffix: string,
): void {
  switch (leaf.type) {
    // (Dynamic strings are text: checked first, as the default case would, to spare the comparisons below.)
    case 'text':
      break;
    case 'keyword':
    case 'constant_keyword':
    case 'flattened': {
      if (leaf.type === 'flattened') {
        throw malformedValue(ctx, leaf, value, parentPath, name, suffix, {
          type: 'parsing_exception',
          reason: `Failed to parse object: expecting token of type [START_OBJECT] but found [${typeof value === 'string' ? 'VALUE_STRING' : 'VALUE_NUMBER'}]`,
        });
      }
      const text = valueText(value);
      if (leaf.type === 'constant_keyword') {
        if (leaf.value === undefined) {
          ctx.changes.push({ kind: 'value', leaf, previous: leaf.value });
          leaf.value = text;
        } else if (leaf.value !== text) {
          const reason = `[constant_keyword] field [${leafPath(parentPath, name, suffix)}] only accepts values that are equal to the value defined in the mappings [${leaf.value}], but got [${text}]`;
          throw parseFailure(ctx, name, `failed to parse: ${reason}`, illegalArgument(reason));
        }
        break;
      }
      checkTerm(leaf, text, parentPath, name, suffix);
      break;
    }
    case 'long':
    case 'integer':
    case 'short':
    case 'byte':
    case 'unsigned_long':
    case 'float':
    case 'double':
    case 'half_float':
    case 'scaled_float': {
      const ok =
        typeof value === 'number' ||
        (typeof value === 'string' && value.trim() !== '' && Number.isFinite(Number(value)));
      if (!ok && !leaf.ignoreMalformed) {
        throw malformedValue(
          ctx,
          leaf,
          value,
          parentPath,
          name,
          suffix,
          typeof value === 'boolean'
            ? illegalArgument(
                `Current token (VALUE_${String(value).toUpperCase()}) not numeric, can not use numeric value accessors`,
              )
            : { type: 'number_format_exception', reason: `For input string: "${valueText(value)}"` },
        );
      }
      break;
    }
    case 'boolean': {
      const ok = typeof value === 'boolean' || value === 'true' || value === 'false' || value === '';
      if (!ok && !leaf.ignoreMalformed)
        throw malformedValue(
          ctx,
          leaf,
          value,
          parentPath,
          name,
          suffix,
          illegalArgument(
            `Failed to parse value [${valueText(value)}] as only [true] or [false] are allowed.`,
          ),
        );
      break;
    }
    case 'date':
    case 'date_nanos': {
      const ok =
        typeof value === 'number' ||
        (typeof value === 'string' && (/^\d+$/.test(value) || isStrictDateOptionalTime(value))) ||
        false;
      const beforeEpoch =
        leaf.type === 'date_nanos' && typeof value === 'string' && ok && Date.parse(value) < 0;
      if ((!ok || beforeEpoch) && !leaf.ignoreMalformed) {
        throw malformedValue(
          ctx,
          leaf,
          value,
          parentPath,
          name,
          suffix,
          illegalArgument(
            `failed to parse date field [${valueText(value)}] with format [strict_date_optional_time||epoch_millis]`,
          ),
        );
      }
      break;
    }
    case 'ip': {
      const text = valueText(value);
      if (isIP(text) === 0 && !leaf.ignoreMalformed)
        throw malformedValue(
          ctx,
          leaf,
          value,
          parentPath,
          name,
          suffix,
          illegalArgument(`'${text}' is not an IP string literal.`),
        );
      break;
    }
    default:
      break;
  }
  if (leaf.fields.size === 0) return;
  leaf.subfields ??= [...leaf.fields].map(([subName, sub]) => ({
    name: subName,
    leaf: sub,
    suffix: `.${subName}`,
  }));
  for (let at = 0; at < leaf.subfields.length; at++) {
    const sub = leaf.subfields[at] as Subfield;
    validateLeaf(
      ctx,
      sub.leaf,
      value,
      parentPath,
      name,
      suffix === '' ? sub.suffix : `${suffix}${sub.suffix}`,
    );
  }
}

function checkTerm(leaf: LeafNode, text: string, parentPath: string, name: string, suffix: string): void {
  if (!leaf.index || (leaf.ignoreAbove !== undefined && text.length > leaf.ignoreAbove)) return;
  // A UTF-16 code unit is at most 3 UTF-8 bytes: short text cannot be an immense term.
  if (text.length * 3 <= MAX_TERM_BYTES) return;
  const bytes = Buffer.byteLength(text);
  if (bytes <= MAX_TERM_BYTES) return;
  // Lucene refuses terms over 32766 bytes; ES reports it as the item's illegal_argument_exception.
  throw new ItemFailure(400, {
    type: 'illegal_argument_exception',
    reason: `Document contains at least one immense term in field="${leafPath(parentPath, name, suffix)}" (whose UTF8 encoding is longer than the max length ${MAX_TERM_BYTES}), all of which were skipped. Please correct the analyzer to not produce such terms. The prefix of the first immense term is: '[${[...Buffer.from(text).subarray(0, 10)].join(', ')}]...', original message: bytes can be at most ${MAX_TERM_BYTES} in length; got ${bytes}`,
    caused_by: {
      type: 'max_bytes_length_exceeded_exception',
      reason: `bytes can be at most ${MAX_TERM_BYTES} in length; got ${bytes}`,
    },
  });
}

function checkDepth(ctx: ParseContext, path: string, depth: number): void {
  if (depth <= ctx.depthLimit) return;
  const reason = `Limit of mapping depth [${ctx.depthLimit}] has been exceeded due to object field [${path}]`;
  throw parseFailure(
    ctx,
    path.split('.').at(-1) ?? path,
    `failed to parse: ${reason}`,
    illegalArgument(reason),
  );
}

function strictFailure(ctx: ParseContext, name: string, parentPath: string): ItemFailure {
  return new ItemFailure(400, {
    type: 'strict_dynamic_mapping_exception',
    reason: `[1:${column(ctx, name)}] mapping set to strict, dynamic introduction of [${name}] within [${parentPath === '' ? '_doc' : parentPath}] is not allowed`,
  });
}

function parseFailure(
  ctx: ParseContext,
  name: string,
  reason: string,
  causedBy?: Record<string, unknown>,
): ItemFailure {
  return new ItemFailure(400, {
    type: 'document_parsing_exception',
    reason: `[1:${column(ctx, name)}] ${reason}`,
    ...(causedBy ? { caused_by: causedBy } : {}),
  });
}

function illegalArgument(reason: string): Record<string, unknown> {
  return { type: 'illegal_argument_exception', reason };
}

/** Approximate [line:col] of a field in the source line (ES reports the parser's position there). */
function column(ctx: ParseContext, name: string): number {
  const at = ctx.sourceText.indexOf(`${JSON.stringify(name)}:`);
  return at < 0 ? 1 : at + JSON.stringify(name).length + 2;
}

function hasDateShape(text: string): boolean {
  const count = (char: string): number => text.split(char).length - 1;
  return count(':') > 1 || count('-') > 1 || count('/') > 1;
}

/** dynamic_date_formats default: strict_date_optional_time, "yyyy/MM/dd HH:mm:ss Z||yyyy/MM/dd Z". */
function isDynamicDate(text: string): boolean {
  if (isStrictDateOptionalTime(text)) return true;
  const match = /^(\d{4})\/(\d{2})\/(\d{2})(?: (\d{2}):(\d{2}):(\d{2}))? [+-]\d{4}$/.exec(text);
  return match !== null && validDateParts(match);
}

/**
 * strict_date_optional_time, as the pattern
 *   ^(\d{4})(?:-(\d{2})(?:-(\d{2})(?:T(\d{2})(?::(\d{2})(?::(\d{2})(?:[.,]\d{1,9})?)?)?(?:Z|[+-]\d{2}(?::?\d{2})?)?)?)?)?$
 * with the range checks of validDateParts, read character by character (it runs for every date value).
 * Every optional part begins with its own character and is followed only by the end or by a part that begins
 * with another, so taking each part when it is there decides exactly what the pattern decides.
 */
function isStrictDateOptionalTime(text: string): boolean {
  const end = text.length;
  let at = 0;
  if (end < 4) return false;
  for (; at < 4; at++) {
    const digit = text.charCodeAt(at) - 48;
    if (digit < 0 || digit > 9) return false;
  }
  if (at === end) return true;
  // -MM, then -DD
  if (!hasPartAt(text, at, 45, 1, 12)) return false;
  at += 3;
  if (at === end) return true;
  if (!hasPartAt(text, at, 45, 1, 31)) return false;
  at += 3;
  if (at === end) return true;
  // THH
  if (!hasPartAt(text, at, 84, 0, 23)) return false;
  at += 3;
  // :mm, then :ss, then a fraction of 1 to 9 digits
  if (text.charCodeAt(at) === 58) {
    if (!hasPartAt(text, at, 58, 0, 59)) return false;
    at += 3;
    if (text.charCodeAt(at) === 58) {
      if (!hasPartAt(text, at, 58, 0, 59)) return false;
      at += 3;
      const separator = text.charCodeAt(at);
      if (separator === 46 || separator === 44) {
        at += 1;
        const first = at;
        while (at < end && at - first < 9) {
          const digit = text.charCodeAt(at) - 48;
          if (digit < 0 || digit > 9) break;
          at += 1;
        }
        if (at === first) return false;
      }
    }
  }
  if (at === end) return true;
  // Zone: Z, or +HH / -HH with optional [:]mm
  const zone = text.charCodeAt(at);
  if (zone === 90) return at + 1 === end;
  if (zone !== 43 && zone !== 45) return false;
  at += 1;
  if (twoDigitsAt(text, at) < 0) return false;
  at += 2;
  if (at === end) return true;
  if (text.charCodeAt(at) === 58) at += 1;
  if (twoDigitsAt(text, at) < 0) return false;
  return at + 2 === end;
}

/** Whether `text` has, at `at`, the character `separator` then two digits from min to max. */
function hasPartAt(text: string, at: number, separator: number, min: number, max: number): boolean {
  if (text.charCodeAt(at) !== separator) return false;
  const value = twoDigitsAt(text, at + 1);
  return value >= min && value <= max;
}

/** The two ASCII digits at `at` as a number, or -1. */
function twoDigitsAt(text: string, at: number): number {
  if (at + 2 > text.length) return -1;
  const tens = text.charCodeAt(at) - 48;
  const ones = text.charCodeAt(at + 1) - 48;
  return tens >= 0 && tens <= 9 && ones >= 0 && ones <= 9 ? tens * 10 + ones : -1;
}

/** Range checks of a date match: groups 1-6 are year, month, day, hour, minute, second (each optional). */
function validDateParts(match: RegExpExecArray): boolean {
  const month = match[2];
  const day = match[3];
  const hour = match[4];
  const minute = match[5];
  const second = match[6];
  if (month !== undefined && (Number(month) < 1 || Number(month) > 12)) return false;
  if (day !== undefined && (Number(day) < 1 || Number(day) > 31)) return false;
  if (hour !== undefined && Number(hour) > 23) return false;
  if (minute !== undefined && Number(minute) > 59) return false;
  return second === undefined || Number(second) <= 59;
}

/** Java's Map.toString, which ES uses for the preview of an object value. */
function javaPreview(value: unknown): string {
  if (isPlainObject(value))
    return `{${Object.entries(value)
      .map(([key, item]) => `${key}=${javaPreview(item)}`)
      .join(', ')}}`;
  if (Array.isArray(value)) return `[${value.map(javaPreview).join(', ')}]`;
  return String(value);
}

// ---------------------------------------------------------------------------------------------------------------
// Small helpers

function join(path: string, name: string): string {
  return path === '' ? name : `${path}.${name}`;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function deepMerge(base: Record<string, unknown>, patch: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(patch)) {
    const current = out[key];
    out[key] = isPlainObject(current) && isPlainObject(value) ? deepMerge(current, value) : value;
  }
  return out;
}

function toStringList(value: unknown): string[] {
  if (typeof value === 'string') return [value];
  return Array.isArray(value) ? value.filter((item): item is string => typeof item === 'string') : [];
}

function globMatch(pattern: string, name: string): boolean {
  const regex = new RegExp(
    `^${pattern
      .split('*')
      .map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
      .join('.*')}$`,
  );
  return regex.test(name);
}

function matchesAny(patterns: ReadonlySet<string>, name: string): boolean {
  if (patterns.size === 0) return false;
  for (const pattern of patterns) if (globMatch(pattern, name)) return true;
  return false;
}

/** Approximate overlap of two glob patterns (ES intersects automata): one matches an instance of the other. */
function patternsOverlap(a: string, b: string): boolean {
  return globMatch(a, b.replaceAll('*', 'x')) || globMatch(b, a.replaceAll('*', 'x'));
}

function formatDay(date: Date): string {
  const pad = (value: number): string => String(value).padStart(2, '0');
  return `${date.getUTCFullYear()}.${pad(date.getUTCMonth() + 1)}.${pad(date.getUTCDate())}`;
}

function flattenSettings(settings: unknown, prefix = ''): Record<string, string> {
  const out: Record<string, string> = {};
  if (!isPlainObject(settings)) return out;
  for (const [key, value] of Object.entries(settings)) {
    const name = prefix === '' ? key : `${prefix}.${key}`;
    if (isPlainObject(value)) Object.assign(out, flattenSettings(value, name));
    else out[name.startsWith('index.') ? name : `index.${name}`] = String(value);
  }
  return out;
}

function parseJsonBody(body: Buffer): Record<string, unknown> {
  if (body.length === 0) throw new RequestFailure(400, 'parse_exception', 'request body is required');
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch (error) {
    throw new RequestFailure(400, 'x_content_parse_exception', `[1:1] ${(error as Error).message}`);
  }
  if (!isPlainObject(parsed))
    throw new RequestFailure(400, 'parse_exception', 'request body must be an object');
  return parsed;
}

function headerValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value.join(',') : value;
}

function compatibleWith(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const match = /application\/vnd\.elasticsearch\+[a-z-]+\s*;\s*compatible-with\s*=\s*(\d+)/i.exec(value);
  return match ? Number(match[1]) : undefined;
}

function isSupportedContentType(value: string): boolean {
  const type = (value.split(';')[0] ?? '').trim().toLowerCase();
  return [
    'application/json',
    'application/x-ndjson',
    'application/vnd.elasticsearch+json',
    'application/vnd.elasticsearch+x-ndjson',
    'application/smile',
    'application/cbor',
    'application/yaml',
  ].includes(type);
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

const KiB = 1024;
/** Buffers kept for reuse, and the largest one kept: the pool holds at most about 8 x 16 MiB. */
const POOLED_BUFFERS = 8;
const MAX_POOLED_BYTES = 16 * MiB;

/**
 * Request-body buffers lent for one request each and reused after it (keepSources: false). A fresh 3 MB buffer
 * per bulk request costs the fake more in page faults and GC than copying the body into a warm one.
 */
class BodyBufferPool {
  readonly #free: Buffer[] = [];

  /** A buffer of at least size bytes, the smallest such that is free (its contents are garbage). */
  take(size: number): Buffer {
    let best = -1;
    for (let at = 0; at < this.#free.length; at++) {
      const length = (this.#free[at] as Buffer).length;
      if (length >= size && (best < 0 || length < (this.#free[best] as Buffer).length)) best = at;
    }
    if (best >= 0) return this.#free.splice(best, 1)[0] as Buffer;
    return Buffer.allocUnsafeSlow(Math.max(size, 64 * KiB));
  }

  /** Returns a buffer taken earlier; nothing may use it afterwards. */
  give(buffer: Buffer): void {
    if (buffer.length <= MAX_POOLED_BYTES && this.#free.length < POOLED_BUFFERS) this.#free.push(buffer);
  }
}

/** A body read into a lent buffer: body is the part of buffer that was received. */
interface LentBody {
  readonly buffer: Buffer;
  readonly body: Buffer;
}

async function readPooledBody(req: IncomingMessage, pool: BodyBufferPool): Promise<LentBody> {
  const declared = Number(req.headers['content-length']);
  let buffer = pool.take(Number.isSafeInteger(declared) && declared > 0 ? declared : 64 * KiB);
  let length = 0;
  try {
    for await (const chunk of req) {
      const bytes = chunk as Buffer;
      // Only a chunked body (no content-length) can outgrow its buffer.
      if (length + bytes.length > buffer.length) {
        const larger = pool.take(Math.max(2 * buffer.length, length + bytes.length));
        buffer.copy(larger, 0, 0, length);
        pool.give(buffer);
        buffer = larger;
      }
      bytes.copy(buffer, length);
      length += bytes.length;
    }
  } catch (error) {
    pool.give(buffer);
    throw error;
  }
  return { buffer, body: buffer.subarray(0, length) };
}

function decodeBody(raw: Buffer, encoding: string | undefined): Buffer {
  const value = (encoding ?? '').toLowerCase().trim();
  if (value === '' || value === 'identity') return raw;
  if (value === 'gzip' || value === 'x-gzip') return gunzipSync(raw);
  if (value === 'deflate') return inflateSync(raw);
  throw new Error(`unsupported content-encoding ${value}`);
}
