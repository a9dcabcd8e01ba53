import { describe, expect, it } from 'vitest';
import { eventId, parseAuditLine, toEnrichedJson } from '../../../src/pipeline/enrich.ts';

const origin = { path: '/var/log/audit.log', fileKey: 'k', offset: 0 };
const context = { cluster: 'prod', node: 'cp-1' };

describe('parseAuditLine', () => {
  it('enriches with cluster, node, the stage timestamp and a stable id', () => {
    const line =
      '{"kind":"Event","auditID":"x-1","stage":"ResponseComplete","requestURI":"/api?a=1\\u0026b=2","requestReceivedTimestamp":"2026-01-01T00:00:00.000001Z","stageTimestamp":"2026-01-01T00:00:00.500000Z"}';
    const outcome = parseAuditLine(Buffer.from(line), origin, context);
    expect(outcome.ok).toBe(true);
    if (!outcome.ok) return;
    expect(outcome.event).toMatchObject({
      cluster: 'prod',
      node: 'cp-1',
      timestamp: '2026-01-01T00:00:00.500000Z',
      raw: line,
    });
    expect(outcome.event.id).toBe(eventId('prod', { auditID: 'x-1', stage: 'ResponseComplete' }, ''));
  });

  it('gives each stage of one request its own id, and the same event the same id', () => {
    const received = eventId('c', { auditID: 'a', stage: 'RequestReceived' }, '');
    const complete = eventId('c', { auditID: 'a', stage: 'ResponseComplete' }, '');
    expect(received).not.toBe(complete);
    expect(eventId('c', { auditID: 'a', stage: 'RequestReceived' }, 'other raw')).toBe(received);
    expect(eventId('other-cluster', { auditID: 'a', stage: 'RequestReceived' }, '')).not.toBe(received);
  });

  it('falls back to requestReceivedTimestamp, then the v1beta1 timestamp', () => {
    const a = parseAuditLine(
      Buffer.from('{"requestReceivedTimestamp":"2020-01-01T00:00:00.000000Z"}'),
      origin,
      context,
    );
    const b = parseAuditLine(Buffer.from('{"timestamp":"2018-10-25T13:58:49Z"}'), origin, context);
    expect(a.ok && a.event.timestamp).toBe('2020-01-01T00:00:00.000000Z');
    expect(b.ok && b.event.timestamp).toBe('2018-10-25T13:58:49Z');
  });

  it('classifies lines that are not audit events', () => {
    expect(parseAuditLine(Buffer.from('2024-01-01 AUDIT: id="x"'), origin, context)).toMatchObject({
      ok: false,
      reason: 'invalid-json',
    });
    expect(parseAuditLine(Buffer.from('"a string"'), origin, context)).toMatchObject({
      ok: false,
      reason: 'not-an-object',
    });
    expect(parseAuditLine(Buffer.from([0xc3, 0x28]), origin, context)).toMatchObject({
      ok: false,
      reason: 'invalid-utf8',
    });
  });
});

describe('toEnrichedJson', () => {
  it('keeps the original bytes, Go escapes included, after the added fields', () => {
    const line = '{"kind":"Event","requestURI":"/a?x=1\\u0026y=\\u003cz\\u003e","user":{"username":"é"}}';
    const outcome = parseAuditLine(Buffer.from(line), origin, context);
    if (!outcome.ok) throw new Error('expected ok');
    const json = toEnrichedJson(outcome.event);
    expect(json).toBe(
      `{"@timestamp":${JSON.stringify(outcome.event.timestamp)},"cluster":"prod","node":"cp-1","eventId":"${outcome.event.id}",${line.slice(1)}`,
    );
    expect(JSON.parse(json)).toMatchObject({ kind: 'Event', requestURI: '/a?x=1&y=<z>', cluster: 'prod' });
  });

  it('handles an empty object and records shrinking', () => {
    const outcome = parseAuditLine(Buffer.from('{}'), origin, context);
    if (!outcome.ok) throw new Error('expected ok');
    expect(JSON.parse(toEnrichedJson(outcome.event))).toMatchObject({ cluster: 'prod' });
    const shrunk = { ...outcome.event, shrunk: { removed: ['responseObject'], originalBytes: 10 } };
    expect(JSON.parse(toEnrichedJson(shrunk))).toMatchObject({
      forwarder: { shrunk: { removed: ['responseObject'] } },
    });
  });
});
