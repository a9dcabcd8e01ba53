// Validates a JSON value held as bytes and, in the same pass, writes the JSON string whose value is its text:
// what the Elasticsearch sink stores request and response bodies as (kubernetes.audit.*Json). One pass over
// the bytes instead of a validating scan and then an escaping one; bodies are most of a large event's bytes.
// The grammar is json-scan.ts's (RFC 8259, as strictly as JSON.parse); UTF-8 validity is the caller's check.

import { endOfContainer, MAX_DEPTH, skipEscape, skipScalar } from './json-tokens.ts';

const SPACE = 0x20;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const COLON = 0x3a;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;

/** What '\t', '\n' and '\r' (JSON whitespace, the only control characters valid JSON text has) escape to. */
const WHITESPACE_ESCAPE = new Uint8Array(256);
WHITESPACE_ESCAPE[0x09] = 0x74;
WHITESPACE_ESCAPE[0x0a] = 0x6e;
WHITESPACE_ESCAPE[0x0d] = 0x72;

/** Scratch kept between lines up to this size (a usual body is a few KB). */
const RETAINED_BYTES = 1 << 20;
/** Room made before a token's few bytes are written (an escape sequence writes at most 7). */
const TOKEN_ROOM = 16;

/**
 * Reusable: writes the JSON strings of values into its scratch buffer, which write() calls append to and
 * clear() empties. `bytes.subarray(start, end)` of what write() reported is the string, quotes included.
 */
export class JsonStringWriter {
  bytes = new Uint8Array(4096);
  length = 0;

  clear(): void {
    this.length = 0;
    // transfer() hands the memory back at once; a dropped buffer would wait for a GC that external memory
    // triggers only after tens of MB (a multi-MB body per batch piled up that much).
    if (this.bytes.length > RETAINED_BYTES) this.bytes = new Uint8Array(this.bytes.buffer.transfer(4096));
  }

  /**
   * Validates the value at source[start] (to is the end of what may be read) and appends its text as a JSON
   * string. Returns the index after the value, or -1 when it is not valid JSON (what was appended is then
   * garbage: the caller drops it with clear()).
   */
  write(source: Uint8Array, start: number, to: number): number {
    this.#room(TOKEN_ROOM);
    this.bytes[this.length++] = QUOTE;
    // Depth 1: the value is a member of the line's object, as in ObjectScan.
    const end = this.#value(source, start, to, 1);
    if (end < 0) return -1;
    this.#room(TOKEN_ROOM);
    this.bytes[this.length++] = QUOTE;
    return end;
  }

