// AssemblyScript, compiled to src/pipeline/json-scan.wasm by `npm run build:wasm` (README: design notes).
// The validating scan of src/pipeline/json-scan.ts's ObjectScan, the Elasticsearch encoder's per-line hot path:
// checks that a line is one JSON object (RFC 8259, as strictly as JSON.parse), notes its top-level members,
// their own members and the nested keys with dots, tells which of those keys are ones the caller asked about,
// and writes the stringified members' values (the request
// and response bodies) as JSON strings, in one pass. The inner loops of strings go 16 bytes at a time (SIMD):
// a string's bytes are most of a line, and V8's byte loops top out at ~0.7 ns a byte where these take ~0.1.
// Sound, not complete: 1 means JSON.parse accepts the text; 0 means invalid, or beyond what this tracks
// (deeper than MAX_DEPTH, more members than the lists hold), which the caller leaves to JSON.parse.
// UTF-8 validity is the caller's check. Memory is laid out once, at fixed addresses, and never grows, so the
// caller's views of it stay valid; every offset it reports is relative to the line's first byte.

// What the caller reads and writes, in this order from LAYOUT (see ObjectScan in src/pipeline/json-scan.ts);
// the exported addresses are immutable globals. The caller writes a line at INPUT, then calls scan().
const LAYOUT: i32 = 65536;
/** i32s per member (KEY_START, KEY_END, VALUE_START, VALUE_END, KEY_ID, FLAGS...) and per child (...KEY_ID). */
export const MEMBER_FIELDS: i32 = 10;
export const CHILD_FIELDS: i32 = 5;
/** i32 results: members, children and dotted keys written (i32s), string bytes written, object start, end. */
export const HEADER: i32 = LAYOUT;
const HEADER_BYTES: i32 = 64;
/** Stringified keys: a length byte and up to KEY_BYTES bytes each, MAX_KEYS of them. */
const KEYS: i32 = HEADER + HEADER_BYTES;
const MAX_KEYS: i32 = 8;
const KEY_BYTES: i32 = 63;
/**
 * Known keys, which the caller looks for among members and children (found by id, not by comparing bytes in
 * JS): a slot of KEY_BYTES + 1 bytes each (no length byte: a key is found by its length), then per length the
 * first id of that length (-1: none), then each id's next one of the same length.
 */
const KNOWN: i32 = KEYS + MAX_KEYS * (KEY_BYTES + 1);
export const MAX_KNOWN: i32 = 64;
const KNOWN_BY_LENGTH: i32 = KNOWN + MAX_KNOWN * (KEY_BYTES + 1);
const KNOWN_NEXT: i32 = KNOWN_BY_LENGTH + (KEY_BYTES + 1) * 4;
/** The longest line this scans; SLACK more bytes can be read past a line's end (and are masked off). */
export const MAX_LINE: i32 = 1024 * 1024;
export const SLACK: i32 = 64;
/**
 * List capacities (i32s) for the most a MAX_LINE line can have: a member takes at least 5 bytes ('"":0,'), a
 * dotted key 6. Resident memory is what lines reach; the rest is address space.
 */
export const MEMBERS: i32 = KNOWN_NEXT + MAX_KNOWN * 4;
const MEMBER_CAPACITY: i32 = (MAX_LINE / 4) * MEMBER_FIELDS;
export const CHILDREN: i32 = MEMBERS + MEMBER_CAPACITY * 4;
const CHILD_CAPACITY: i32 = (MAX_LINE / 4) * CHILD_FIELDS;
export const DOTTED: i32 = CHILDREN + CHILD_CAPACITY * 4;
const DOTTED_CAPACITY: i32 = (MAX_LINE / 4) * 2;
export const INPUT: i32 = DOTTED + DOTTED_CAPACITY * 4;
export const STRINGS: i32 = INPUT + MAX_LINE + SLACK;
/** Each byte of a value becomes at most 2 in its JSON string (a '"' is '\"'), plus 2 quotes per string. */
const STRINGS_CAPACITY: i32 = 2 * MAX_LINE + SLACK;
/** Where the scan's memory ends (the document writer's, wasm/bulk-document.ts, follows). */
export const SCAN_END: i32 = STRINGS + STRINGS_CAPACITY + SLACK;

