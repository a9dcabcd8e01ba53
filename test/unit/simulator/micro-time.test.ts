import { describe, expect, it } from 'vitest';
import { MicroTimeFormatter } from '../../../src/simulator/micro-time.ts';

describe('MicroTimeFormatter', () => {
  it('formats UTC with exactly six fractional digits', () => {
    const formatter = new MicroTimeFormatter();
    const base = Date.UTC(2024, 4, 6, 7, 8, 9) * 1000;

    expect(formatter.format(base + 123_456)).toBe('2024-05-06T07:08:09.123456Z');
    expect(formatter.format(base + 7)).toBe('2024-05-06T07:08:09.000007Z');
    expect(formatter.format(base + 1_000_000)).toBe('2024-05-06T07:08:10.000000Z');
  });
});
