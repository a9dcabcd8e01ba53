// The WebAssembly document writer (BulkDocument) against the JS encoder it replaces on the usual line: the
// same bytes, line for line, or a decline that leaves the line to JS. (encode-line.test.ts holds both paths
// to toDocument; this holds them to each other, byte for byte, on far more lines.)
import { describe, expect, it } from 'vitest';
import type { EventOrigin } from '../../../../src/pipeline/event.ts';
import { ByteWriter } from '../../../../src/pipeline/wire-writer.ts';
import { dataStreamTarget } from '../../../../src/sinks/elasticsearch/encode.ts';
import { BulkLineEncoder } from '../../../../src/sinks/elasticsearch/encode-line.ts';
import { AuditEventGenerator } from '../../../../src/simulator/generator.ts';
import { Prng } from '../../../../src/simulator/prng.ts';
import { FIXTURES_PRESENT, FIXTURES_SKIP_REASON, fixtureLines } from '../../../helpers/fixtures.ts';
import { useFixedClock } from '../../../helpers/fixed-clock.ts';

const DATA_STREAM = dataStreamTarget('default');
const CONTEXT = { cluster: 'prod-eu', node: 'cp-1' };
const PATH = '/var/log/kubernetes/audit.log';

function origin(offset: number, path = PATH): EventOrigin {
  return { path, fileKey: '2049:77', offset };
}

/** The two encoders of one comparison: line after line, as an encoder thread uses them. */
class Comparison {
  readonly webAssembly: BulkLineEncoder;
  readonly js: BulkLineEncoder;
  lines = 0;
  events = 0;

  constructor(context = CONTEXT) {
    this.webAssembly = new BulkLineEncoder(DATA_STREAM, context);
    this.js = new BulkLineEncoder(DATA_STREAM, context, { webAssemblyDocuments: false });
  }

  /** Asserts both write the same item (or both none) for the line; returns whether the writer took it. */
  expectSame(line: string | Buffer, at: EventOrigin = origin(this.lines)): boolean {
    const bytes = typeof line === 'string' ? Buffer.from(line) : line;
    const before = this.webAssembly.webAssemblyDocuments;
    const fromWebAssembly = new ByteWriter(Buffer.alloc(64));
    const fromJs = new ByteWriter(Buffer.alloc(64));
    const timestamp = this.webAssembly.encode(bytes, at, fromWebAssembly);
    expect(timestamp, bytes.toString()).toBe(this.js.encode(bytes, at, fromJs));
    expect(fromWebAssembly.bytes().toString(), bytes.toString()).toBe(fromJs.bytes().toString());
    this.lines++;
    if (timestamp !== undefined) this.events++;
    return this.webAssembly.webAssemblyDocuments > before;
  }
}

