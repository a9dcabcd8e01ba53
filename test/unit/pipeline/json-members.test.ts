import { describe, expect, it } from 'vitest';
import { findMembers } from '../../../src/pipeline/json-members.ts';

/** The members as [key text, value text] pairs. */
function members(text: string): [string, string][] | undefined {
  const found = findMembers(text);
  if (found === undefined) return undefined;
  const pairs: [string, string][] = [];
  for (let at = 0; at < found.length; at += 4) {
    pairs.push([text.slice(found[at], found[at + 1]), text.slice(found[at + 2], found[at + 3])]);
  }
  return pairs;
}

describe('findMembers', () => {
  it('finds each top-level member of compact JSON, values untouched', () => {
    const text = '{"a":1,"b":"x","c":{"d":[1,{"e":"}"}]},"f":[],"g":true,"h":null,"i":-1.5e3}';
    expect(members(text)).toEqual([
      ['"a"', '1'],
      ['"b"', '"x"'],
      ['"c"', '{"d":[1,{"e":"}"}]}'],
      ['"f"', '[]'],
      ['"g"', 'true'],
      ['"h"', 'null'],
      ['"i"', '-1.5e3'],
    ]);
  });

  it('handles whitespace everywhere JSON allows it, and a trailing CR', () => {
    const text = ' \t{ "a" : 1 ,\n "b"\r\n:\t[ 1 , 2 ] , "c" : "v" }\r';
    expect(members(text)).toEqual([
      ['"a"', '1'],
      ['"b"', '[ 1 , 2 ]'],
      ['"c"', '"v"'],
    ]);
  });

  it('tells escaped quotes from closing ones, however many backslashes precede them', () => {
    const value = { 'k"ey': 'a\\', q: 'say "}" and \\"', n: { s: '\\\\"{' } };
    const text = JSON.stringify(value);
    const found = members(text);
    expect(found?.map(([key]) => JSON.parse(key) as string)).toEqual(['k"ey', 'q', 'n']);
    expect(found?.map(([, raw]) => JSON.parse(raw) as unknown)).toEqual([value['k"ey'], value.q, value.n]);
  });

  it('returns no members for {} and undefined for what is not an object', () => {
    expect(members('{}')).toEqual([]);
    expect(members(' { } ')).toEqual([]);
    expect(members('[1]')).toBeUndefined();
    expect(members('"x"')).toBeUndefined();
  });

  it('agrees with JSON.parse on every generated audit line', async () => {
    const { AuditEventGenerator } = await import('../../../src/simulator/generator.ts');
    const generator = new AuditEventGenerator({ seed: 11, largeEventRatio: 0.05 });
    for (let index = 0; index < 2000; index++) {
      const line = generator.nextLine();
      const parsed = JSON.parse(line) as Record<string, unknown>;
      const rebuilt = Object.fromEntries(
        (members(line) ?? []).map(([key, raw]) => [JSON.parse(key) as string, JSON.parse(raw) as unknown]),
      );
      expect(rebuilt).toEqual(parsed);
    }
  });
});
