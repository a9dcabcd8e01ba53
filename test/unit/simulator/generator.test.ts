import { describe, expect, it } from 'vitest';
import { AuditEventGenerator, type GeneratedEvent } from '../../../src/simulator/generator.ts';

const GO_FIELD_ORDER = [
  'kind',
  'apiVersion',
  'level',
  'auditID',
  'stage',
  'requestURI',
  'verb',
  'user',
  'impersonatedUser',
  'sourceIPs',
  'userAgent',
  'objectRef',
  'responseStatus',
  'requestObject',
  'responseObject',
  'requestReceivedTimestamp',
  'stageTimestamp',
  'annotations',
];
const MICRO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/;
const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

function generate(
  count: number,
  options: Partial<ConstructorParameters<typeof AuditEventGenerator>[0]> = {},
) {
  const generator = new AuditEventGenerator({ seed: 1, ...options });
  const events: GeneratedEvent[] = [];
  for (let i = 0; i < count; i++) events.push(generator.nextEvent());
  return events;
}

function collectKeys(value: unknown, keys: Set<string>): void {
  if (typeof value !== 'object' || value === null) return;
  for (const [key, member] of Object.entries(value)) {
    keys.add(key);
    collectKeys(member, keys);
  }
}

describe('AuditEventGenerator', () => {
  it('produces the same lines for the same seed and different lines for another seed', () => {
    const a = generate(2000, { seed: 42 }).map((e) => e.line);
    const b = generate(2000, { seed: 42 }).map((e) => e.line);
    const c = generate(2000, { seed: 43 }).map((e) => e.line);

    expect(b).toEqual(a);
    expect(c[0]).not.toEqual(a[0]);
    expect(new Set([...a, ...c]).size).toBe(4000);
  });

  it('writes lines that parse back to exactly the event object', () => {
    const events = generate(3000);

    for (const { line, event, auditID, stage } of events) {
      const parsed: unknown = JSON.parse(line);
      expect(parsed).toStrictEqual(event);
      expect(event.auditID).toBe(auditID);
      expect(event.stage).toBe(stage);
      expect(line).not.toContain('\n');
    }
  });

  it('writes fields in Go struct order with MicroTime timestamps and UUID v4 audit IDs', () => {
    for (const { line, event } of generate(3000)) {
      const keys = Object.keys(JSON.parse(line) as object);
      const positions = keys.map((key) => GO_FIELD_ORDER.indexOf(key));
      expect(positions.every((p) => p >= 0)).toBe(true);
      expect(positions).toEqual([...positions].sort((x, y) => x - y));
      expect(event.requestReceivedTimestamp).toMatch(MICRO_TIME);
      expect(event.stageTimestamp).toMatch(MICRO_TIME);
      expect(event.stageTimestamp >= event.requestReceivedTimestamp).toBe(true);
      expect(event.auditID).toMatch(UUID_V4);
    }
  });

  it('never repeats an auditID and stage pair', () => {
    const events = generate(20_000);

    const pairs = new Set(events.map((e) => `${e.auditID}/${e.stage}`));

    expect(pairs.size).toBe(events.length);
  });

  it('gives every request a RequestReceived first and one final stage, with ResponseStarted only for watch and exec', () => {
    const events = generate(20_000, { clockStepMs: 50 });
    const byRequest = new Map<string, GeneratedEvent[]>();
    for (const e of events) {
      const stages = byRequest.get(e.auditID) ?? [];
      stages.push(e);
      byRequest.set(e.auditID, stages);
    }

    let complete = 0;
    const problems: string[] = [];
    for (const [auditID, stages] of byRequest) {
      const [first] = stages;
      if (first?.stage !== 'RequestReceived') problems.push(`${auditID}: first stage ${first?.stage}`);
      if (first?.event.responseStatus !== undefined || first?.event.annotations !== undefined) {
        problems.push(`${auditID}: RequestReceived with status or annotations`);
      }
      const final = stages.filter((e) => e.stage === 'ResponseComplete' || e.stage === 'Panic');
      if (final.length > 1) problems.push(`${auditID}: ${final.length} final stages`);
      if (final.length === 1) complete++;
      for (const started of stages.filter((e) => e.stage === 'ResponseStarted')) {
        const longRunning = started.event.verb === 'watch' || started.event.objectRef?.subresource === 'exec';
        if (!longRunning) problems.push(`${auditID}: ResponseStarted for ${started.event.verb}`);
      }
    }

    expect(problems).toEqual([]);
    // Only the long watches still open at the end lack their final stage.
    expect(complete / byRequest.size).toBeGreaterThan(0.9);
  });

  it('mixes verbs, users, resources, response codes and levels like a real cluster', () => {
    const events = generate(30_000);
    const verbs = new Set(events.map((e) => e.event.verb));
    const users = events.map((e) => e.event.user.username);
    const resources = new Set(events.map((e) => e.event.objectRef?.resource));
    const codes = new Set(events.map((e) => e.event.responseStatus?.code));
    const levels = events.map((e) => e.event.level);

    expect([...verbs]).toEqual(
      expect.arrayContaining(['get', 'list', 'watch', 'create', 'update', 'patch', 'delete']),
    );
    expect(users.some((u) => u.startsWith('system:serviceaccount:'))).toBe(true);
    expect(users.some((u) => u.startsWith('system:node:'))).toBe(true);
    expect(users).toContain('system:anonymous');
    expect(users).toContain('kubernetes-admin');
    expect(events.some((e) => e.event.impersonatedUser !== undefined)).toBe(true);
    expect([...resources]).toEqual(
      expect.arrayContaining(['pods', 'secrets', 'configmaps', 'leases', 'rolebindings']),
    );
    expect(events.some((e) => e.event.objectRef?.subresource === 'exec')).toBe(true);
    expect([...codes]).toEqual(expect.arrayContaining([101, 200, 201, 403, 404, 409, 500]));
    expect(events.filter((e) => e.stage === 'Panic').every((e) => e.event.responseStatus?.code === 500)).toBe(
      true,
    );
    expect(levels.filter((l) => l === 'Metadata').length / levels.length).toBeGreaterThan(0.7);
    expect(levels).toContain('Request');
    expect(levels).toContain('RequestResponse');
    expect(events.some((e) => e.event.annotations?.['authorization.k8s.io/decision'] === 'forbid')).toBe(
      true,
    );
  });

  it('escapes <, > and & like Go and keeps non-ASCII as raw UTF-8', () => {
    const lines = generate(20_000).map((e) => e.line);

    expect(lines.some((l) => /"requestURI":"[^"]*\\u0026/.test(l))).toBe(true);
    expect(lines.some((l) => l.includes('\\u003c'))).toBe(true);
    expect(lines.some((l) => l.includes('\\u003e'))).toBe(true);
    expect(lines.every((l) => !/[<>&]/.test(l))).toBe(true);
    expect(lines.some((l) => /[\u0080-\uffff]/.test(l))).toBe(true);
  });

  it('includes managedFields whose keys are only dots or f: paths', () => {
    const keys = new Set<string>();
    for (const e of generate(20_000)) {
      collectKeys(e.event.requestObject, keys);
      collectKeys(e.event.responseObject, keys);
    }

    expect(keys).toContain('managedFields');
    expect(keys).toContain('.');
    expect(keys).toContain('f:metadata');
  });

  it('has a median line of about 1.2 KB and no line of 10 KB or more without large events', () => {
    const sizes = generate(20_000, { largeEventRatio: 0 })
      .map((e) => Buffer.byteLength(e.line))
      .sort((a, b) => a - b);

    const median = sizes[sizes.length >> 1] ?? 0;
    expect(median).toBeGreaterThan(1000);
    expect(median).toBeLessThan(1400);
    expect(sizes.at(-1)).toBeLessThan(10_000);
  });

  it('makes the configured share of lines large, between 10 KB and 300 KB', () => {
    const sizes = generate(10_000, { largeEventRatio: 0.05 }).map((e) => Buffer.byteLength(e.line));

    const large = sizes.filter((s) => s >= 10_000);
    expect(large.length / sizes.length).toBeGreaterThan(0.045);
    expect(large.length / sizes.length).toBeLessThan(0.055);
    expect(Math.max(...large)).toBeLessThanOrEqual(300 * 1024);
    expect(large.some((s) => s > 100 * 1024)).toBe(true);
  });

  it('emits one huge line of exactly the requested size right after its RequestReceived', () => {
    const events = generate(500, { hugeLine: { afterLines: 100, bytes: 2_000_000 } });

    const huge = events.filter((e) => Buffer.byteLength(e.line) === 2_000_000);
    expect(huge).toHaveLength(1);
    const index = events.indexOf(huge[0]!);
    expect(index).toBeGreaterThan(100);
    expect(events[index - 1]?.auditID).toBe(huge[0]?.auditID);
    expect(events.filter((e) => Buffer.byteLength(e.line) > 300 * 1024)).toHaveLength(1);
  });

  it('starts the simulated clock at startTime', () => {
    const [first] = generate(1, { startTime: Date.UTC(2024, 4, 6, 7, 8, 9, 123) });

    expect(first?.event.requestReceivedTimestamp).toBe('2024-05-06T07:08:09.123000Z');
  });

  it('rejects invalid options, listing every problem', () => {
    expect(() => new AuditEventGenerator({ seed: 1.5, largeEventRatio: 2, clockStepMs: 0 })).toThrow(
      /seed.*largeEventRatio.*clockStepMs/,
    );
    expect(() => generate(10, { hugeLine: { afterLines: 0, bytes: 100 } })).toThrow(
      /hugeLine.bytes must be at least/,
    );
  });
});
