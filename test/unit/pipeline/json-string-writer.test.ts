import { describe, expect, it } from 'vitest';
import { JsonStringWriter } from '../../../src/pipeline/json-string-writer.ts';
import { Prng } from '../../../src/simulator/prng.ts';

/** Writes `text` (a JSON value) with a fresh writer, after `before` bytes of other values. */
function written(text: string, before = 0): { end: number; string: string } {
  const writer = new JsonStringWriter();
  if (before > 0) writer.write(Buffer.from(JSON.stringify('x'.repeat(before))), 0, before + 2);
  const start = writer.length;
  const bytes = Buffer.from(text);
  const end = writer.write(bytes, 0, bytes.length);
  return { end, string: Buffer.from(writer.bytes.subarray(start, writer.length)).toString('utf8') };
}

describe('JsonStringWriter', () => {
  it('writes the JSON string of the text of values that need escapes of every kind', () => {
    const values = [
      '{"a":"\\u0026","b":["\\\\","\\"",null,true,false,-1.5e3],"c":{}}',
      '"\\/\\b\\f\\n\\r\\t"',
      '[ 1 ,\t2 ,\n3 \r]',
      '"é 😀 \u2028"',
      '0',
    ];
    for (const text of values) {
      const { end, string } = written(text);
      expect(end, text).toBe(Buffer.byteLength(text));
      expect(string).toBe(JSON.stringify(text));
    }
  });

  it('grows its scratch as the value is written, wherever an escape or a string end falls', () => {
    const random = new Prng(9);
    const pieces = ['a', 'é', '\\"', '\\\\', '\\u0041', '\\n'];
    for (let trial = 0; trial < 300; trial++) {
      // Strings around the initial scratch size and its doublings, escapes anywhere in them.
      const length = [4000, 8100, 16_300][trial % 3] as number;
      let inner = '';
      while (inner.length < length + random.int(200)) inner += pieces[random.int(pieces.length)] as string;
      const short = pieces.join('');
      const text = trial % 2 === 0 ? `"${inner}"` : `{"k":["${inner}",{"m":"${short}"}]}`;
      const { end, string } = written(text, random.int(5000));
      expect(end).toBe(Buffer.byteLength(text));
      expect(JSON.parse(string)).toBe(text);
    }
  });

  it('refuses what is not one JSON value', () => {
    for (const text of ['', '{', '"a', '"\\x"', '"tab\there"', '[1,]', '{"a" 1}', 'tru', '01', '{"a":1}}']) {
      const bytes = Buffer.from(text);
      const end = new JsonStringWriter().write(bytes, 0, bytes.length);
      // A valid value may be followed by more text (the caller checks what follows); here it must not be all.
      if (end !== -1) expect(end, text).toBeLessThan(bytes.length);
    }
  });

  it('keeps at most 1 MB of scratch from one line to the next', () => {
    const writer = new JsonStringWriter();
    const big = Buffer.from(JSON.stringify('x'.repeat(3 * 1024 * 1024)));
    expect(writer.write(big, 0, big.length)).toBe(big.length);
    expect(writer.bytes.length).toBeGreaterThan(3 * 1024 * 1024);
    writer.clear();
    expect(writer.bytes.length).toBeLessThanOrEqual(1024 * 1024);
  });
});
