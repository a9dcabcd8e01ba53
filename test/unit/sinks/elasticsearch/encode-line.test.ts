import { isIP } from 'node:net';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseAuditLine } from '../../../../src/pipeline/enrich.ts';
import type { EventOrigin, OutEvent } from '../../../../src/pipeline/event.ts';
import { ByteWriter } from '../../../../src/pipeline/wire-writer.ts';
import { parseIndexPattern } from '../../../../src/sinks/elasticsearch/config.ts';
import { dataStreamTarget, type EsTarget, toDocument } from '../../../../src/sinks/elasticsearch/encode.ts';
import { BulkLineEncoder, isIPv4Text } from '../../../../src/sinks/elasticsearch/encode-line.ts';
import { AuditEventGenerator } from '../../../../src/simulator/generator.ts';
import { Prng } from '../../../../src/simulator/prng.ts';
import { expectBulkItemOf, sentBulkDocument } from '../../../helpers/bulk-documents.ts';
import { FIXTURES_PRESENT, FIXTURES_SKIP_REASON, fixtureLines } from '../../../helpers/fixtures.ts';

const DATA_STREAM = dataStreamTarget('default');
const DAILY: EsTarget = {
  kind: 'index',
  pattern: parseIndexPattern('k8s-audit-%{+yyyy.MM.dd}'),
  source: 'k8s-audit-%{+yyyy.MM.dd}',
};
const CONTEXT = { cluster: 'prod-eu', node: 'cp-1' };

function origin(offset: number): EventOrigin {
  return { path: '/var/log/kubernetes/audit.log', fileKey: '2049:77', offset };
}

/** The bulk item the fast path writes for the line, or undefined when it leaves the line alone. */
/**
 * One encoder per target, used for line after line as an encoder thread uses it (a new one per line would
 * instantiate the WebAssembly scan per line, ~1 ms each); the test of reuse compares it with fresh ones.
 */
const encoders = new Map<string, BulkLineEncoder>();
/** Whether the suite's encoders write documents in WebAssembly (BulkDocument) where they can, or all in JS. */
let webAssemblyDocuments = true;

function encoderFor(target: EsTarget, context = CONTEXT): BulkLineEncoder {
  return new BulkLineEncoder(target, context, { webAssemblyDocuments });
}

function fastItem(line: string | Buffer, target: EsTarget, offset = 0): string | undefined {
  const bytes = typeof line === 'string' ? Buffer.from(line) : line;
  // A small buffer, so that growing it is exercised too.
  const out = new ByteWriter(Buffer.alloc(64));
  out.text('previous;');
  const key = `${target.kind}:${webAssemblyDocuments}`;
  let encoder = encoders.get(key);
  if (encoder === undefined) {
    encoder = encoderFor(target);
    encoders.set(key, encoder);
  }
  const timestamp = encoder.encode(bytes, origin(offset), out);
  const written = out.bytes().toString('utf8');
  if (timestamp === undefined) {
    expect(written).toBe('previous;');
    return undefined;
  }
  expect(written.startsWith('previous;')).toBe(true);
  return written.slice('previous;'.length);
}

function parsedEvent(line: string | Buffer, offset = 0): OutEvent | undefined {
  const outcome = parseAuditLine(
    typeof line === 'string' ? Buffer.from(line) : line,
    origin(offset),
    CONTEXT,
  );
  return outcome.ok ? outcome.event : undefined;
}

/** Asserts that the fast path, where it takes the line, writes what toDocument says; returns whether it took it. */
function expectFastPathAgrees(line: string | Buffer, target: EsTarget = DATA_STREAM, offset = 0): boolean {
  const item = fastItem(line, target, offset);
  const event = parsedEvent(line, offset);
  if (item === undefined) return false;
  expect(event, 'the fast path took a line that is no event').toBeDefined();
  expectBulkItemOf(item, event as OutEvent, target);
  return true;
}