const MAX_DEPTH: i32 = 256;

// Member flags and fields: the same numbers as src/pipeline/json-scan.ts exports.
export const KEY_UNUSUAL: i32 = 1;
export const NESTED_KEY_DOTTED: i32 = 2;
export const NESTED_KEY_UNDERSCORE: i32 = 4;
export const NESTED_KEY_COMPLEX: i32 = 8;
export const HAS_ESCAPE: i32 = 16;

// A key's traits.
const KEY_DOT: i32 = 1;
const KEY_UNDERSCORE: i32 = 2;
/** Empty, starting with whitespace, or with an escape. */
const KEY_COMPLEX: i32 = 4;
const KEY_ESCAPE: i32 = 8;

const SPACE: i32 = 0x20;
const QUOTE: i32 = 0x22;
const BACKSLASH: i32 = 0x5c;
const COMMA: i32 = 0x2c;
const COLON: i32 = 0x3a;
const DOT: i32 = 0x2e;
const UNDERSCORE: i32 = 0x5f;
const MINUS: i32 = 0x2d;
const PLUS: i32 = 0x2b;
const OPEN_BRACE: i32 = 0x7b;
const CLOSE_BRACE: i32 = 0x7d;
const OPEN_BRACKET: i32 = 0x5b;
const CLOSE_BRACKET: i32 = 0x5d;

// Scan state, reset by scan().
let memberCount: i32 = 0;
let childCount: i32 = 0;
let dottedCount: i32 = 0;
let stringLength: i32 = 0;
/** A list was full: the scan then answers 0 (JSON.parse takes the line). */
let overflowed: bool = false;
/** The flags of the top-level member being scanned. */
let flags: i32 = 0;
/** Escapes seen so far: a string's scan tells whether it had one without returning two values. */
let escapes: i32 = 0;
/** The traits of the key skipKey() scanned last. */
let keyTraits: i32 = 0;
let keyCount: i32 = 0;
/** Whether the children of the top-level member being scanned get ids: only a known member's do. */
let childKeysTold: bool = false;
let knownCount: i32 = 0;

memory.grow((SCAN_END + 0xffff) / 0x10000 - memory.size());
// No known key of any length yet (-1 ids).
memory.fill(KNOWN_BY_LENGTH, 0xff, (KEY_BYTES + 1) * 4);

/** Adds a known key, whose bytes the caller wrote at INPUT: its id (0, 1...), or -1 when there is no room. */
export function addKnownKey(length: i32): i32 {
  if (knownCount === MAX_KNOWN || length > KEY_BYTES) return -1;
  const id = knownCount++;
  memory.copy(KNOWN + id * (KEY_BYTES + 1), INPUT, length);
  const first = KNOWN_BY_LENGTH + length * 4;
  store<i32>(KNOWN_NEXT + id * 4, load<i32>(first));
  store<i32>(first, id);
  return id;
}

/** The id of the known key whose text is at [start, end) (a key without escapes), or -1. */
function knownKeyId(start: i32, end: i32): i32 {
  const length = end - start;
  if (length > KEY_BYTES) return -1;
  let id = load<i32>(KNOWN_BY_LENGTH + length * 4);
  while (id >= 0 && !isSameKey(KNOWN + id * (KEY_BYTES + 1), INPUT + start, length))
    id = load<i32>(KNOWN_NEXT + id * 4);
  return id;
}

/**
 * Whether `length` bytes at `key` (a known key's slot, zeros after its end) and at `text` are the same, 8 at a
 * time: a slot has room for the last 8, and a line has SLACK bytes after it.
 */
