// Seeded pseudo-random numbers for the simulator: the same seed always yields the same sequence.
// sfc32 (128-bit state) rather than mulberry32: mulberry32's state is a 32-bit Weyl counter, so two
// seeds are two offsets into one cycle and long runs with nearby seeds would repeat each other's auditIDs.

const HEX_BYTES: readonly string[] = Array.from({ length: 256 }, (_, byte) =>
  byte.toString(16).padStart(2, '0'),
);

/** A small, fast, deterministic PRNG (sfc32 seeded through splitmix32). Not for cryptography. */
export class Prng {
  #a: number;
  #b: number;
  #c: number;
  #d: number;

  /** @param seed any integer; only its low 32 bits matter. */
  constructor(seed: number) {
    let state = seed >>> 0;
    const splitmix = (): number => {
      state = (state + 0x9e3779b9) >>> 0;
      let z = state;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.#a = splitmix();
    this.#b = splitmix();
    this.#c = splitmix();
    this.#d = splitmix();
    // The first outputs of sfc32 are still correlated with the seed: discard them.
    for (let i = 0; i < 16; i++) this.nextUint32();
  }

  /** Uniform integer in [0, 2^32). */
  nextUint32(): number {
    const a = this.#a;
    const b = this.#b;
    const c = this.#c;
    const d = (this.#d + 1) >>> 0;
    const t = (((a + b) >>> 0) + d) >>> 0;
    this.#d = d;
    this.#a = b ^ (b >>> 9);
    this.#b = (c + (c << 3)) >>> 0;
    this.#c = (((c << 21) | (c >>> 11)) + t) >>> 0;
    return t;
  }

  /** Uniform float in [0, 1). */
  float(): number {
    return this.nextUint32() / 4294967296;
  }

  /** Uniform integer in [0, maxExclusive). */
  int(maxExclusive: number): number {
    return Math.floor(this.float() * maxExclusive);
  }

  /** Uniform integer in [min, maxInclusive]. */
  between(min: number, maxInclusive: number): number {
    return min + this.int(maxInclusive - min + 1);
  }

  /** True with probability p. */
  chance(p: number): boolean {
    return this.float() < p;
  }

  /** Exponentially distributed value with the given mean (inter-arrival times). */
  exponential(mean: number): number {
    return -Math.log(1 - this.float()) * mean;
  }

  /** One element, uniformly. The list must not be empty. */
  pick<T>(items: readonly T[]): T {
    const item = items[this.int(items.length)];
    if (item === undefined) throw new RangeError('Prng.pick() needs a non-empty list.');
    return item;
  }

  /** `length` lower-case hex digits. */
  hex(length: number): string {
    let out = '';
    while (out.length < length) out += this.nextUint32().toString(16).padStart(8, '0');
    return out.slice(0, length);
  }

  /** Lower-case letters and digits, like the random suffixes Kubernetes gives generated names. */
  suffix(length: number): string {
    // Kubernetes' utilrand alphabet: no vowels and no easily confused characters.
    const alphabet = 'bcdfghjklmnpqrstvwxz2456789';
    let out = '';
    for (let i = 0; i < length; i++) out += alphabet[this.int(alphabet.length)] ?? 'x';
    return out;
  }

  /** An RFC 4122 version-4 UUID built from this generator's bits. */
  uuidV4(): string {
    const w0 = this.nextUint32();
    const w1 = this.nextUint32();
    const w2 = this.nextUint32();
    const w3 = this.nextUint32();
    // Version nibble 4 in byte 6, variant bits 10xx in byte 8.
    const b6 = ((w1 >>> 8) & 0x0f) | 0x40;
    const b8 = ((w2 >>> 24) & 0x3f) | 0x80;
    return (
      hexByte(w0 >>> 24) +
      hexByte(w0 >>> 16) +
      hexByte(w0 >>> 8) +
      hexByte(w0) +
      '-' +
      hexByte(w1 >>> 24) +
      hexByte(w1 >>> 16) +
      '-' +
      hexByte(b6) +
      hexByte(w1) +
      '-' +
      hexByte(b8) +
      hexByte(w2 >>> 16) +
      '-' +
      hexByte(w2 >>> 8) +
      hexByte(w2) +
      hexByte(w3 >>> 24) +
      hexByte(w3 >>> 16) +
      hexByte(w3 >>> 8) +
      hexByte(w3)
    );
  }
}

function hexByte(value: number): string {
  return HEX_BYTES[value & 0xff] ?? '00';
}

/** A fixed list of choices with relative weights, drawn in O(log n). */
export class WeightedChoice<T> {
  readonly #items: readonly T[];
  readonly #cumulative: readonly number[];
  readonly #total: number;

  constructor(entries: readonly (readonly [T, number])[]) {
    if (entries.length === 0) throw new RangeError('WeightedChoice needs at least one entry.');
    let total = 0;
    const cumulative: number[] = [];
    for (const [, weight] of entries) {
      if (!(weight > 0)) throw new RangeError('WeightedChoice weights must be positive.');
      total += weight;
      cumulative.push(total);
    }
    this.#items = entries.map(([item]) => item);
    this.#cumulative = cumulative;
    this.#total = total;
  }

  /** One item, with probability proportional to its weight. */
  pick(rng: Prng): T {
    const target = rng.float() * this.#total;
    let low = 0;
    let high = this.#cumulative.length - 1;
    while (low < high) {
      const mid = (low + high) >>> 1;
      if ((this.#cumulative[mid] ?? Infinity) > target) high = mid;
      else low = mid + 1;
    }
    const item = this.#items[low];
    if (item === undefined) throw new RangeError('WeightedChoice index out of range.');
    return item;
  }
}
