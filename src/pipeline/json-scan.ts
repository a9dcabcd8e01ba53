// Validates a JSON object held as bytes and finds its top-level members in the same pass, without building
// any value: the per-event hot path for sinks that copy most of the line instead of re-serializing it.
// Sound, not complete: true means JSON.parse accepts the text (RFC 8259 grammar, checked as strictly);
// false means invalid or merely unusual (not an object, nested deeper than MAX_DEPTH), and the caller then
// takes the JSON.parse path, which also words the error. UTF-8 validity is the caller's check (isUtf8).

import { endOfContainer, isSameBytes, MAX_DEPTH, skipEscape, skipScalar } from './json-tokens.ts';
import { JsonStringWriter } from './json-string-writer.ts';

/** The member's key has a dot or an escape, is empty or starts with whitespace: not copyable as it is. */
export const KEY_UNUSUAL = 1;
/** A key inside the member's value has a dot (it is listed in ObjectScan.dottedKeys). */
export const NESTED_KEY_DOTTED = 2;
/** A key inside the member's value has an underscore (so dedotting could make two keys one). */
export const NESTED_KEY_UNDERSCORE = 4;
/** A key inside the member's value has an escape, is empty or starts with whitespace. */
export const NESTED_KEY_COMPLEX = 8;
/** A string in the member's value has an escape sequence: its text is not its value. */
export const HAS_ESCAPE = 16;

/** Fields of one member in ObjectScan.members: its key's quotes included, its value's end exclusive. */
export const KEY_START = 0;
export const KEY_END = 1;
export const VALUE_START = 2;
export const VALUE_END = 3;
export const FLAGS = 4;
/** The member's own members when its value is an object: a range of ObjectScan.children. */
export const CHILDREN_START = 5;
export const CHILDREN_END = 6;
/** A stringified member's value as a JSON string: a range of ObjectScan.strings.bytes (else -1, -1). */
export const STRING_START = 7;
export const STRING_END = 8;
export const MEMBER_FIELDS = 9;
/** Fields of one nested member in ObjectScan.children (KEY_START...VALUE_END). */
export const CHILD_FIELDS = 4;

const KEY_DOT = 1;
const KEY_UNDERSCORE = 2;
/** Empty, starting with whitespace, or with an escape. */
const KEY_COMPLEX = 4;
const KEY_ESCAPE = 8;

const SPACE = 0x20;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const COLON = 0x3a;
const DOT = 0x2e;
const UNDERSCORE = 0x5f;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;

const INITIAL_CAPACITY = 64;
/** 256 KB: what the lists of a usual line never need (a few hundred entries). */
const RETAINED_CAPACITY = 65_536;

/**
 * A growable list of integers that keeps its memory across clear(): an array emptied with `length = 0`
 * drops its backing store, and refilling it per line made the scan allocate ~3 KB of garbage a line.
 */
export class IntList {
  values = new Int32Array(INITIAL_CAPACITY);
  length = 0;

  clear(): void {
    this.length = 0;
    // A scan is kept for line after line: one huge line must not keep its lists' memory for good.
    // transfer() frees the memory now rather than at a later GC (see JsonStringWriter.clear).
    if (this.values.length > RETAINED_CAPACITY)
      this.values = new Int32Array(this.values.buffer.transfer(INITIAL_CAPACITY * 4));
  }

  push(value: number): void {
    if (this.length === this.values.length) this.#grow();
    this.values[this.length++] = value;
  }

  push2(first: number, second: number): void {
    this.push(first);
    this.push(second);
  }

  push4(first: number, second: number, third: number, fourth: number): void {
    this.push2(first, second);
    this.push2(third, fourth);
  }

  #grow(): void {
    this.values = new Int32Array(this.values.buffer.transfer(this.values.byteLength * 2));
  }
}

/** Reusable: one instance scans line after line without allocating. */
export class ObjectScan {
  /** Top-level keys whose values are written as JSON strings of their text (see STRING_START). */
  readonly #stringifiedKeys: readonly Uint8Array[];
  /** MEMBER_FIELDS numbers per top-level member, in order (see KEY_START...CHILDREN_END). */
  readonly members = new IntList();
  /** CHILD_FIELDS numbers per member of a top-level member's object value. */
  readonly children = new IntList();
  /** Key start and end of every nested key that has a dot, in order (none in stringified values). */
  readonly dottedKeys = new IntList();
  /** The stringified members' values (their flags and children are not noted: the text is all they need). */
  readonly strings = new JsonStringWriter();
  /** Where the object's '{' is, and the index after its '}'. */
  objectStart = 0;
  objectEnd = 0;
  /** The flags (KEY_UNUSUAL...) of the top-level member being scanned. */
  #flags = 0;
  /** Counts escapes seen, so that a string's scan can tell whether it had one without returning two values. */
  #escapes = 0;
  /** The traits of the key #skipKey scanned last (KEY_DOT...). */
  #keyTraits = 0;