function isSameKey(key: i32, text: i32, length: i32): bool {
  let at = 0;
  for (; at + 8 <= length; at += 8) if (load<u64>(key + at) !== load<u64>(text + at)) return false;
  const rest = length - at;
  if (rest === 0) return true;
  const mask: u64 = ((<u64>1) << (<u64>rest * 8)) - 1;
  return ((load<u64>(key + at) ^ load<u64>(text + at)) & mask) === 0;
}

/** The id of the key skipKey() scanned last, at [keyStart, keyEnd) with its quotes, or -1. */
function lastKeyId(keyStart: i32, keyEnd: i32): i32 {
  // An escape makes the key's text differ from its value: such a key is no known key's (the caller checks).
  return (keyTraits & KEY_ESCAPE) !== 0 ? -1 : knownKeyId(keyStart + 1, keyEnd - 1);
}

/** Adds a stringified key, whose bytes the caller wrote at input(); false when there is no room for it. */
export function addStringifiedKey(length: i32): bool {
  if (keyCount === MAX_KEYS || length > KEY_BYTES) return false;
  const at = KEYS + keyCount * (KEY_BYTES + 1);
  store<u8>(at, <u8>length);
  memory.copy(at + 1, INPUT, length);
  keyCount++;
  return true;
}

/** Scans the line of `length` bytes at input(): 1 when it is one JSON object, with whitespace around it at most. */
export function scan(length: i32): i32 {
  memberCount = 0;
  childCount = 0;
  dottedCount = 0;
  stringLength = 0;
  overflowed = false;
  const answer = scanObject(length);
  store<i32>(HEADER, memberCount);
  store<i32>(HEADER + 4, childCount);
  store<i32>(HEADER + 8, dottedCount);
  store<i32>(HEADER + 12, stringLength);
  return answer && !overflowed ? 1 : 0;
}

function scanObject(to: i32): bool {
  if (to > MAX_LINE) return false;
  let at = skipWhitespace(0, to);
  if (at >= to || byte(at) !== OPEN_BRACE) return false;
  store<i32>(HEADER + 16, at);
  const end = topObject(at, to);
  if (end < 0) return false;
  store<i32>(HEADER + 20, end);
  return skipWhitespace(end, to) === to;
}

function byte(at: i32): i32 {
  return <i32>load<u8>(INPUT + at);
}

// Recursive descent, one function per kind of value; each returns the index after what it scanned, or -1.

/** The top-level object at `start` (its '{'): notes its members. */
function topObject(start: i32, to: i32): i32 {
  let at = skipWhitespace(start + 1, to);
  if (at < to && byte(at) === CLOSE_BRACE) return at + 1;
  while (true) {
    if (at >= to || byte(at) !== QUOTE) return -1;
    const keyStart = at;
    at = skipKey(at, to);
    if (at < 0) return -1;
    const keyEnd = at;
    flags = (keyTraits & (KEY_DOT | KEY_COMPLEX)) === 0 ? 0 : KEY_UNUSUAL;
    const keyId = lastKeyId(keyStart, keyEnd);
    childKeysTold = keyId >= 0;
    const memberChildren = childCount;
    at = skipWhitespace(at, to);
    if (at >= to || byte(at) !== COLON) return -1;
    at = skipWhitespace(at + 1, to);
    const valueStart = at;
    let stringStart = -1;
    let stringEnd = -1;
    if (isStringified(keyStart + 1, keyEnd - 1)) {
      stringStart = stringLength;
      at = writeString(at, to);
      if (at < 0) return -1;
      stringEnd = stringLength;
    } else {
      at = value(at, to, 1);
      if (at < 0) return -1;
    }
    if (memberCount + MEMBER_FIELDS > MEMBER_CAPACITY) {
      overflowed = true;
      return -1;
    }
    const member = MEMBERS + memberCount * 4;
    store<i32>(member, keyStart);
    store<i32>(member, keyEnd, 4);
    store<i32>(member, valueStart, 8);
    store<i32>(member, at, 12);
    store<i32>(member, keyId, 16);
    store<i32>(member, flags, 20);
    store<i32>(member, memberChildren, 24);
    // A stringified value's members are not noted: its range of children is then empty.
    store<i32>(member, childCount, 28);
    store<i32>(member, stringStart, 32);
    store<i32>(member, stringEnd, 36);
    memberCount += MEMBER_FIELDS;
    at = nextMember(at, to, CLOSE_BRACE);
    if (at < 0) return endOfContainer(at);
  }
}