describe('BulkDocument (documents written in WebAssembly)', () => {
  useFixedClock();

  it('writes what the JS encoder writes for generated events, and takes nearly all of them', () => {
    const generator = new AuditEventGenerator({ seed: 41, largeEventRatio: 0.05 });
    const comparison = new Comparison();
    let taken = 0;
    let small = 0;
    for (let index = 0; index < 6000; index++) {
      // Offsets past 2^32 and both files of a rotation.
      const at = origin(2 ** 40 + index * 1777, index % 500 < 250 ? PATH : `${PATH}.1`);
      const line = Buffer.from(generator.nextLine());
      // Lines over 64 KiB are the JS encoder's.
      if (line.length <= 64 * 1024) small++;
      if (comparison.expectSame(line, at)) taken++;
    }
    expect(comparison.events).toBe(6000);
    expect(small).toBeLessThan(6000);
    expect(taken / small).toBeGreaterThan(0.99);
  });

  it.skipIf(!FIXTURES_PRESENT)(
    `writes what the JS encoder writes for every real fixture event${FIXTURES_SKIP_REASON}`,
    () => {
      const comparison = new Comparison();
      let taken = 0;
      for (const line of fixtureLines()) if (comparison.expectSame(line)) taken++;
      expect(comparison.events).toBeGreaterThan(0);
      expect(taken).toBeGreaterThan(comparison.events / 2);
    },
  );

  it('writes what the JS encoder writes for mutated events, or leaves them to it', () => {
    const generator = new AuditEventGenerator({ seed: 9, largeEventRatio: 0.02 });
    const random = new Prng(17);
    const comparison = new Comparison();
    let taken = 0;
    const lines = 4000;
    for (let index = 0; index < lines; index++) {
      const line = Buffer.from(generator.nextLine());
      for (let change = 0; change <= index % 3; change++)
        line[random.int(line.length)] = Buffer.from('{}[]":,.\\_ 0a\u00e9')[random.int(15)] as number;
      if (comparison.expectSame(line)) taken++;
    }
    // Both ways are exercised: lines it writes, and lines it declines that are still events.
    expect(taken).toBeGreaterThan(lines / 4);
    expect(comparison.events - taken).toBeGreaterThan(50);
  });

  it('decides each field the JS encoder reads from the bytes the same way, or declines it', () => {
    const comparison = new Comparison();
    const head = '{"auditID":"a","stage":"ResponseComplete"';
    const stamped = `${head},"stageTimestamp":"2025-03-04T05:06:07.5Z"`;
    const lines = [
      // Escapes where values matter: the decision (RBAC reasons quote names), verbs, names, ids.
      `${stamped},"annotations":{"authorization.k8s.io/decision":"allow","authorization.k8s.io/reason":"RBAC: allowed by \\"x\\""}}`,
      `${stamped},"annotations":{"authorization.k8s.io/decision":"\\u0066orbid"}}`,
      `${stamped},"verb":"g\\u0065t"}`,
      `${stamped},"user":{"username":"a\\"b"},"impersonatedUser":{"username":"a\\"b"}}`,
      `${stamped},"user":{"username":"a"},"impersonatedUser":{"username":"\\u0061"}}`,
      `${stamped},"user":{"username":"a"},"impersonatedUser":{"username":"a"}}`,
      `${stamped},"user":{"username":""},"impersonatedUser":{"username":"b","groups":["g"]}}`,
      `${stamped},"user":{"uid":"u","groups":[]}}`,
      `${stamped},"impersonatedUser":{"groups":["x","y"]}}`,
      '{"auditID":"a\\u0062","stage":"ResponseComplete","stageTimestamp":"2025-03-04T05:06:07.5Z"}',
      '{"auditID":"a","stage":"ResponseComplete","stageTimestamp":"2025-03-04T05:06:07\\u002e5Z"}',
      '{"auditID":"a","stage":"RequestReceived","requestReceivedTimestamp":"2025-03-04T05:06:07.5Z","stageTimestamp":"2025-03-04T05:06:07.5Z"}',
      '{"auditID":"a","stage":"ResponseComplete","requestReceivedTimestamp":"2025-03-04T05:06:07.5Z"}',
      '{"auditID":"a","stage":"ResponseComplete","timestamp":"2018-10-25T13:58:49Z"}',
      `${head},"requestReceivedTimestamp":"2025-03-04T05:06:07.5Z","stageTimestamp":"2025-03-04T05:06:07.4Z"}`,
      `${head},"requestReceivedTimestamp":"2025-03-04T23:59:59.9Z","stageTimestamp":"2025-03-05T00:00:00.1Z"}`,
      `${head},"requestReceivedTimestamp":"2025-03-04T05:06:07.123456789Z","stageTimestamp":"2025-03-04T05:06:08Z"}`,
      // Codes: zero, failures, and what is not plain digits.
      ...['0', '200', '404', '-1', '200.0', '4e2', '-0', '1234567890123456', '123456789012345'].map(
        (code) => `${stamped},"responseStatus":{"code":${code}}}`,
      ),
      // sourceIPs: duplicates, IPv6, escapes, more than 16, blanks around entries.
      `${stamped},"sourceIPs":[ "10.0.0.1" , "10.0.0.2","10.0.0.1" ]}`,
      `${stamped},"sourceIPs":["10.0.0.1","::1"]}`,
      `${stamped},"sourceIPs":["\\u0031\\u0030.0.0.1"]}`,
      `${stamped},"sourceIPs":[${Array.from({ length: 16 }, (_, n) => `"10.0.0.${n}"`).join(',')}]}`,
      `${stamped},"sourceIPs":[${Array.from({ length: 17 }, (_, n) => `"10.0.0.${n}"`).join(',')}]}`,
      `${stamped},"sourceIPs":[${Array.from({ length: 40 }, (_, n) => `"10.0.0.${n % 16}"`).join(',')}]}`,
      // Keys: dotted (dedotted as bytes), dotted with underscores (sanitize()'s), odd ones.
      `${stamped},"metadata":{"labels":{"app.kubernetes.io/name":"x","a.b.c":{"d.e":1}}}}`,
      `${stamped},"metadata":{"labels":{"a.b":1,"a_b":2}}}`,
      `${stamped},"metadata":{"":1}}`,
      `${stamped},"requestObject":{"a.b":"\\"","c":[1,{"d":" \\t"}]},"responseObject":[]}`,
      `${stamped},"requestObject":{}, "responseObject" : { "x" : null } }`,
      `${stamped},"x":1,"y":{"x":2},"z":[{"x":3}]}`,
      `${stamped},"username":"not a field here"}`,
      `${stamped},"objectRef":{"resource":"pods","name":"p","namespace":"ns","subresource":"log"}}`,
      `${stamped},"objectRef":{"name":"p"}}`,
      `${stamped},"userAgent":"kubectl/v1.31 (linux/amd64) \\"quoted\\""}`,
      `${stamped},"requestURI":"/api/v1/namespaces/ns/pods?labelSelector=a%3Db&limit=500"}`,
      '{"auditID":"é","stage":"ResponseComplete","stageTimestamp":"2025-03-04T05:06:07.5Z","user":{"username":"jürgen 😀"}}',
    ];
    let taken = 0;
    for (const line of lines) if (comparison.expectSame(line)) taken++;
    expect(comparison.events).toBe(lines.length);
    expect(taken).toBeGreaterThan(lines.length / 2);
    expect(taken).toBeLessThan(lines.length);
  });

  it('asks about each new day once and agrees on days Date.parse refuses or stretches', () => {
    const comparison = new Comparison();
    const line = (day: string): string =>
      `{"auditID":"a","stage":"ResponseComplete","requestReceivedTimestamp":"${day}T01:00:00Z","stageTimestamp":"${day}T01:00:02.25Z"}`;
    const days = [
      '2025-03-04',
      '2025-03-05',
      '2025-03-04',
      '2025-02-30',
      '2025-13-01',
      '2025-00-10',
      '2024-02-29',
    ];
    for (let round = 0; round < 3; round++)
      for (const day of days)
        expect(comparison.expectSame(line(day)), day).toBe(day !== '2025-13-01' && day !== '2025-00-10');
  });

  it('follows the file a line is from, and leaves a file whose path it has no room for to the JS encoder', () => {
    const comparison = new Comparison();
    const generator = new AuditEventGenerator({ seed: 3 });
    const long = `/var/log/${'d'.repeat(20_000)}/audit.log`;
    const paths = [PATH, `${PATH}.1`, long, '/var/log/"quoted"\\ü.log', '/l'];
    let taken = 0;
    for (let index = 0; index < 50; index++) {
      const path = paths[index % paths.length] as string;
      const took = comparison.expectSame(generator.nextLine(), origin(index, path));
      if (path === long) expect(took).toBe(false);
      else if (took) taken++;
    }
    expect(taken).toBeGreaterThan(35);
  });

  it('gives the event the id eventId() gives it, for any cluster name', () => {
    for (const cluster of ['prod-eu', 'prød ☸', '', 'x'.repeat(5000), 'y'.repeat(40_000)]) {
      const comparison = new Comparison({ cluster, node: 'n' });
      // A name too long for the writer's room for text leaves every document to the JS encoder.
      expect(
        comparison.expectSame(
          `{"auditID":"${'i'.repeat(cluster.length % 300)}","stage":"ResponseComplete","stageTimestamp":"2025-03-04T05:06:07.5Z"}`,
        ),
      ).toBe(cluster.length < 40_000);
    }
  });

  it('writes lines of up to 64 KiB, whose bodies double when stringified, and leaves larger ones to JS', () => {
    const comparison = new Comparison();
    const body = (bytes: number): string => `{"q":"${'\\"'.repeat(bytes / 2)}"}`;
    const line = (bytes: number): string =>
      `{"auditID":"a","stage":"ResponseComplete","stageTimestamp":"2025-03-04T05:06:07.5Z","requestObject":${body(bytes)},"responseObject":${body(bytes)}}`;
    expect(comparison.expectSame(line(32_000))).toBe(true);
    expect(comparison.expectSame(line(33_000))).toBe(false);
    expect(comparison.expectSame(line(500_000))).toBe(false);
    expect(comparison.expectSame(line(10_000))).toBe(true);
    // Past the scan's 1 MiB: the general path's (which the encoders leave it to).
    expect(comparison.expectSame(line(600_000))).toBe(false);
    expect(comparison.events).toBe(4);
  });

  it('keeps nothing of one line for the next: a writer used for many lines writes what new ones write', () => {
    const generator = new AuditEventGenerator({ seed: 5, largeEventRatio: 0.05 });
    const random = new Prng(12);
    const reused = new BulkLineEncoder(DATA_STREAM, CONTEXT);
    let taken = 0;
    for (let index = 0; index < 300; index++) {
      const line = Buffer.from(generator.nextLine());
      if (index % 3 === 1)
        line[random.int(line.length)] = Buffer.from('{}[]":,.\\_ 0a')[random.int(13)] as number;
      const once = new ByteWriter(Buffer.alloc(64));
      const again = new ByteWriter(Buffer.alloc(64));
      const fresh = new BulkLineEncoder(DATA_STREAM, CONTEXT).encode(line, origin(index), once);
      expect(reused.encode(line, origin(index), again)).toBe(fresh);
      expect(again.bytes().equals(once.bytes())).toBe(true);
      if (fresh !== undefined) taken++;
    }
    expect(reused.webAssemblyDocuments).toBeGreaterThan(150);
    expect(taken).toBeGreaterThanOrEqual(reused.webAssemblyDocuments);
  });
});
