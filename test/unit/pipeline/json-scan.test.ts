import { describe, expect, it } from 'vitest';
import {
  CHILD_FIELDS,
  CHILDREN_END,
  CHILDREN_START,
  FLAGS,
  HAS_ESCAPE,
  KEY_END,
  KEY_ID,
  KEY_START,
  KEY_UNUSUAL,
  MEMBER_FIELDS,
  STRING_END,
  STRING_START,
  NESTED_KEY_COMPLEX,
  NESTED_KEY_DOTTED,
  NESTED_KEY_UNDERSCORE,
  ObjectScan,
  VALUE_END,
  VALUE_START,
} from '../../../src/pipeline/json-scan.ts';
import { Prng } from '../../../src/simulator/prng.ts';
import { AuditEventGenerator } from '../../../src/simulator/generator.ts';
import { FIXTURES_PRESENT, FIXTURES_SKIP_REASON, fixtureLines } from '../../helpers/fixtures.ts';

const VALID_OBJECTS = [
  '{"n":-0.5e+10,"m":0,"k":1E-2,"t":true,"f":false,"z":null}',
  '{"s":"\\u00e9\\ud83d\\ude00\\/\\b\\f\\n\\r\\t\\\\\\""}',
  '{"é":"ü → 😀","\u2028":"\u2029"}',
  '{"a":[[[[[]]]]],"b":[{},{"c":{}}]}',
  '\t\n {"a":1}\n',
];

const INVALID_TEXTS = [
  '',
  '   ',
  '[]',
  '"a"',
  '1',
  'null',
  '{',
  '}',
  '{"a"}',
  '{"a":}',
  '{"a":1,}',
  '{,"a":1}',
  '{"a":1 "b":2}',
  '{"a":01}',
  '{"a":1.}',
  '{"a":.5}',
  '{"a":-}',
  '{"a":1e}',
  '{"a":+1}',
  '{"a":tru}',
  '{"a":True}',
  '{"a":nul}',
  '{"a":"\\x"}',
  '{"a":"\\u12g4"}',
  '{"a":"\\u123"}',
  '{"a":"tab\there"}',
  '{"a":"nul\u0000"}',
  "{'a':1}",
  '{a:1}',
  '{"a":1}{"b":2}',
  '{"a":1} x',
  '{"a":[1,]}',
  '{"a":[,1]}',
  '{"a":[1 2]}',
  '{"a":{"b":1]}',
  '{"a":[1}',
  '{"a":"unterminated}',
  '\ufeff{"a":1}',
  '{"a":1}\u00a0',
];

const scanner = new ObjectScan();

function scan(text: string | Buffer): boolean {
  const bytes = typeof text === 'string' ? Buffer.from(text) : text;
  return scanner.scan(bytes);
}

/** What JSON.parse says of the same text: an object, or not (invalid or another value). */
function parsesToObject(bytes: Buffer): boolean {
  try {
    const value: unknown = JSON.parse(bytes.toString('utf8'));
    return value !== null && typeof value === 'object' && !Array.isArray(value);
  } catch {
    return false;
  }
}

/** The members the scan found, as [key, value text] pairs. */
function scannedMembers(text: string): [string, string][] {
  const bytes = Buffer.from(text);
  expect(scanner.scan(bytes)).toBe(true);
  const found: [string, string][] = [];
  const members = scanner.members.values;
  for (let member = 0; member < scanner.members.length; member += MEMBER_FIELDS) {
    found.push([
      JSON.parse(bytes.toString('utf8', members[member + KEY_START], members[member + KEY_END])) as string,
      bytes.toString('utf8', members[member + VALUE_START], members[member + VALUE_END]),
    ]);
  }
  return found;
}

function flagsOf(text: string, key: string): number {
  const bytes = Buffer.from(text);
  expect(scanner.scan(bytes)).toBe(true);
  const members = scanner.members.values;
  for (let member = 0; member < scanner.members.length; member += MEMBER_FIELDS) {
    if (bytes.toString('utf8', members[member + KEY_START], members[member + KEY_END]) === `"${key}"`) {
      return members[member + FLAGS] as number;
    }
  }
  throw new Error(`no member ${key}`);
}