/** Whether the key text at [start, end) is one of the stringified keys. */
function isStringified(start: i32, end: i32): bool {
  const length = end - start;
  for (let key = 0; key < keyCount; key++) {
    const at = KEYS + key * (KEY_BYTES + 1);
    if (<i32>load<u8>(at) === length && memory.compare(at + 1, INPUT + start, length) === 0) return true;
  }
  return false;
}

/** Any value at `start`, inside `depth` containers. */
function value(start: i32, to: i32, depth: i32): i32 {
  if (start >= to) return -1;
  const code = byte(start);
  if (code === QUOTE) {
    const before = escapes;
    const end = skipString(start, to);
    if (escapes !== before) flags |= HAS_ESCAPE;
    return end;
  }
  if (code === OPEN_BRACE) return object(start, to, depth + 1);
  if (code === OPEN_BRACKET) return array(start, to, depth + 1);
  return skipScalar(start, to);
}

/**
 * A nested object at `start`, the `depth`-th container: its keys' traits go into the member's flags, and at
 * depth 2 (a top-level member's value) its members are noted as the member's children.
 */
function object(start: i32, to: i32, depth: i32): i32 {
  if (depth > MAX_DEPTH) return -1;
  let at = skipWhitespace(start + 1, to);
  if (at < to && byte(at) === CLOSE_BRACE) return at + 1;
  while (true) {
    if (at >= to || byte(at) !== QUOTE) return -1;
    const keyStart = at;
    at = skipKey(at, to);
    if (at < 0) return -1;
    const keyEnd = at;
    const traits = keyTraits;
    const keyId = depth === 2 && childKeysTold ? lastKeyId(keyStart, keyEnd) : -1;
    if (traits !== 0) {
      if ((traits & KEY_ESCAPE) !== 0) flags |= HAS_ESCAPE;
      if ((traits & KEY_COMPLEX) !== 0) flags |= NESTED_KEY_COMPLEX;
      if ((traits & KEY_UNDERSCORE) !== 0) flags |= NESTED_KEY_UNDERSCORE;
      if ((traits & KEY_DOT) !== 0) {
        flags |= NESTED_KEY_DOTTED;
        if (dottedCount + 2 > DOTTED_CAPACITY) {
          overflowed = true;
          return -1;
        }
        store<i32>(DOTTED + dottedCount * 4, keyStart);
        store<i32>(DOTTED + dottedCount * 4, keyEnd, 4);
        dottedCount += 2;
      }
    }
    at = skipWhitespace(at, to);
    if (at >= to || byte(at) !== COLON) return -1;
    at = skipWhitespace(at + 1, to);
    const valueStart = at;
    at = value(at, to, depth);
    if (at < 0) return -1;
    if (depth === 2) {
      if (childCount + CHILD_FIELDS > CHILD_CAPACITY) {
        overflowed = true;
        return -1;
      }
      const child = CHILDREN + childCount * 4;
      store<i32>(child, keyStart);
      store<i32>(child, keyEnd, 4);
      store<i32>(child, valueStart, 8);
      store<i32>(child, at, 12);
      store<i32>(child, keyId, 16);
      childCount += CHILD_FIELDS;
    }
    at = nextMember(at, to, CLOSE_BRACE);
    if (at < 0) return endOfContainer(at);
  }
}

/** An array at `start`, the `depth`-th container. */
function array(start: i32, to: i32, depth: i32): i32 {
  if (depth > MAX_DEPTH) return -1;
  let at = skipWhitespace(start + 1, to);
  if (at < to && byte(at) === CLOSE_BRACKET) return at + 1;
  while (true) {
    at = value(at, to, depth);
    if (at < 0) return -1;
    at = nextMember(at, to, CLOSE_BRACKET);
    if (at < 0) return endOfContainer(at);
  }
}

