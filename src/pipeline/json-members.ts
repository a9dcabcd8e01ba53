// Locates the members of a JSON object's text without parsing their values, so that a sink can copy
// the original bytes of most of an event instead of re-serializing the parsed object (the per-event
// hot path: JSON.stringify of a whole event costs more than parsing it).
// Precondition: `text` is valid JSON (JSON.parse accepted it); nothing here validates.

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
const COMMA = 0x2c;

/**
 * The top-level members of the object in `text`, as flat quadruples: key start, key end (the key's
 * quoted text, quotes included), value start, value end. Undefined when `text` is not an object.
 */
export function findMembers(text: string): number[] | undefined {
  let at = skipWhitespace(text, 0);
  if (text.charCodeAt(at) !== OPEN_BRACE) return undefined;
  const members: number[] = [];
  at = skipWhitespace(text, at + 1);
  if (text.charCodeAt(at) === CLOSE_BRACE) return members;
  for (;;) {
    const keyStart = at;
    const keyEnd = endOfString(text, at);
    // Skip the ':' and the whitespace around it.
    const valueStart = skipWhitespace(text, skipWhitespace(text, keyEnd) + 1);
    const valueEnd = endOfValue(text, valueStart);
    members.push(keyStart, keyEnd, valueStart, valueEnd);
    at = skipWhitespace(text, valueEnd);
    if (text.charCodeAt(at) !== COMMA) return members;
    at = skipWhitespace(text, at + 1);
  }
}

/** The index after the string that opens at `start` (a '"'). */
function endOfString(text: string, start: number): number {
  let from = start + 1;
  for (;;) {
    const quote = text.indexOf('"', from);
    // An odd run of backslashes before it escapes the quote.
    let backslashes = 0;
    while (text.charCodeAt(quote - 1 - backslashes) === BACKSLASH) backslashes++;
    if ((backslashes & 1) === 0) return quote + 1;
    from = quote + 1;
  }
}

/** The index after the value that starts at `start`. */
function endOfValue(text: string, start: number): number {
  const first = text.charCodeAt(start);
  if (first === QUOTE) return endOfString(text, start);
  if (first === OPEN_BRACE || first === OPEN_BRACKET) {
    let depth = 0;
    for (let at = start; ; at++) {
      const code = text.charCodeAt(at);
      if (code === QUOTE) at = endOfString(text, at) - 1;
      else if (code === OPEN_BRACE || code === OPEN_BRACKET) depth++;
      else if (code === CLOSE_BRACE || code === CLOSE_BRACKET) {
        depth--;
        if (depth === 0) return at + 1;
      }
    }
  }
  // A number, true, false or null: ends at the next delimiter.
  let at = start + 1;
  for (;;) {
    const code = text.charCodeAt(at);
    if (
      code === COMMA ||
      code === CLOSE_BRACE ||
      code === CLOSE_BRACKET ||
      isJsonWhitespace(code) ||
      at >= text.length
    )
      return at;
    at++;
  }
}

function skipWhitespace(text: string, start: number): number {
  let at = start;
  while (isJsonWhitespace(text.charCodeAt(at))) at++;
  return at;
}

/** JSON's insignificant whitespace: space, tab, line feed, carriage return. */
export function isJsonWhitespace(code: number): boolean {
  return code === 0x20 || code === 0x0a || code === 0x0d || code === 0x09;
}
