// Builds the sink a config entry describes. The only place that knows every sink type.
import type { Writable } from 'node:stream';
import type { Logger } from 'pino';
import type { SinkConfig } from '../config/schema.ts';
import { createElasticsearchSink } from './elasticsearch/elasticsearch-sink.ts';
import { FileSink } from './file/file-sink.ts';
import type { Sink } from './sink.ts';
import { StdoutSink } from './stdout/stdout-sink.ts';

export interface SinkDeps {
  /** Bound to the sink's name already: records carry `sink` once. */
  readonly log: Logger;
  readonly stdout: Writable;
}

export function createSink(config: SinkConfig, deps: SinkDeps): Sink {
  const base = {
    name: config.name,
    ...(config.maxEventBytes !== undefined && { maxEventBytes: config.maxEventBytes }),
  };
  switch (config.type) {
    case 'file':
      return new FileSink({ ...base, path: config.path });
    case 'stdout':
      return new StdoutSink(base, deps.stdout);
    case 'elasticsearch':
      return createElasticsearchSink(config, { log: deps.log });
  }
}