/**
 * The index of the first byte at or after `start` that is a '"', a '\' or a control character (which no JSON
 * string holds raw), or, `withKeyBytes`, a '.' or '_' (a key's traits); `to` when there is none before it.
 * Reads 16 bytes at a time, past `to` by up to 15 (SLACK), and masks those off.
 */
function nextSpecial(start: i32, to: i32, withKeyBytes: bool): i32 {
  let at = start;
  const quotes = i8x16.splat(<i8>QUOTE);
  const backslashes = i8x16.splat(<i8>BACKSLASH);
  const spaces = i8x16.splat(<i8>SPACE);
  const dots = i8x16.splat(<i8>DOT);
  const underscores = i8x16.splat(<i8>UNDERSCORE);
  while (at < to) {
    const chunk = v128.load(INPUT + at);
    let special = v128.or(
      v128.or(i8x16.eq(chunk, quotes), i8x16.eq(chunk, backslashes)),
      i8x16.lt_u(chunk, spaces),
    );
    if (withKeyBytes)
      special = v128.or(special, v128.or(i8x16.eq(chunk, dots), i8x16.eq(chunk, underscores)));
    let mask = i8x16.bitmask(special);
    const left = to - at;
    if (left < 16) mask |= 0xffff << left;
    if (mask !== 0) return at + ctz(mask);
    at += 16;
  }
  return to;
}

/** The index after the string that opens at `start`, or -1 when it is not a valid JSON string. */
export function skipString(start: i32, to: i32): i32 {
  let at = start + 1;
  while (true) {
    at = nextSpecial(at, to, false);
    if (at >= to) return -1;
    const code = byte(at);
    if (code === QUOTE) return at + 1;
    if (code !== BACKSLASH) return -1;
    escapes++;
    at = skipEscape(at, to);
    if (at < 0) return -1;
  }
}

/** skipString() for a key, which also notes the key's traits (KEY_DOT...) in keyTraits. */
function skipKey(start: i32, to: i32): i32 {
  let at = start + 1;
  if (at >= to) return -1;
  const first = byte(at);
  let traits = isJsonWhitespace(first) || first === QUOTE ? KEY_COMPLEX : 0;
  while (true) {
    at = nextSpecial(at, to, true);
    if (at >= to) return -1;
    const code = byte(at);
    if (code === QUOTE) {
      keyTraits = traits;
      return at + 1;
    }
    if (code === DOT) traits |= KEY_DOT;
    else if (code === UNDERSCORE) traits |= KEY_UNDERSCORE;
    else if (code === BACKSLASH) {
      traits |= KEY_COMPLEX | KEY_ESCAPE;
      at = skipEscape(at, to);
      if (at < 0) return -1;
      continue;
    } else return -1;
    at++;
  }
}

/**
 * What follows a container's member (or element) that ends at `start`: whitespace, then a comma and the
 * next one's start (returned), or `close`, the container's end (returned as -(its index + 2): see
 * endOfContainer). -1: neither.
 */
function nextMember(start: i32, to: i32, close: i32): i32 {
  const at = skipWhitespace(start, to);
  if (at >= to) return -1;
  const code = byte(at);
  if (code === close) return -(at + 2);
  if (code !== COMMA) return -1;
  return skipWhitespace(at + 1, to);
}

/** A container's result from nextMember()'s negative answer: the index after its close, or -1. */
function endOfContainer(answer: i32): i32 {
  return answer === -1 ? -1 : -answer - 1;
}

export function skipWhitespace(start: i32, to: i32): i32 {
  let at = start;
  // All four are at most ' ': one comparison passes the usual non-whitespace byte.
  while (at < to && byte(at) <= SPACE && isJsonWhitespace(byte(at))) at++;
  return at;
}

function isJsonWhitespace(code: i32): bool {
  return code === 0x20 || code === 0x0a || code === 0x0d || code === 0x09;
}

