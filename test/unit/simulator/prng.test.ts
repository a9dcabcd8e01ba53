import { describe, expect, it } from 'vitest';
import { Prng, WeightedChoice } from '../../../src/simulator/prng.ts';

describe('Prng', () => {
  it('repeats its sequence for the same seed', () => {
    const a = new Prng(7);
    const b = new Prng(7);

    const first = Array.from({ length: 100 }, () => a.nextUint32());
    const second = Array.from({ length: 100 }, () => b.nextUint32());

    expect(second).toEqual(first);
  });

  it('gives unrelated sequences for neighbouring seeds', () => {
    const a = Array.from(
      { length: 1000 },
      (
        (rng) => () =>
          rng.nextUint32()
      )(new Prng(1)),
    );
    const b = new Set(
      Array.from(
        { length: 1000 },
        (
          (rng) => () =>
            rng.nextUint32()
        )(new Prng(2)),
      ),
    );

    expect(a.filter((value) => b.has(value))).toHaveLength(0);
  });

  it('draws floats in [0, 1) with a mean near one half', () => {
    const rng = new Prng(3);
    const values = Array.from({ length: 20_000 }, () => rng.float());

    expect(Math.min(...values)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...values)).toBeLessThan(1);
    expect(values.reduce((sum, v) => sum + v, 0) / values.length).toBeCloseTo(0.5, 1);
  });

  it('formats RFC 4122 version 4 UUIDs', () => {
    const rng = new Prng(4);

    const ids = Array.from({ length: 1000 }, () => rng.uuidV4());

    for (const id of ids)
      expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('picks weighted choices in proportion to their weights', () => {
    const rng = new Prng(5);
    const choice = new WeightedChoice([
      ['a', 1],
      ['b', 3],
    ] as const);

    const picks = Array.from({ length: 10_000 }, () => choice.pick(rng));

    expect(picks.filter((p) => p === 'b').length / picks.length).toBeCloseTo(0.75, 1);
  });
});