  /**
   * Makes room for `bytes` more. The scratch grows as the string does (the value's end is not known before
   * it is scanned): reserving twice the rest of the line up front cost a multi-MB event twice its size.
   */
  #room(bytes: number): void {
    const needed = this.length + bytes;
    if (needed <= this.bytes.length) return;
    // transfer() copies what was written and frees the old memory now, not at a later GC.
    this.bytes = new Uint8Array(this.bytes.buffer.transfer(Math.max(needed, this.bytes.length * 2)));
  }

  #value(source: Uint8Array, start: number, to: number, depth: number): number {
    if (start >= to) return -1;
    const code = source[start] as number;
    if (code === QUOTE) return this.#string(source, start, to);
    if (code === OPEN_BRACE) return this.#object(source, start, to, depth + 1);
    if (code === OPEN_BRACKET) return this.#array(source, start, to, depth + 1);
    const end = skipScalar(source, start, to);
    if (end < 0) return -1;
    this.#room(end - start);
    const out = this.bytes;
    let length = this.length;
    for (let at = start; at < end; at++) out[length++] = source[at] as number;
    this.length = length;
    return end;
  }

  #object(source: Uint8Array, start: number, to: number, depth: number): number {
    if (depth > MAX_DEPTH) return -1;
    if (this.length + TOKEN_ROOM > this.bytes.length) this.#room(TOKEN_ROOM);
    this.bytes[this.length++] = OPEN_BRACE;
    let at = this.#whitespace(source, start + 1, to);
    if (at < to && source[at] === CLOSE_BRACE) {
      this.bytes[this.length++] = CLOSE_BRACE;
      return at + 1;
    }
    for (;;) {
      if (at >= to || source[at] !== QUOTE) return -1;
      at = this.#string(source, at, to);
      if (at < 0) return -1;
      at = this.#whitespace(source, at, to);
      if (at >= to || source[at] !== COLON) return -1;
      if (this.length + TOKEN_ROOM > this.bytes.length) this.#room(TOKEN_ROOM);
      this.bytes[this.length++] = COLON;
      at = this.#value(source, this.#whitespace(source, at + 1, to), to, depth);
      if (at < 0) return -1;
      at = this.#nextMember(source, at, to, CLOSE_BRACE);
      if (at < 0) return endOfContainer(at);
    }
  }

  #array(source: Uint8Array, start: number, to: number, depth: number): number {
    if (depth > MAX_DEPTH) return -1;
    if (this.length + TOKEN_ROOM > this.bytes.length) this.#room(TOKEN_ROOM);
    this.bytes[this.length++] = OPEN_BRACKET;
    let at = this.#whitespace(source, start + 1, to);
    if (at < to && source[at] === CLOSE_BRACKET) {
      this.bytes[this.length++] = CLOSE_BRACKET;
      return at + 1;
    }
    for (;;) {
      at = this.#value(source, at, to, depth);
      if (at < 0) return -1;
      at = this.#nextMember(source, at, to, CLOSE_BRACKET);
      if (at < 0) return endOfContainer(at);
    }
  }

  /**
   * After a member or element: whitespace, then a comma (written; the next one's start is returned) or
   * `close` (written; returned as -(its index + 2)), else -1.
   */
  #nextMember(source: Uint8Array, start: number, to: number, close: number): number {
    const at = this.#whitespace(source, start, to);
    if (at >= to) return -1;
    const code = source[at] as number;
    if (code !== close && code !== COMMA) return -1;
    if (this.length + TOKEN_ROOM > this.bytes.length) this.#room(TOKEN_ROOM);
    this.bytes[this.length++] = code;
    return code === close ? -(at + 2) : this.#whitespace(source, at + 1, to);
  }

  /** A string: its quotes and backslashes written escaped, the rest as it is. */
  #string(source: Uint8Array, start: number, to: number): number {
    if (this.length + TOKEN_ROOM > this.bytes.length) this.#room(TOKEN_ROOM);
    let out = this.bytes;
    let length = this.length;
    out[length++] = BACKSLASH;
    out[length++] = QUOTE;
    let at = start + 1;
    for (;;) {
      // Plain bytes are copied one for one: the loop stops where the scratch would be full, to grow it.
      let stop = at + (out.length - length - TOKEN_ROOM);
      if (stop > to) stop = to;
      let code = 0;
      while (at < stop && (code = source[at] as number) >= SPACE && code !== QUOTE && code !== BACKSLASH) {
        out[length++] = code;
        at++;
      }
      if (at >= stop && stop < to) {
        this.length = length;
        this.#room(TOKEN_ROOM + (to - at < 4096 ? to - at : 4096));
        out = this.bytes;
        continue;
      }
      if (at >= to || code < SPACE) return -1;
      if (code === QUOTE) {
        out[length++] = BACKSLASH;
        out[length++] = QUOTE;
        this.length = length;
        return at + 1;
      }
      // An escape sequence: its backslash doubled, its other characters (all printable ASCII) as they are.
      const next = skipEscape(source, at, to);
      if (next < 0) return -1;
      out[length++] = BACKSLASH;
      out[length++] = BACKSLASH;
      if (source[at + 1] === QUOTE || source[at + 1] === BACKSLASH) out[length++] = BACKSLASH;
      for (let index = at + 1; index < next; index++) out[length++] = source[index] as number;
      at = next;
    }
  }

  /** Skips JSON whitespace, writing each as its escape (Go's encoder writes none; other writers may). */
  #whitespace(source: Uint8Array, start: number, to: number): number {
    let at = start;
    while (at < to && (source[at] as number) <= SPACE) {
      const code = source[at] as number;
      const escaped = code === SPACE ? SPACE : (WHITESPACE_ESCAPE[code] as number);
      if (escaped === 0) return at;
      this.#room(2);
      if (code !== SPACE) this.bytes[this.length++] = BACKSLASH;
      this.bytes[this.length++] = escaped;
      at++;
    }
    return at;
  }
}