/** The index after the escape sequence at `at` (a '\'), or -1 when it is not a valid one. */
function skipEscape(at: i32, to: i32): i32 {
  if (at + 1 >= to) return -1;
  const escaped = byte(at + 1);
  if (
    escaped === QUOTE ||
    escaped === BACKSLASH ||
    escaped === 0x2f ||
    escaped === 0x62 ||
    escaped === 0x66 ||
    escaped === 0x6e ||
    escaped === 0x72 ||
    escaped === 0x74
  )
    return at + 2;
  if (
    escaped === 0x75 &&
    at + 5 < to &&
    isHex(byte(at + 2)) &&
    isHex(byte(at + 3)) &&
    isHex(byte(at + 4)) &&
    isHex(byte(at + 5))
  )
    return at + 6;
  return -1;
}

function isHex(code: i32): bool {
  return (code >= 0x30 && code <= 0x39) || ((code | 0x20) >= 0x61 && (code | 0x20) <= 0x66);
}

/** The index after the number, true, false or null at `start`, or -1. */
function skipScalar(start: i32, to: i32): i32 {
  const code = byte(start);
  // 'true', 'fals', 'null' as little-endian words; 'false' has its 'e' checked apart.
  if (code === 0x74) return start + 4 <= to && load<u32>(INPUT + start) === 0x65757274 ? start + 4 : -1;
  if (code === 0x66)
    return start + 5 <= to && load<u32>(INPUT + start) === 0x736c6166 && byte(start + 4) === 0x65
      ? start + 5
      : -1;
  if (code === 0x6e) return start + 4 <= to && load<u32>(INPUT + start) === 0x6c6c756e ? start + 4 : -1;
  return skipNumber(start, to);
}

/** -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)? */
function skipNumber(start: i32, to: i32): i32 {
  let at = start;
  if (byte(at) === MINUS) at++;
  if (at >= to) return -1;
  if (byte(at) === 0x30) at++;
  else if (isDigit(byte(at))) at = skipDigits(at, to);
  else return -1;
  if (at < to && byte(at) === DOT) {
    if (at + 1 >= to || !isDigit(byte(at + 1))) return -1;
    at = skipDigits(at + 1, to);
  }
  if (at < to && (byte(at) | 0x20) === 0x65) {
    at++;
    if (at < to && (byte(at) === PLUS || byte(at) === MINUS)) at++;
    if (at >= to || !isDigit(byte(at))) return -1;
    at = skipDigits(at, to);
  }
  return at;
}

function skipDigits(start: i32, to: i32): i32 {
  let at = start;
  while (at < to && isDigit(byte(at))) at++;
  return at;
}

function isDigit(code: i32): bool {
  return <u32>(code - 0x30) <= 9;
}

// The stringified values: validated as above and, in the same pass, written as the JSON string of their text
// at STRINGS + stringLength. Bodies are most of a large event's bytes: one pass instead of two.

function put(code: i32): void {
  store<u8>(STRINGS + stringLength, <u8>code);
  stringLength++;
}

/** Writes the value at `start` as a JSON string; the index after the value, or -1 when it is not valid JSON. */
function writeString(start: i32, to: i32): i32 {
  put(QUOTE);
  // Depth 1: the value is a member of the line's object, as for value().
  const end = writeValue(start, to, 1);
  if (end < 0) return -1;
  put(QUOTE);
  return end;
}

function writeValue(start: i32, to: i32, depth: i32): i32 {
  if (start >= to) return -1;
  const code = byte(start);
  if (code === QUOTE) return writeStringValue(start, to);
  if (code === OPEN_BRACE) return writeObject(start, to, depth + 1);
  if (code === OPEN_BRACKET) return writeArray(start, to, depth + 1);
  const end = skipScalar(start, to);
  if (end < 0) return -1;
  memory.copy(STRINGS + stringLength, INPUT + start, end - start);
  stringLength += end - start;
  return end;
}

