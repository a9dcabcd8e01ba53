// The configuration schema: the single source of the config's types, defaults and field docs.
// Every object is strict, so a misspelt key is an error rather than a silently ignored setting.
import { isIP } from 'node:net';
import { z } from 'zod';
import { elasticsearchSinkSchema } from '../sinks/elasticsearch/config.ts';
import { Secret } from './secret.ts';

const MiB = 1024 * 1024;

/** A credential given inline (usually as ${ENV_VAR}); wrapped so it never prints. */
export const secretSchema = z
  .string({ error: 'expected a string (use ${ENV_VAR} to inject a secret)' })
  .min(1, { error: 'expected a non-empty secret' })
  .transform((value) => new Secret(value));

export const positiveInt = z
  .number({ error: 'expected a number' })
  .int({ error: 'expected an integer' })
  .positive({
    error: 'expected a positive integer',
  });

const listenAddress = z.string({ error: 'expected "host:port"' }).refine(
  (value) => {
    const match = /^(.*):(\d{1,5})$/.exec(value);
    if (!match) return false;
    const host = (match[1] ?? '').replace(/^\[(.*)\]$/, '$1');
    const port = Number(match[2]);
    return port <= 65535 && (host === 'localhost' || isIP(host) !== 0);
  },
  { error: (issue) => `expected "host:port" with an IP address, got ${JSON.stringify(issue.input)}` },
);

/** An http(s) URL, checked with the message users see when they forget the scheme. */
export const httpUrl = z.string({ error: 'expected an http(s) URL' }).refine(
  (value) => {
    try {
      const url = new URL(value);
      return url.protocol === 'http:' || url.protocol === 'https:';
    } catch {
      return false;
    }
  },
  { error: (issue) => `expected an http(s) URL, got ${JSON.stringify(issue.input)}` },
);

export const sourceSchema = z
  .object({
    /** The API server's --audit-log-path. */
    path: z.string().min(1),
    /** Where to start in a file the checkpoint has never seen: its beginning, or its current end. */
    startAt: z.enum(['beginning', 'end']).default('beginning'),
    /** Longest line kept; a longer one goes to dead-letter, truncated, with its length and offset. */
    maxLineBytes: positiveInt.min(1024).default(4 * MiB),
    /**
     * Names of rotated backups next to the active file, as a glob over the file name. Default: the API
     * server's own pattern, "<name>-*<ext>" and "<name>-*<ext>.gz" (e.g. audit-2024-05-06T07-08-09.123.log.gz).
     */
    backupGlob: z.string().min(1).optional(),
    /** Safety-net stat poll; file-system events are only hints. */
    pollIntervalMs: positiveInt.default(250),
    /** Bytes read per system call. */
    readChunkBytes: positiveInt.min(4096).default(MiB),
    /**
     * How long a file known from the checkpoint but not found (or a truncated file whose copy is not
     * found) is looked for, e.g. while its .gz is being written, before its unread bytes count as lost.
     * Default 5000.
     */
    missingFileGraceMs: positiveInt.optional(),
  })
  .strict();

export const batchSchema = z
  .object({
    maxEvents: positiveInt.default(1000),
    maxBytes: positiveInt.default(5 * MiB),
    maxWaitMs: positiveInt.default(1000),
  })
  .strict();

export const retrySchema = z
  .object({
    initialBackoffMs: positiveInt.default(500),
    maxBackoffMs: positiveInt.default(30_000),
  })
  .strict();

export const deliverySchema = z
  .object({
    /** Batches a sink may have in flight at once. */
    maxInFlightBatches: positiveInt.default(2),
    /** Bytes of events a sink's lane may hold in memory; beyond it reading pauses (the file is the buffer). */
    maxBufferedBytes: positiveInt.default(32 * MiB),
    retry: retrySchema.default({ initialBackoffMs: 500, maxBackoffMs: 30_000 }),
    /** How long SIGTERM waits for in-flight batches before exiting without checkpointing them. */
    shutdownTimeoutMs: positiveInt.default(10_000),
    /**
     * Worker threads that parse and encode events (most of the CPU per event); 0 does it on the main
     * thread. auto: one per CPU but one, at most 2 (~25 MB of RSS each).
     */
    encodeWorkers: z
      .union([z.literal('auto'), z.number().int().min(0).max(64)], {
        error: 'expected "auto" or a whole number from 0 to 64',
      })
      .default('auto'),
  })
  .strict();

