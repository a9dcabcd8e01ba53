// JSON text as Go's encoding/json writes it, so simulated lines have the same bytes as real ones.
// Go escapes <, > and & (HTML-safe) and U+2028/U+2029; everything else matches JSON.stringify,
// including raw non-ASCII UTF-8 (see shared/reference/audit-format.md §1).

const GO_ESCAPES: Readonly<Record<string, string>> = Object.freeze({
  '<': '\\u003c',
  '>': '\\u003e',
  '&': '\\u0026',
  '\u2028': '\\u2028',
  '\u2029': '\\u2029',
});

/** Applies Go's HTML-safe escaping to JSON text produced by JSON.stringify. */
export function escapeLikeGo(json: string): string {
  // Escaping only ever happens inside string literals, because these characters cannot appear
  // elsewhere in JSON text; so a plain replace over the whole text is exact.
  if (!/[<>&\u2028\u2029]/.test(json)) return json;
  return json.replace(/[<>&\u2028\u2029]/g, (char) => GO_ESCAPES[char] ?? char);
}

/** Encodes one value the way Go's json.Marshal would (given keys already in Go's order). */
export function goJson(value: unknown): string {
  return escapeLikeGo(JSON.stringify(value));
}

/**
 * Encodes values with a cache for objects that are shared between many events (users, pod bodies,
 * large list responses), so each of those is serialized once, not once per line.
 * Cached objects are frozen: a later mutation would silently desynchronize the cache.
 */
export class GoJsonEncoder {
  readonly #cache = new WeakMap<object, string>();
  readonly #keyPrefixes = new Map<string, string>();

  /** Deep-freezes `value`, caches its encoding and returns it. */
  intern<T extends object>(value: T): T {
    deepFreeze(value);
    this.#cache.set(value, goJson(value));
    return value;
  }

  /**
   * Like intern, but encodes only the top level itself and takes already-interned members from the
   * cache: for composites (a list of 80 cached pods) this costs a join instead of a re-serialization.
   */
  internComposite<T extends object>(value: T): T {
    const encoded = Array.isArray(value) ? this.encodeArray(value) : this.encodeFields(value);
    deepFreeze(value);
    this.#cache.set(value, encoded);
    return value;
  }

  /** Encodes any value, using the cache where it can. */
  encode(value: unknown): string {
    if (typeof value === 'object' && value !== null) {
      const cached = this.#cache.get(value);
      if (cached !== undefined) return cached;
    }
    return goJson(value);
  }

  /** Encodes an object field by field in insertion order, skipping undefined like `omitempty`. */
  encodeFields(value: object): string {
    let out = '{';
    for (const [key, field] of Object.entries(value)) {
      if (field === undefined) continue;
      if (out.length > 1) out += ',';
      out += this.#keyPrefix(key) + this.encode(field);
    }
    return out + '}';
  }

  /** Encodes an array element by element through the cache. */
  encodeArray(items: readonly unknown[]): string {
    let out = '[';
    for (let i = 0; i < items.length; i++) {
      if (i > 0) out += ',';
      out += this.encode(items[i]);
    }
    return out + ']';
  }

  #keyPrefix(key: string): string {
    let prefix = this.#keyPrefixes.get(key);
    if (prefix === undefined) {
      prefix = `${goJson(key)}:`;
      this.#keyPrefixes.set(key, prefix);
    }
    return prefix;
  }
}

function deepFreeze(value: unknown): void {
  if (typeof value !== 'object' || value === null || Object.isFrozen(value)) return;
  Object.freeze(value);
  for (const member of Object.values(value)) deepFreeze(member);
}