function writeObject(start: i32, to: i32, depth: i32): i32 {
  if (depth > MAX_DEPTH) return -1;
  put(OPEN_BRACE);
  let at = writeWhitespace(start + 1, to);
  if (at < to && byte(at) === CLOSE_BRACE) {
    put(CLOSE_BRACE);
    return at + 1;
  }
  while (true) {
    if (at >= to || byte(at) !== QUOTE) return -1;
    at = writeStringValue(at, to);
    if (at < 0) return -1;
    at = writeWhitespace(at, to);
    if (at >= to || byte(at) !== COLON) return -1;
    put(COLON);
    at = writeValue(writeWhitespace(at + 1, to), to, depth);
    if (at < 0) return -1;
    at = writeNextMember(at, to, CLOSE_BRACE);
    if (at < 0) return endOfContainer(at);
  }
}

function writeArray(start: i32, to: i32, depth: i32): i32 {
  if (depth > MAX_DEPTH) return -1;
  put(OPEN_BRACKET);
  let at = writeWhitespace(start + 1, to);
  if (at < to && byte(at) === CLOSE_BRACKET) {
    put(CLOSE_BRACKET);
    return at + 1;
  }
  while (true) {
    at = writeValue(at, to, depth);
    if (at < 0) return -1;
    at = writeNextMember(at, to, CLOSE_BRACKET);
    if (at < 0) return endOfContainer(at);
  }
}

/** nextMember(), writing the comma or `close` it passes. */
function writeNextMember(start: i32, to: i32, close: i32): i32 {
  const at = writeWhitespace(start, to);
  if (at >= to) return -1;
  const code = byte(at);
  if (code !== close && code !== COMMA) return -1;
  put(code);
  return code === close ? -(at + 2) : writeWhitespace(at + 1, to);
}

/**
 * A string inside a stringified value: its quotes and backslashes written escaped, the rest as it is, 16 bytes
 * at a time (each chunk is stored whole, then the length moves past its plain bytes only).
 */
function writeStringValue(start: i32, to: i32): i32 {
  put(BACKSLASH);
  put(QUOTE);
  let at = start + 1;
  const quotes = i8x16.splat(<i8>QUOTE);
  const backslashes = i8x16.splat(<i8>BACKSLASH);
  const spaces = i8x16.splat(<i8>SPACE);
  while (true) {
    let plain: i32 = 16;
    while (plain === 16) {
      const chunk = v128.load(INPUT + at);
      v128.store(STRINGS + stringLength, chunk);
      let mask = i8x16.bitmask(
        v128.or(v128.or(i8x16.eq(chunk, quotes), i8x16.eq(chunk, backslashes)), i8x16.lt_u(chunk, spaces)),
      );
      const left = to - at;
      // at never passes `to`: a chunk's bits past it stop the loop there.
      if (left < 16) mask |= 0xffff << left;
      plain = mask === 0 ? 16 : ctz(mask);
      at += plain;
      stringLength += plain;
    }
    if (at >= to) return -1;
    const code = byte(at);
    if (code === QUOTE) {
      put(BACKSLASH);
      put(QUOTE);
      return at + 1;
    }
    if (code !== BACKSLASH) return -1;
    // An escape sequence: its backslash doubled, its other characters (all printable ASCII) as they are.
    const next = skipEscape(at, to);
    if (next < 0) return -1;
    put(BACKSLASH);
    put(BACKSLASH);
    const escaped = byte(at + 1);
    if (escaped === QUOTE || escaped === BACKSLASH) put(BACKSLASH);
    for (let index = at + 1; index < next; index++) put(byte(index));
    at = next;
  }
}

/** Skips JSON whitespace, writing each as its escape (Go's encoder writes none; other writers may). */
function writeWhitespace(start: i32, to: i32): i32 {
  let at = start;
  while (at < to) {
    const code = byte(at);
    if (code === SPACE) put(SPACE);
    else if (code === 0x09) {
      put(BACKSLASH);
      put(0x74);
    } else if (code === 0x0a) {
      put(BACKSLASH);
      put(0x6e);
    } else if (code === 0x0d) {
      put(BACKSLASH);
      put(0x72);
    } else return at;
    at++;
  }
  return at;
}