const sinkBase = {
  /** Unique name; label in metrics, /status and dead-letter records. */
  name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/, {
    error: 'expected a name of letters, digits, "_", "." or "-"',
  }),
  /** Largest serialized event; bigger ones are shrunk (responseObject, then requestObject dropped). */
  maxEventBytes: positiveInt.optional(),
};

export const fileSinkSchema = z
  .object({
    ...sinkBase,
    type: z.literal('file'),
    /** JSON lines, appended, fsynced per batch. */
    path: z.string().min(1),
  })
  .strict();

export const stdoutSinkSchema = z
  .object({
    ...sinkBase,
    type: z.literal('stdout'),
  })
  .strict();

export const sinkSchema = z.discriminatedUnion(
  'type',
  [fileSinkSchema, stdoutSinkSchema, elasticsearchSinkSchema],
  {
    error: () => 'expected type to be one of: file, stdout, elasticsearch',
  },
);

export const configSchema = z
  .object({
    /** Cluster name added to every event (the audit event has no cluster identity of its own). */
    cluster: z.string().min(1),
    /** Node name added to every event; default: the host name. */
    node: z.string().min(1).optional(),
    logLevel: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).default('info'),
    source: sourceSchema,
    state: z
      .object({
        /** Checkpoint and dead-letter files live here; on the host, so they survive restarts. */
        dir: z.string().min(1).default('/var/lib/k8s-audit-forwarder'),
      })
      .strict()
      .default({ dir: '/var/lib/k8s-audit-forwarder' }),
    checkpoint: z
      .object({
        /** Longest time between two checkpoint writes while events are acknowledged. */
        intervalMs: positiveInt.default(1000),
        /** What to do when the checkpoint file is unreadable: stop (default), or start over from a known place. */
        onCorrupt: z.enum(['fail', 'beginning', 'end']).default('fail'),
      })
      .strict()
      .default({ intervalMs: 1000, onCorrupt: 'fail' }),
    status: z
      .object({
        /** Address of /status, /metrics, /healthz and /readyz. */
        listen: listenAddress.default('127.0.0.1:9880'),
      })
      .strict()
      .default({ listen: '127.0.0.1:9880' }),
    batch: batchSchema.default({ maxEvents: 1000, maxBytes: 5 * MiB, maxWaitMs: 1000 }),
    delivery: deliverySchema.default({
      maxInFlightBatches: 2,
      maxBufferedBytes: 32 * MiB,
      retry: { initialBackoffMs: 500, maxBackoffMs: 30_000 },
      shutdownTimeoutMs: 10_000,
      encodeWorkers: 'auto',
    }),
    sinks: z.array(sinkSchema).min(1, { error: 'expected at least one sink' }),
  })
  .strict()
  .superRefine((config, ctx) => {
    const seen = new Set<string>();
    config.sinks.forEach((sink, index) => {
      if (seen.has(sink.name)) {
        ctx.addIssue({
          code: 'custom',
          path: ['sinks', index, 'name'],
          message: `duplicate sink name "${sink.name}"`,
        });
      }
      seen.add(sink.name);
    });
    if (config.delivery.retry.maxBackoffMs < config.delivery.retry.initialBackoffMs) {
      ctx.addIssue({
        code: 'custom',
        path: ['delivery', 'retry', 'maxBackoffMs'],
        message: 'expected a value >= initialBackoffMs',
      });
    }
  });

export type ConfigInput = z.input<typeof configSchema>;
export type Config = z.output<typeof configSchema>;
export type SinkConfig = Config['sinks'][number];