describe('ObjectScan', () => {
  it('finds the top-level members of an object, whitespace and nesting included', () => {
    expect(scannedMembers(' { "a" : 1 , "b":{"c":[1,{"d":"}"}]},"e":"x\\"y", "f":[] ,"g":{}}\r ')).toEqual([
      ['a', '1'],
      ['b', '{"c":[1,{"d":"}"}]}'],
      ['e', '"x\\"y"'],
      ['f', '[]'],
      ['g', '{}'],
    ]);
    expect(scannedMembers('{}')).toEqual([]);
  });

  it('accepts what JSON.parse accepts as an object', () => {
    for (const text of VALID_OBJECTS) {
      expect(parsesToObject(Buffer.from(text))).toBe(true);
      expect(scan(text), text).toBe(true);
    }
  });

  it('refuses what JSON.parse refuses, and values that are not objects', () => {
    for (const text of INVALID_TEXTS) {
      expect(parsesToObject(Buffer.from(text)), text).toBe(false);
      expect(scan(text), text).toBe(false);
    }
  });

  it('refuses nesting deeper than it tracks (the JSON.parse path takes those)', () => {
    expect(scan(`{"a":${'['.repeat(300)}${']'.repeat(300)}}`)).toBe(false);
    expect(scan(`{"a":${'['.repeat(200)}${']'.repeat(200)}}`)).toBe(true);
  });

  it('flags keys that Elasticsearch would not take as they are', () => {
    expect(flagsOf('{"a.b":1}', 'a.b') & KEY_UNUSUAL).toBe(KEY_UNUSUAL);
    expect(flagsOf('{" a":1}', ' a') & KEY_UNUSUAL).toBe(KEY_UNUSUAL);
    expect(scanner.scan(Buffer.from('{"":1}'))).toBe(true);
    expect((scanner.members.values[FLAGS] as number) & KEY_UNUSUAL).toBe(KEY_UNUSUAL);
    expect(flagsOf('{"\\u0061":1}', '\\u0061') & KEY_UNUSUAL).toBe(KEY_UNUSUAL);
    expect(flagsOf('{"a_b":{"c":1}}', 'a_b')).toBe(0);
    const dotted = '{"x":{"a.b":{"c.d":1}},"y":[{"e_f":1}],"z":{"":1},"w":{"\\u002e":1},"v":"\\u0026"}';
    expect(flagsOf(dotted, 'x')).toBe(NESTED_KEY_DOTTED);
    expect(flagsOf(dotted, 'y')).toBe(NESTED_KEY_UNDERSCORE);
    expect(flagsOf(dotted, 'z')).toBe(NESTED_KEY_COMPLEX);
    expect(flagsOf(dotted, 'w')).toBe(NESTED_KEY_COMPLEX | HAS_ESCAPE);
    expect(flagsOf(dotted, 'v')).toBe(HAS_ESCAPE);
    const bytes = Buffer.from(dotted);
    scanner.scan(bytes);
    const keys: string[] = [];
    for (let at = 0; at < scanner.dottedKeys.length; at += 2) {
      keys.push(bytes.toString('utf8', scanner.dottedKeys.values[at], scanner.dottedKeys.values[at + 1]));
    }
    expect(keys).toEqual(['"a.b"', '"c.d"']);
  });

  it('agrees with JSON.parse on generated events and on mutations of them', () => {
    const generator = new AuditEventGenerator({ seed: 5, largeEventRatio: 0.05 });
    const random = new Prng(77);
    let refused = 0;
    for (let index = 0; index < 2000; index++) {
      const line = Buffer.from(generator.nextLine());
      expect(scanner.scan(line)).toBe(true);
      for (let mutation = 0; mutation < 5; mutation++) {
        const mutated = mutate(line, random);
        const accepted = scanner.scan(mutated);
        // Sound: never accepts what JSON.parse refuses. Complete on objects within the depth it tracks.
        expect(accepted, mutated.toString('latin1')).toBe(parsesToObject(mutated));
        if (!accepted) refused++;
      }
    }
    // The mutations exercise both answers.
    expect(refused).toBeGreaterThan(2000);
    expect(refused).toBeLessThan(8000);
  });

  it("notes each object member's own members as its range of children, and none for other values", () => {
    const text = '{"a":{"b":1,"c":{"d":2},"e.f":[3]},"g":[{"h":4}],"i":{},"j":{"k":"l"}}';
    const bytes = Buffer.from(text);
    expect(scanner.scan(bytes)).toBe(true);
    const members = scanner.members.values;
    const children = scanner.children.values;
    const childrenOf: Record<string, [string, string][]> = {};
    for (let member = 0; member < scanner.members.length; member += MEMBER_FIELDS) {
      const key = bytes.toString('utf8', members[member + KEY_START], members[member + KEY_END]);
      const own: [string, string][] = [];
      const last = members[member + CHILDREN_END] as number;
      for (let child = members[member + CHILDREN_START] as number; child < last; child += CHILD_FIELDS) {
        own.push([
          bytes.toString('utf8', children[child + KEY_START], children[child + KEY_END]),
          bytes.toString('utf8', children[child + VALUE_START], children[child + VALUE_END]),
        ]);
      }
      childrenOf[key] = own;
    }
    expect(childrenOf).toEqual({
      '"a"': [
        ['"b"', '1'],
        ['"c"', '{"d":2}'],
        ['"e.f"', '[3]'],
      ],
      '"g"': [],
      '"i"': [],
      '"j"': [['"k"', '"l"']],
    });
    expect(scanner.children.length).toBe(4 * CHILD_FIELDS);
  });

  it("tells top-level keys and known members' own keys by their index in knownKeys, and no others", () => {
    // Same-length names (ab, cd, b.) share a bucket; a long name and a 63-byte one are in reach.
    const long = 'k'.repeat(63);
    const known = new ObjectScan({ knownKeys: ['ab', 'cd', 'b.', 'user', long, 'é'] });
    const text =
      `{"cd":1,"ab":{"user":2,"ab":{"cd":3},"zz":4,"b.":5},"us\\u0065r":6,"x":[{"ab":7}],` +
      `"${long}":{"é":8},"${long}k":9,"":10,"a":11,"abc":12,"z":{"ab":13}}`;
    const bytes = Buffer.from(text);
    expect(known.scan(bytes)).toBe(true);
    const members = known.members.values;
    const children = known.children.values;
    const ids: Record<string, [number, Record<string, number>]> = {};
    for (let member = 0; member < known.members.length; member += MEMBER_FIELDS) {
      const key = bytes.toString('utf8', members[member + KEY_START], members[member + KEY_END]);
      const own: Record<string, number> = {};
      const last = members[member + CHILDREN_END] as number;
      for (let child = members[member + CHILDREN_START] as number; child < last; child += CHILD_FIELDS)
        own[bytes.toString('utf8', children[child + KEY_START], children[child + KEY_END])] = children[
          child + KEY_ID
        ] as number;
      ids[key] = [members[member + KEY_ID] as number, own];
    }
    expect(ids).toEqual({
      '"cd"': [1, {}],
      // Nested objects' keys (cd inside ab's ab) are not children: only a member's own keys are told.
      '"ab"': [0, { '"user"': 3, '"ab"': 0, '"zz"': -1, '"b."': 2 }],
      // Written with an escape, a key's text is not its name: no id, whatever it spells.
      '"us\\u0065r"': [-1, {}],
      '"x"': [-1, {}],
      [`"${long}"`]: [4, { '"é"': 5 }],
      [`"${long}k"`]: [-1, {}],
      '""': [-1, {}],
      '"a"': [-1, {}],
      '"abc"': [-1, {}],
      // A member that is not known has its children unknown too.
      '"z"': [-1, { '"ab"': -1 }],
    });
    // Without knownKeys, every key is unknown.
    expect(scanner.scan(bytes)).toBe(true);
    for (let member = 0; member < scanner.members.length; member += MEMBER_FIELDS)
      expect(scanner.members.values[member + KEY_ID]).toBe(-1);
  });

  it('refuses known keys it cannot tell: repeated, longer than 63 bytes, more than 64', () => {
    expect(() => new ObjectScan({ knownKeys: ['a', 'b', 'a'] })).toThrow(/distinct/);
    expect(() => new ObjectScan({ knownKeys: ['k'.repeat(64)] })).toThrow(/cannot know key/);
    expect(() => new ObjectScan({ knownKeys: Array.from({ length: 65 }, (_, n) => `k${n}`) })).toThrow(
      /cannot know key k64/,
    );
  });

  it('finds every string end, escape and control character wherever it falls in a 16-byte chunk', () => {
    // The scan reads strings 16 bytes at a time: put each special byte at every offset of the first chunks.
    for (let offset = 0; offset < 40; offset++) {
      const plain = 'x'.repeat(offset);
      const valid = [
        `{"${plain}":"${plain}"}`,
        `{"k":"${plain}\\\\"}`,
        `{"k":"${plain}\\u00e9${plain}"}`,
        `{"k":"${plain}\\"${plain}"}`,
        `{"${plain}.${plain}":{"${plain}_":1}}`,
        `{"k":"${plain}é😀${plain}"}`,
      ];
      for (const text of valid) {
        expect(parsesToObject(Buffer.from(text)), text).toBe(true);
        expect(scan(text), text).toBe(true);
      }
      for (const text of [
        `{"k":"${plain}\u0001"}`,
        `{"k":"${plain}\t"}`,
        `{"k":"${plain}\\x"}`,
        `{"k":"${plain}`,
        `{"${plain}\u0000":1}`,
        `{"${plain}`,
      ]) {
        expect(parsesToObject(Buffer.from(text)), text).toBe(false);
        expect(scan(text), text).toBe(false);
      }
      // Nothing past the line's end counts, whatever the scan's memory holds there from an earlier line.
      expect(scan(`{"k":"${plain}"}"x"}`)).toBe(false);
      expect(scan(Buffer.from(`{"k":"${plain}"}`).subarray(0, offset + 7))).toBe(false);
    }
  });

  it('leaves lines longer than it scans to JSON.parse, and scans the next line as usual', () => {
    const long = Buffer.from(`{"k":"${'x'.repeat(scanner.maxLine)}"}`);
    expect(parsesToObject(long)).toBe(true);
    expect(scanner.scan(long)).toBe(false);
    const longest = Buffer.from(`{"k":"${'y'.repeat(scanner.maxLine - 8)}"}`);
    expect(longest.length).toBe(scanner.maxLine);
    expect(scanner.scan(longest)).toBe(true);
    expect(scannedMembers('{"a":1}')).toEqual([['a', '1']]);
  });

  it.skipIf(!FIXTURES_PRESENT)(`accepts every real fixture event${FIXTURES_SKIP_REASON}`, () => {
    const lines = fixtureLines();
    expect(lines.length).toBeGreaterThan(0);
    for (const line of lines) expect(scan(line), line.slice(0, 80)).toBe(true);
  });
});