  constructor(options: { readonly stringifiedKeys?: readonly string[] } = {}) {
    // As they appear between the quotes: a key written with escapes is not one of them.
    this.#stringifiedKeys = (options.stringifiedKeys ?? []).map((key) => Buffer.from(key));
  }

  /** Scans all of `bytes`: true when it is one JSON object, with whitespace around it at most. */
  scan(bytes: Uint8Array): boolean {
    this.members.clear();
    this.children.clear();
    this.dottedKeys.clear();
    this.strings.clear();
    const to = bytes.length;
    const at = skipWhitespace(bytes, 0, to);
    if (at >= to || bytes[at] !== OPEN_BRACE) return false;
    this.objectStart = at;
    const end = this.#topObject(bytes, at, to);
    if (end < 0) return false;
    this.objectEnd = end;
    return skipWhitespace(bytes, end, to) === to;
  }

  // Recursive descent, one method per kind of value: each knows what may follow, which spares the per-token
  // state dispatch (most of a line's time went there). Each returns the index after what it scanned, or -1.
  // Never reads past the end: an out-of-bounds read would slow every later scan (V8 deoptimizes).

  /** The top-level object at `start` (its '{'): notes its members. */
  #topObject(bytes: Uint8Array, start: number, to: number): number {
    const { members, children } = this;
    let at = skipWhitespace(bytes, start + 1, to);
    if (at < to && bytes[at] === CLOSE_BRACE) return at + 1;
    for (;;) {
      if (at >= to || bytes[at] !== QUOTE) return -1;
      const keyStart = at;
      at = this.#skipKey(bytes, at, to);
      if (at < 0) return -1;
      members.push2(keyStart, at);
      this.#flags = (this.#keyTraits & (KEY_DOT | KEY_COMPLEX)) === 0 ? 0 : KEY_UNUSUAL;
      const memberChildren = children.length;
      at = skipWhitespace(bytes, at, to);
      if (at >= to || bytes[at] !== COLON) return -1;
      at = skipWhitespace(bytes, at + 1, to);
      members.push(at);
      if (this.#isStringified(bytes, keyStart + 1, members.values[members.length - 2] as number)) {
        const stringStart = this.strings.length;
        at = this.strings.write(bytes, at, to);
        if (at < 0) return -1;
        members.push4(at, this.#flags, memberChildren, memberChildren);
        members.push2(stringStart, this.strings.length);
      } else {
        at = this.#value(bytes, at, to, 1);
        if (at < 0) return -1;
        members.push4(at, this.#flags, memberChildren, children.length);
        members.push2(-1, -1);
      }
      at = nextMember(bytes, at, to, CLOSE_BRACE);
      if (at < 0) return endOfContainer(at);
    }
  }

  /** Whether the key text at [start, end) (its closing quote at end - 1) is one of the stringified keys. */
  #isStringified(bytes: Uint8Array, start: number, end: number): boolean {
    for (const key of this.#stringifiedKeys) if (isSameBytes(bytes, start, end - 1, key)) return true;
    return false;
  }

  /** Any value at `start`, inside `depth` containers. */
  #value(bytes: Uint8Array, start: number, to: number, depth: number): number {
    if (start >= to) return -1;
    const code = bytes[start] as number;
    if (code === QUOTE) {
      const escapes = this.#escapes;
      const end = this.#skipString(bytes, start, to);
      if (this.#escapes !== escapes) this.#flags |= HAS_ESCAPE;
      return end;
    }
    if (code === OPEN_BRACE) return this.#object(bytes, start, to, depth + 1);
    if (code === OPEN_BRACKET) return this.#array(bytes, start, to, depth + 1);
    return skipScalar(bytes, start, to);
  }

  /**
   * A nested object at `start`, the `depth`-th container: its keys' traits go into the member's flags, and at
   * depth 2 (a top-level member's value) its members are noted as the member's children.
   */
  #object(bytes: Uint8Array, start: number, to: number, depth: number): number {
    if (depth > MAX_DEPTH) return -1;
    const { children, dottedKeys } = this;
    let at = skipWhitespace(bytes, start + 1, to);
    if (at < to && bytes[at] === CLOSE_BRACE) return at + 1;
    for (;;) {
      if (at >= to || bytes[at] !== QUOTE) return -1;
      const keyStart = at;
      at = this.#skipKey(bytes, at, to);
      if (at < 0) return -1;
      const traits = this.#keyTraits;
      if (traits !== 0) {
        if ((traits & KEY_ESCAPE) !== 0) this.#flags |= HAS_ESCAPE;
        if ((traits & KEY_COMPLEX) !== 0) this.#flags |= NESTED_KEY_COMPLEX;
        if ((traits & KEY_UNDERSCORE) !== 0) this.#flags |= NESTED_KEY_UNDERSCORE;
        if ((traits & KEY_DOT) !== 0) {
          this.#flags |= NESTED_KEY_DOTTED;
          dottedKeys.push2(keyStart, at);
        }
      }
      if (depth === 2) children.push2(keyStart, at);
      at = skipWhitespace(bytes, at, to);
      if (at >= to || bytes[at] !== COLON) return -1;
      at = skipWhitespace(bytes, at + 1, to);
      if (depth === 2) children.push(at);
      at = this.#value(bytes, at, to, depth);
      if (at < 0) return -1;
      if (depth === 2) children.push(at);
      at = nextMember(bytes, at, to, CLOSE_BRACE);
      if (at < 0) return endOfContainer(at);
    }
  }

