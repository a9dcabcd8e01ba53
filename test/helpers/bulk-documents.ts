// Checks a `_bulk` item (action line + document line) against what toDocument() says of the event: the
// common assertion of the encoders' tests (the general path and the line's fast path).
import { expect } from 'vitest';
import type { OutEvent } from '../../src/pipeline/event.ts';
import { type EsTarget, targetIndexFor, toDocument } from '../../src/sinks/elasticsearch/encode.ts';

/** The document line of one bulk item, parsed, after checking its action line. */
export function sentBulkDocument(item: string, event: OutEvent, target: EsTarget): Record<string, unknown> {
  const [action, document, rest] = item.split('\n');
  expect(JSON.parse(action ?? '')).toEqual({
    create: { _index: targetIndexFor(target, event.timestamp), _id: event.id },
  });
  expect(rest).toBe('');
  return JSON.parse(document ?? '') as Record<string, unknown>;
}

/**
 * `item` must say what toDocument builds from the parsed event (the ECS fields come from the same code in
 * both, and the goldens pin them). The bodies are the original text in `item` (Go's escapes kept), so they
 * are compared as JSON values.
 */
export function expectBulkItemOf(item: string, event: OutEvent, target: EsTarget): void {
  type Document = { kubernetes: { audit: Record<string, unknown> } };
  const { kubernetes: sentKubernetes, ...sent } = sentBulkDocument(item, event, target) as Document;
  const { kubernetes: expectedKubernetes, ...expected } = JSON.parse(
    JSON.stringify(toDocument(event, target)),
  ) as Document;
  const { requestObjectJson, responseObjectJson, ...sentAudit } = sentKubernetes.audit;
  const {
    requestObjectJson: expectedRequest,
    responseObjectJson: expectedResponse,
    ...expectedAudit
  } = expectedKubernetes.audit;
  expect(parsedBody(requestObjectJson)).toEqual(parsedBody(expectedRequest));
  expect(parsedBody(responseObjectJson)).toEqual(parsedBody(expectedResponse));
  expect(sentAudit).toEqual(expectedAudit);
  expect(sent).toEqual(expected);
}

function parsedBody(text: unknown): unknown {
  if (text === undefined) return undefined;
  expect(typeof text).toBe('string');
  return JSON.parse(text as string);
}