describe.each([
  { documents: 'WebAssembly where it can', webAssembly: true },
  { documents: 'JS only', webAssembly: false },
])('BulkLineEncoder, documents written in $documents', ({ webAssembly }) => {
  beforeAll(() => {
    webAssemblyDocuments = webAssembly;
  });

  it('writes what toDocument describes, for generated events of every kind (all of them take this path)', () => {
    const generator = new AuditEventGenerator({ seed: 21, largeEventRatio: 0.05 });
    for (let index = 0; index < 3000; index++) {
      expect(expectFastPathAgrees(generator.nextLine(), index % 2 === 0 ? DATA_STREAM : DAILY, index)).toBe(
        true,
      );
    }
  });

  it.skipIf(!FIXTURES_PRESENT)(
    `writes what toDocument describes, for every real fixture event${FIXTURES_SKIP_REASON}`,
    () => {
      const lines = fixtureLines();
      expect(lines.length).toBeGreaterThan(0);
      let taken = 0;
      lines.forEach((line, index) => {
        if (expectFastPathAgrees(line, DAILY, index)) taken++;
      });
      // v1beta1 events without auditID or stage go the general way; the rest take this one.
      expect(taken / lines.length).toBeGreaterThan(0.9);
    },
  );

  it('keeps the bodies as the API server wrote them, and their dotted keys', () => {
    const line =
      '{"kind":"Event","auditID":"a","stage":"ResponseComplete","requestObject":{"q":"a\\u0026b","x.y":{"\\"":[" "]}},"responseObject":[1,"\\\\"],"stageTimestamp":"2025-03-04T05:06:07.1Z"}';
    const item = fastItem(line, DATA_STREAM);
    const event = parsedEvent(line) as OutEvent;
    const audit = (
      sentBulkDocument(item ?? '', event, DATA_STREAM).kubernetes as { audit: Record<string, unknown> }
    ).audit;
    expect(audit.requestObjectJson).toBe('{"q":"a\\u0026b","x.y":{"\\"":[" "]}}');
    expect(audit.responseObjectJson).toBe('[1,"\\\\"]');
    expect(audit.requestObject).toBeUndefined();
  });

  it('dedots keys at every depth as sanitize() does, including clashes and blanks', () => {
    const lines = [
      '{"auditID":"a","stage":"ResponseComplete","stageTimestamp":"2025-03-04T05:06:07.5Z","user":{"username":"u","extra":{"a.b.c":["1"],"d.e":[]}},"annotations":{"authorization.k8s.io/decision":"forbid","x.y":"z"}}',
      '{"auditID":"a","stage":"ResponseComplete","stageTimestamp":"2025-03-04T05:06:07.5Z","metadata":{"l":[{"a.b":1},{"c":{"d.e":2}}]}}',
      // A dedotted key clashes with one that has an underscore: the second gets renamed.
      '{"auditID":"a","stage":"ResponseComplete","stageTimestamp":"2025-03-04T05:06:07.5Z","annotations":{"a.b":"1","a_b":"2"}}',
      '{"auditID":"a","stage":"ResponseComplete","stageTimestamp":"2025-03-04T05:06:07.5Z","annotations":{"a_b":"1","a.b":"2"}}',
      // Blank and empty keys, escaped keys that spell dots, outside the members the ECS fields come from.
      '{"auditID":"a","stage":"ResponseComplete","stageTimestamp":"2025-03-04T05:06:07.5Z","metadata":{"extra":{"":["1"]," ":["2"],"\\u002e":["3"]}}}',
      '{"auditID":"a","stage":"ResponseComplete","stageTimestamp":"2025-03-04T05:06:07.5Z","metadata":{"\\u0061":{"b.c":1}}}',
    ];
    for (const line of lines) expect(expectFastPathAgrees(line), line).toBe(true);
  });

  it('reads the ECS fields as toDocument does: escapes, duplicates, UTF-8, legacy timestamps', () => {
    const lines = [
      '{"auditID":"a","stage":"ResponseComplete","stageTimestamp":"2025-03-04T05:06:07.5Z","user":{"username":"a","username":"b"},"responseStatus":{"code":404,"code":201}}',
      '{"auditID":"a","stage":"ResponseComplete","stageTimestamp":"2025-03-04T05:06:07.5Z","user":{"username":"system:admin"},"impersonatedUser":{"username":"system:\\u0061dmin","groups":["g"]}}',
      '{"auditID":"a","stage":"ResponseComplete","stageTimestamp":"2025-03-04T05:06:07.5Z","user":{"username":""},"impersonatedUser":{"groups":[]},"objectRef":{"name":"n"}}',
      '{"auditID":"a","stage":"ResponseComplete","stageTimestamp":"2025-03-04T05:06:07.5Z","requestURI":"/api/v1/pods?limit=5\\u0026watch=1","userAgent":"\\u003cx\\u003e","verb":"list","sourceIPs":["nope","::1","10.0.0.1","::1","fe80::1%eth0"]}',
      '{"auditID":"a\\u0000","stage":"RequestReceived","requestReceivedTimestamp":"2025-03-04T05:06:07.123456Z"}',
      '{"auditID":"a","stage":"ResponseComplete","timestamp":"2018-10-25T13:58:49Z"}',
      '{"auditID":"é","stage":"ResponseComplete","stageTimestamp":"2025-03-04T05:06:07.5Z","user":{"username":"jürgen 😀","groups":[ "a" , "b\\"" ]},"requestObject":{"n":"ü"}}',
      '{"auditID":"a","stage":"Panic","stageTimestamp":"2025-03-04T05:06:07.5Z","requestReceivedTimestamp":"2025-03-04T05:06:08Z","annotations":{"authorization.k8s.io/decision":"forbid"}}',
    ];
    for (const line of lines) expect(expectFastPathAgrees(line), line).toBe(true);
  });

  it('reads durations, status codes and source IPs from the bytes as toDocument does from the values', () => {
    const times = (received: string, stage: string): string =>
      `{"auditID":"a","stage":"ResponseComplete","requestReceivedTimestamp":"${received}","stageTimestamp":"${stage}"}`;
    // A recorded time: without one, both paths would stamp the event with the current time.
    const event = (fields: string): string =>
      `{"auditID":"a","stage":"ResponseComplete","stageTimestamp":"2025-03-04T05:06:07.5Z",${fields}}`;
    const lines = [
      times('2025-03-04T05:06:07.123456Z', '2025-03-04T05:06:07.123999Z'),
      times('2025-03-04T05:06:07.123456789Z', '2025-03-04T05:06:08.1Z'),
      times('2025-03-04T05:06:07Z', '2025-03-04T23:59:59.999999999Z'),
      times('2025-03-04T05:06:07.5Z', '2025-03-04T05:06:07.4Z'),
      times('2025-03-04T23:59:59.9Z', '2025-03-05T00:00:00.1Z'),
      times('2025-02-30T01:00:00Z', '2025-02-30T02:00:00Z'),
      times('2025-13-01T01:00:00Z', '2025-13-01T02:00:00Z'),
      times('2025-03-04T24:00:00Z', '2025-03-04T24:00:01Z'),
      times('2025-03-04T05:06:60Z', '2025-03-04T05:07:00Z'),
      times('2025-03-04T05:06:07.1234567891Z', '2025-03-04T05:06:07.2Z'),
      times('2025-03-04T05:06:07.Z', '2025-03-04T05:06:08Z'),
      times('2025-03-04T05:06:07+01:00', '2025-03-04T05:06:08+01:00'),
      times('2025-03-04t05:06:07Z', '2025-03-04t05:06:08Z'),
      times('2025-03-04T05:06:07\u002e5Z', '2025-03-04T05:06:08Z'),
      event('"responseStatus":{"code":0}'),
      event('"responseStatus":{"code":-1}'),
      event('"responseStatus":{"code":200.0}'),
      event('"responseStatus":{"code":4e2}'),
      event('"responseStatus":{"code":1234567890123456789}'),
      event('"sourceIPs":[]'),
      event('"sourceIPs":[ "10.0.0.1" , "10.0.0.2","10.0.0.1" ]'),
      event('"sourceIPs":["\u0031\u0030.0.0.1","::1"]'),
      event('"sourceIPs":["","fe80::1%eth0"]'),
      event(
        '"sourceIPs":["010.0.0.1","10.0.0.01","0.0.0.0","255.255.255.255","256.0.0.1","1.2.3","1.2.3.4.5"]',
      ),
      event('"sourceIPs":[" 10.0.0.1","10.0.0.1 ","10.0.0.1","1.2.3.4:80","1..2.3","1234.1.1.1",".1.1.1"]'),
      event(`"sourceIPs":[${Array.from({ length: 17 }, (_, n) => `"10.0.0.${n}"`).join(',')}]`),
      event(`"sourceIPs":[${Array.from({ length: 20 }, (_, n) => `"10.0.0.${n % 16}"`).join(',')}]`),
      event('"sourceIPs":["10.0.0.1","::ffff:10.0.0.1","10.0.0.1"]'),
    ];
    for (const line of lines) expect(expectFastPathAgrees(line), line).toBe(true);
  });

  it('types and outcomes every verb and decision as toDocument does, escaped or not', () => {
    const verbs = [
      'create',
      'update',
      'patch',
      'delete',
      'deletecollection',
      'get',
      'list',
      'watch',
      'proxy',
      '',
    ];
    const decisions = ['"allow"', '"forbid"', '"other"', '"\\u0066orbid"', '""', undefined];
    let lines = 0;
    for (const verb of [...verbs, 'g\\u0065t', 'GET', 'gett', undefined]) {
      for (const decision of decisions) {
        for (const code of ['', ',"responseStatus":{"code":403}']) {
          const line =
            '{"auditID":"a","stage":"ResponseComplete","stageTimestamp":"2025-03-04T05:06:07.5Z"' +
            (verb === undefined ? '' : `,"verb":"${verb}"`) +
            (decision === undefined ? '' : `,"annotations":{"authorization.k8s.io/decision":${decision}}`) +
            `${code}}`;
          expect(expectFastPathAgrees(line), line).toBe(true);
          lines++;
        }
      }
    }
    expect(lines).toBe(14 * 6 * 2);
  });

  it('reads IPv4 addresses from the bytes exactly as isIP() takes them', () => {
    const random = new Prng(11);
    const alphabet = '0123456789..........:a ';
    let addresses = 0;
    for (let round = 0; round < 200_000; round++) {
      let text = '';
      const length = 1 + random.int(17);
      for (let index = 0; index < length; index++) text += alphabet.charAt(random.int(alphabet.length));
      if (round % 3 === 0)
        text = `${random.int(300)}.${random.int(300)}.${random.int(30)}.${random.int(300)}`;
      const bytes = Buffer.from(`"${text}"`);
      const accepted = isIPv4Text(bytes, 1, bytes.length - 1);
      expect(accepted, text).toBe(isIP(text) === 4);
      if (accepted) addresses++;
    }
    // Both answers are exercised.
    expect(addresses).toBeGreaterThan(20_000);
  });

  it('leaves ECS fields of types the API server does not write to the general path', () => {
    const lines = [
      '{"auditID":"a","stage":"ResponseComplete","user":"bob"}',
      '{"auditID":"a","stage":"ResponseComplete","impersonatedUser":null}',
      '{"auditID":"a","stage":"ResponseComplete","objectRef":[]}',
      '{"auditID":"a","stage":"ResponseComplete","responseStatus":{"code":"500"}}',
      '{"auditID":"a","stage":"ResponseComplete","sourceIPs":["nope",7]}',
      '{"auditID":"a","stage":"ResponseComplete","userAgent":null}',
      '{"auditID":"a","stage":"ResponseComplete","verb":{"x":{}}}',
      '{"auditID":"a","stage":"ResponseComplete","user":{"uid":{}}}',
      '{"auditID":"a","stage":"ResponseComplete","user":{"extra":{" ":["2"]}}}',
      '{"auditID":"a","stage":"ResponseComplete","objectRef":{"\\u006eamespace":"kube-system"}}',
      '{"auditID":"a","stage":"ResponseComplete","stageTimestamp":""}',
      '{"auditID":"a","stage":"ResponseComplete","stageTimestamp":7}',
    ];
    for (const line of lines) {
      expect(fastItem(line, DATA_STREAM), line).toBeUndefined();
      expect(parsedEvent(line), line).toBeDefined();
    }
  });

  it('leaves unusual lines to the general path', () => {
    const unusual = [
      '{"auditID":"a","stage":"ResponseComplete","stageTimestamp":"2025-03-04T05:06:07.5Z","verb":"get","verb":"list"}',
      '{"auditID":"a","stage":"ResponseComplete","stageTimestamp":"2025-03-04T05:06:07.5Z","x":1,"x":2}',
      '{"auditID":"a","stage":"ResponseComplete","stageTimestamp":"2025-03-04T05:06:07.5Z","x.y":1}',
      '{"auditID":"a","stage":"ResponseComplete","stageTimestamp":"2025-03-04T05:06:07.5Z","\\u0076erb":"get"}',
      '{"auditID":"a","stage":"ResponseComplete","stageTimestamp":"2025-03-04T05:06:07.5Z","requestObject":"text"}',
      '{"auditID":"a","stage":"ResponseComplete","stageTimestamp":"2025-03-04T05:06:07.5Z","responseObject":null}',
      '{"stage":"ResponseComplete"}',
      '{"auditID":1,"stage":"ResponseComplete"}',
      '[]',
      '{"auditID":"a",',
    ];
    for (const line of unusual) expect(fastItem(line, DATA_STREAM), line).toBeUndefined();
    expect(
      fastItem(Buffer.from([0x7b, 0x22, 0xc3, 0x28, 0x22, 0x3a, 0x31, 0x7d]), DATA_STREAM),
    ).toBeUndefined();
  });

  it('agrees with the general path on mutated events: the same document, or no event at all', () => {
    const generator = new AuditEventGenerator({ seed: 8 });
    const random = new Prng(3);
    let taken = 0;
    let invalid = 0;
    for (let index = 0; index < 1500; index++) {
      const line = Buffer.from(generator.nextLine());
      const copy = Buffer.from(line);
      copy[random.int(copy.length)] = Buffer.from('{}[]":,.\\_ 0a')[random.int(13)] as number;
      if (expectFastPathAgrees(copy)) taken++;
      else if (parsedEvent(copy) === undefined) invalid++;
    }
    expect(taken).toBeGreaterThan(300);
    expect(invalid).toBeGreaterThan(300);
  });

  it('keeps nothing of one line for the next: an encoder used for many lines writes what new ones write', () => {
    const generator = new AuditEventGenerator({ seed: 5, largeEventRatio: 0.05 });
    const random = new Prng(11);
    const head = '{"auditID":"h","stage":"ResponseComplete","stageTimestamp":"2025-03-04T05:06:07.5Z"';
    const many = (key: (index: number) => string): string =>
      Array.from({ length: 70_000 }, (_, index) => `"${key(index)}":1`).join(',');
    // Lines whose scan lists grow far beyond a usual line's: one wide (the general path's), one deep.
    const wide = `${head},${many((index) => `k${index}`)}}`;
    const deep = `${head},"metadata":{${many((index) => `a.${index}`)}}}`;
    const lines: Buffer[] = [];
    for (let index = 0; index < 600; index++) {
      const line = Buffer.from(generator.nextLine());
      // Mutated lines stop the encoder part way (spans, writes and lists half filled) or change its path.
      if (index % 3 === 1)
        line[random.int(line.length)] = Buffer.from('{}[]":,.\\_ 0a')[random.int(13)] as number;
      lines.push(line);
      if (index === 300) lines.push(Buffer.from(wide), Buffer.from(deep));
    }
    const reused = encoderFor(DAILY);
    let taken = 0;
    lines.forEach((line, index) => {
      const once = new ByteWriter(Buffer.alloc(64));
      const again = new ByteWriter(Buffer.alloc(64));
      const fresh = encoderFor(DAILY).encode(line, origin(index), once);
      expect(reused.encode(line, origin(index), again)).toBe(fresh);
      expect(again.bytes().equals(once.bytes())).toBe(true);
      if (fresh !== undefined) taken++;
    });
    expect(taken).toBeGreaterThan(450);
    expect(
      encoderFor(DAILY).encode(Buffer.from(wide), origin(0), new ByteWriter(Buffer.alloc(64))),
    ).toBeUndefined();
    expect(expectFastPathAgrees(deep)).toBe(true);
  });

  it('gives the event the id eventId() gives it, from the bytes: any cluster name, long and escaped ids', () => {
    const lines = [
      '{"auditID":"a","stage":"ResponseComplete","stageTimestamp":"2025-03-04T05:06:07.5Z"}',
      `{"auditID":"${'x'.repeat(300)}","stage":"ResponseComplete","stageTimestamp":"2025-03-04T05:06:07.5Z"}`,
      '{"auditID":"ü-😀","stage":"Response\u0043omplete","stageTimestamp":"2025-03-04T05:06:07.5Z"}',
      '{"auditID":"b","stage":"RequestReceived","requestReceivedTimestamp":"2025-03-04T05:06:07.5Z"}',
    ];
    for (const cluster of ['prod-eu', 'prød ☸', '']) {
      const context = { cluster, node: 'cp-1' };
      const encoder = encoderFor(DATA_STREAM, context);
      for (const line of lines) {
        const out = new ByteWriter(Buffer.alloc(64));
        expect(encoder.encode(Buffer.from(line), origin(0), out)).toBeDefined();
        const parsed = parseAuditLine(Buffer.from(line), origin(0), context);
        if (!parsed.ok) throw new Error('a valid line');
        const [action, document] = out.bytes().toString('utf8').split('\n');
        const sentAction = JSON.parse(action ?? '') as { create: { _id: string } };
        const sentDocument = JSON.parse(document ?? '') as { event: { id: string } };
        expect(sentAction.create._id).toBe(parsed.event.id);
        expect(sentDocument.event.id).toBe(parsed.event.id);
      }
    }
  });

  it('uses the document of toDocument for the ECS part (sanity check of the comparison)', () => {
    const line =
      '{"auditID":"a","stage":"ResponseComplete","stageTimestamp":"2025-03-04T05:06:07.5Z","verb":"delete","responseStatus":{"code":403}}';
    const item = fastItem(line, DATA_STREAM) ?? '';
    const document = sentBulkDocument(item, parsedEvent(line) as OutEvent, DATA_STREAM);
    expect(document.event).toMatchObject({ action: 'delete', outcome: 'failure', type: ['deletion'] });
    expect(document).toEqual(
      JSON.parse(JSON.stringify(toDocument(parsedEvent(line) as OutEvent, DATA_STREAM))),
    );
  });
});
