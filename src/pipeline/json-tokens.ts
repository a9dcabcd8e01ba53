// JSON's tokens that need no context, shared by the scans that validate JSON text as bytes: escape
// sequences, numbers and the literals. Each returns the index after the token, or -1 when it is not one.

/** Containers nested deeper than this are left to JSON.parse (and the stack is safe). */
export const MAX_DEPTH = 256;

const MINUS = 0x2d;
const PLUS = 0x2b;
const DOT = 0x2e;

/** The characters that may follow '\' (besides 'u'). */
const SIMPLE_ESCAPE = new Uint8Array(256);
for (const char of '"\\/bfnrt') SIMPLE_ESCAPE[char.charCodeAt(0)] = 1;

const HEX = new Uint8Array(256);
for (const char of '0123456789abcdefABCDEF') HEX[char.charCodeAt(0)] = 1;

/** The index after the escape sequence at `at` (a '\\'), or -1 when it is not a valid one. */
export function skipEscape(bytes: Uint8Array, at: number, to: number): number {
  if (at + 1 >= to) return -1;
  const escaped = bytes[at + 1] as number;
  if (SIMPLE_ESCAPE[escaped] === 1) return at + 2;
  if (
    escaped === 0x75 &&
    at + 5 < to &&
    HEX[bytes[at + 2] as number] === 1 &&
    HEX[bytes[at + 3] as number] === 1 &&
    HEX[bytes[at + 4] as number] === 1 &&
    HEX[bytes[at + 5] as number] === 1
  )
    return at + 6;
  return -1;
}

/** The index after the number, true, false or null at `start`, or -1. */
export function skipScalar(bytes: Uint8Array, start: number, to: number): number {
  const code = bytes[start] as number;
  if (code === 0x74) return matches(bytes, start, to, 'true') ? start + 4 : -1;
  if (code === 0x66) return matches(bytes, start, to, 'false') ? start + 5 : -1;
  if (code === 0x6e) return matches(bytes, start, to, 'null') ? start + 4 : -1;
  return skipNumber(bytes, start, to);
}

function matches(bytes: Uint8Array, start: number, to: number, word: string): boolean {
  if (start + word.length > to) return false;
  for (let index = 1; index < word.length; index++) {
    if (bytes[start + index] !== word.charCodeAt(index)) return false;
  }
  return true;
}

/** -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)? */
function skipNumber(bytes: Uint8Array, start: number, to: number): number {
  let at = start;
  if (bytes[at] === MINUS) at++;
  if (at >= to) return -1;
  if (bytes[at] === 0x30) at++;
  else if (isDigit(bytes[at] as number)) at = skipDigits(bytes, at, to);
  else return -1;
  if (at < to && bytes[at] === DOT) {
    if (at + 1 >= to || !isDigit(bytes[at + 1] as number)) return -1;
    at = skipDigits(bytes, at + 1, to);
  }
  if (at < to && (bytes[at] === 0x65 || bytes[at] === 0x45)) {
    at++;
    if (at < to && (bytes[at] === PLUS || bytes[at] === MINUS)) at++;
    if (at >= to || !isDigit(bytes[at] as number)) return -1;
    at = skipDigits(bytes, at, to);
  }
  return at;
}

function skipDigits(bytes: Uint8Array, start: number, to: number): number {
  let at = start;
  while (at < to && isDigit(bytes[at] as number)) at++;
  return at;
}

function isDigit(code: number): boolean {
  return code >= 0x30 && code <= 0x39;
}

/**
 * A container's result from the negative answer of a scan's after-member step, which encodes the container's
 * close at index i as -(i + 2) and an error as -1: the index after the close, or -1.
 */
export function endOfContainer(answer: number): number {
  return answer === -1 ? -1 : -answer - 1;
}

/** Whether bytes[start, end) holds `expected` (short keys: a loop beats a native call). */
export function isSameBytes(bytes: Uint8Array, start: number, end: number, expected: Uint8Array): boolean {
  if (end - start !== expected.length) return false;
  for (let index = 0; index < expected.length; index++)
    if (bytes[start + index] !== expected[index]) return false;
  return true;
}