  /** An array at `start`, the `depth`-th container. */
  #array(bytes: Uint8Array, start: number, to: number, depth: number): number {
    if (depth > MAX_DEPTH) return -1;
    let at = skipWhitespace(bytes, start + 1, to);
    if (at < to && bytes[at] === CLOSE_BRACKET) return at + 1;
    for (;;) {
      at = this.#value(bytes, at, to, depth);
      if (at < 0) return -1;
      at = nextMember(bytes, at, to, CLOSE_BRACKET);
      if (at < 0) return endOfContainer(at);
    }
  }

  /** The index after the string that opens at `start`, or -1 when it is not a valid JSON string. */
  #skipString(bytes: Uint8Array, start: number, to: number): number {
    let at = start + 1;
    for (;;) {
      // Comparisons, not a table lookup: twice as fast in V8 for this loop, where most of a line's time goes.
      let code = 0;
      while (at < to && (code = bytes[at] as number) >= SPACE && code !== QUOTE && code !== BACKSLASH) at++;
      if (at >= to) return -1;
      if (code === QUOTE) return at + 1;
      if (code !== BACKSLASH) return -1;
      this.#escapes++;
      at = skipEscape(bytes, at, to);
      if (at < 0) return -1;
    }
  }

  /** #skipString for a key, which also notes the key's traits (KEY_DOT...) in #keyTraits. */
  #skipKey(bytes: Uint8Array, start: number, to: number): number {
    let at = start + 1;
    if (at >= to) return -1;
    let traits = isJsonWhitespace(bytes[at] as number) || bytes[at] === QUOTE ? KEY_COMPLEX : 0;
    for (;;) {
      let code = 0;
      while (
        at < to &&
        (code = bytes[at] as number) >= SPACE &&
        code !== QUOTE &&
        code !== BACKSLASH &&
        code !== DOT &&
        code !== UNDERSCORE
      )
        at++;
      if (at >= to) return -1;
      if (code === QUOTE) {
        this.#keyTraits = traits;
        return at + 1;
      }
      if (code === DOT) traits |= KEY_DOT;
      else if (code === UNDERSCORE) traits |= KEY_UNDERSCORE;
      else if (code === BACKSLASH) {
        traits |= KEY_COMPLEX | KEY_ESCAPE;
        at = skipEscape(bytes, at, to);
        if (at < 0) return -1;
        continue;
      } else return -1;
      at++;
    }
  }
}

/**
 * What follows a container's member (or element) that ends at `at`: whitespace, then a comma and the next
 * one's start (returned), or `close`, the container's end (returned as -(its index + 2): see endOfContainer).
 * -1: neither.
 */
function nextMember(bytes: Uint8Array, start: number, to: number, close: number): number {
  const at = skipWhitespace(bytes, start, to);
  if (at >= to) return -1;
  const code = bytes[at];
  if (code === close) return -(at + 2);
  if (code !== COMMA) return -1;
  return skipWhitespace(bytes, at + 1, to);
}

function skipWhitespace(bytes: Uint8Array, start: number, to: number): number {
  let at = start;
  // All four are at most ' ': one comparison passes the usual non-whitespace byte.
  while (at < to && (bytes[at] as number) <= SPACE && isJsonWhitespace(bytes[at] as number)) at++;
  return at;
}

/** JSON's insignificant whitespace: space, tab, line feed, carriage return. */
export function isJsonWhitespace(code: number): boolean {
  return code === 0x20 || code === 0x0a || code === 0x0d || code === 0x09;
}
