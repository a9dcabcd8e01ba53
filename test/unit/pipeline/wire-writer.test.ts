import { describe, expect, it } from 'vitest';
import { Prng } from '../../../src/simulator/prng.ts';
import { ByteWriter } from '../../../src/pipeline/wire-writer.ts';

function written(write: (out: ByteWriter) => void): string {
  // A small buffer, so that growing it is exercised too.
  const out = new ByteWriter(Buffer.alloc(4));
  out.text('<');
  write(out);
  out.text('>');
  return out.bytes().toString('utf8');
}

describe('ByteWriter', () => {
  it('writes numbers as String() does: integers digit by digit at every length, the rest as text', () => {
    const values = [
      0,
      1,
      9,
      10,
      99,
      100,
      999_999_999,
      1e9,
      1e9 + 1,
      1_000_000_007,
      12_345_678_901,
      2 ** 31,
      2 ** 32,
    ];
    values.push(
      Number.MAX_SAFE_INTEGER,
      Number.MAX_SAFE_INTEGER - 1,
      2 ** 53,
      1e21,
      -1,
      -0,
      0.5,
      1e-7,
      NaN,
      Infinity,
    );
    for (let power = 1; power <= 1e15; power *= 10) values.push(power - 1, power, power + 1);
    const random = new Prng(5);
    for (let index = 0; index < 10_000; index++)
      values.push(Math.floor((random.nextUint32() * 2 ** 21 + random.int(2 ** 21)) / 2 ** random.int(42)));
    for (const value of values) {
      const text = written((out) => {
        out.number(value);
      });
      expect(text, String(value)).toBe(`<${String(value)}>`);
    }
  });

  it('appends text, prepared bytes and spans of the line, short and long, ASCII or not', () => {
    const line = Buffer.from(`{"a":"${'x'.repeat(100)}","é":"😀"}`);
    const out = new ByteWriter(Buffer.alloc(8));
    out.startEvent('', line);
    out.text('ab');
    out.text('é😀'.repeat(30));
    out.append(Buffer.from('0123456789'));
    out.append(Buffer.from(','));
    out.raw(0, 5);
    out.raw(5, line.length);
    expect(out.bytes().toString('utf8')).toBe(`ab${'é😀'.repeat(30)}0123456789,${line.toString('utf8')}`);
  });
});