describe('ObjectScan with stringified keys', () => {
  const bodies = new ObjectScan({ stringifiedKeys: ['a', 'requestObject', 'responseObject'] });

  /** Each stringified member's string must hold its value's text exactly; the others have none. */
  function expectStrings(bytes: Buffer): void {
    const members = bodies.members.values;
    for (let member = 0; member < bodies.members.length; member += MEMBER_FIELDS) {
      const key = bytes.toString('latin1', members[member + KEY_START], members[member + KEY_END]);
      const start = members[member + STRING_START] as number;
      const end = members[member + STRING_END] as number;
      if (!['"a"', '"requestObject"', '"responseObject"'].includes(key)) {
        expect([start, end]).toEqual([-1, -1]);
        continue;
      }
      const text = bytes.toString('utf8', members[member + VALUE_START], members[member + VALUE_END]);
      const string = Buffer.from(bodies.strings.bytes.subarray(start, end)).toString('utf8');
      expect(JSON.parse(string), text).toBe(text);
      // Byte for byte the string JSON.stringify makes of the text.
      expect(string).toBe(JSON.stringify(text));
    }
  }

  it('validates as the plain scan does and writes each such value as the JSON string of its text', () => {
    for (const text of [
      ...VALID_OBJECTS,
      '{"a":{"x.y":[1,"\\\\",{"\\"":" \\u0026 \\/ \\n"}],"z":"é 😀"},"b":{"c.d":1}}',
      '{"a":"s","a":[],"a":{},"a":-1.5e3,"a":null}',
      '{"a" : { "k" :\t[ 1 ,\n2 ]\r} , "b":1}',
    ]) {
      const bytes = Buffer.from(text);
      expect(bodies.scan(bytes), text).toBe(true);
      expectStrings(bytes);
    }
    for (const text of INVALID_TEXTS) expect(bodies.scan(Buffer.from(text)), text).toBe(false);
    expect(bodies.scan(Buffer.from(`{"a":${'['.repeat(300)}${']'.repeat(300)}}`))).toBe(false);
    expect(bodies.scan(Buffer.from(`{"a":${'['.repeat(200)}${']'.repeat(200)}}`))).toBe(true);
  });

  it('writes values that need escapes of every kind, at every offset of a 16-byte chunk', () => {
    const values = [
      '{"a":"\\u0026","b":["\\\\","\\"",null,true,false,-1.5e3],"c":{}}',
      '"\\/\\b\\f\\n\\r\\t"',
      '[ 1 ,\t2 ,\n3 \r]',
      '"é 😀 \u2028"',
      '0',
    ];
    for (let offset = 0; offset < 40; offset++) {
      const plain = 'x'.repeat(offset);
      for (const value of [...values, `"${plain}\\"${plain}"`, `["${plain}","${plain}\\\\"]`]) {
        const bytes = Buffer.from(`{"a":${value},"requestObject":"${plain}"}`);
        expect(bodies.scan(bytes), value).toBe(true);
        expectStrings(bytes);
      }
    }
  });

  it('refuses stringified values that are not one JSON value', () => {
    for (const value of ['', '{', '"a', '"\\x"', '"tab\there"', '[1,]', '{"a" 1}', 'tru', '01', '{"a":1}}']) {
      const text = `{"a":${value}}`;
      expect(parsesToObject(Buffer.from(text)), text).toBe(false);
      expect(bodies.scan(Buffer.from(text)), text).toBe(false);
    }
  });

  it('takes at most 8 stringified keys of up to 63 bytes', () => {
    expect(
      () => new ObjectScan({ stringifiedKeys: Array.from({ length: 9 }, (_, index) => `k${index}`) }),
    ).toThrow(/cannot stringify key k8/);
    expect(() => new ObjectScan({ stringifiedKeys: ['k'.repeat(64)] })).toThrow(/cannot stringify key/);
    expect(new ObjectScan({ stringifiedKeys: ['k'.repeat(63)] }).scan(Buffer.from('{}'))).toBe(true);
  });

  it('notes nothing inside such values: their keys are not dotted keys, flags are of their own key only', () => {
    const text = '{"a":{"x.y":{"\\u002e":"\\u0026","e_f":1}},"b":{"c.d":1}}';
    const bytes = Buffer.from(text);
    expect(bodies.scan(bytes)).toBe(true);
    expect(bodies.members.values[FLAGS]).toBe(0);
    expect(bodies.dottedKeys.length).toBe(2);
    expect(bytes.toString('utf8', bodies.dottedKeys.values[0], bodies.dottedKeys.values[1])).toBe('"c.d"');
  });

  it('agrees with JSON.parse on generated events and on mutations of them', () => {
    const generator = new AuditEventGenerator({ seed: 6, largeEventRatio: 0.2 });
    const random = new Prng(78);
    let refused = 0;
    for (let index = 0; index < 1500; index++) {
      const line = Buffer.from(generator.nextLine());
      expect(bodies.scan(line)).toBe(true);
      expectStrings(line);
      for (let mutation = 0; mutation < 5; mutation++) {
        const mutated = mutate(line, random);
        const accepted = bodies.scan(mutated);
        expect(accepted, mutated.toString('latin1')).toBe(parsesToObject(mutated));
        if (accepted) expectStrings(mutated);
        else refused++;
      }
    }
    expect(refused).toBeGreaterThan(1500);
    expect(refused).toBeLessThan(6000);
  });
});

/** One random byte-level change: a byte replaced by a JSON-significant one, removed, or the line cut. */
function mutate(line: Buffer, random: Prng): Buffer {
  const SIGNIFICANT = Buffer.from('{}[]",:\\0123456789.-+eEtrufalsn \t\u0001');
  const at = Math.floor(random.float() * line.length);
  const kind = random.float();
  if (kind < 0.45) {
    const copy = Buffer.from(line);
    copy[at] = SIGNIFICANT[Math.floor(random.float() * SIGNIFICANT.length)] as number;
    return copy;
  }
  if (kind < 0.9) return Buffer.concat([line.subarray(0, at), line.subarray(at + 1)]);
  return line.subarray(0, at);
}
