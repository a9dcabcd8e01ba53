// AssemblyScript, compiled with the scan (wasm/index.ts) into src/pipeline/json-scan.wasm. Writes the
// Elasticsearch `_bulk` item of the line scan() has just scanned, reading only the scan's records: the same
// bytes BulkLineEncoder (src/sinks/elasticsearch/encode-line.ts) writes, with none of its ~40 small copies
// and calls per event crossing into JS. It takes the usual line only and declines (0) the rest, which the JS
// encoder then writes: escapes in the fields it reads as values, non-IPv4 sourceIPs, a duration over two
// days, keys sanitize() must rename. The text every document has is the caller's (setText), so it is
// defined once, in JS; the event id (a SHA-256, crypto's) is the caller's too: this writes the identity it
// hashes and leaves ID_LENGTH bytes for it at two places.
import {
  CHILD_FIELDS,
  CHILDREN,
  DOTTED,
  HEADER,
  INPUT,
  KEY_UNUSUAL,
  MAX_KNOWN,
  MEMBER_FIELDS,
  MEMBERS,
  NESTED_KEY_COMPLEX,
  NESTED_KEY_DOTTED,
  NESTED_KEY_UNDERSCORE,
  SCAN_END,
  scan,
  skipString,
  skipWhitespace,
  SLACK,
  STRINGS,
} from './json-scan';

// Fields of the ECS part, as in encode-line.ts (AUDIT_ID...DECISION).
const AUDIT_ID: i32 = 0;
const STAGE: i32 = 1;
const VERB: i32 = 2;
const REQUEST_URI: i32 = 3;
const USER_AGENT: i32 = 4;
const SOURCE_IPS: i32 = 5;
const RECEIVED_AT: i32 = 6;
const STAGE_AT: i32 = 7;
const LEGACY_TIMESTAMP: i32 = 8;
const USERNAME: i32 = 9;
const UID: i32 = 10;
const GROUPS: i32 = 11;
const IMPERSONATED_USERNAME: i32 = 12;
const IMPERSONATED_GROUPS: i32 = 13;
const NAMESPACE: i32 = 14;
const RESOURCE: i32 = 15;
const NAME: i32 = 16;
const CODE: i32 = 17;
const DECISION: i32 = 18;
const FIELD_COUNT: i32 = 19;

/** A known key's role as a top-level member (setMemberRole): a field (0...FIELD_COUNT-1) or one of these. */
export const ROLE_NONE: i32 = -1;
export const ROLE_BODY: i32 = 64;
export const ROLE_OBJECT: i32 = 65;
export const ROLE_OTHER: i32 = 66;

// The caller's texts (setText), by id; exported, so that the caller finds each id by its name.
export const ACTION_OPEN: i32 = 0;
export const ACTION_END_TIMESTAMP: i32 = 1;
export const MESSAGE_OPEN: i32 = 2;
export const UNKNOWN: i32 = 3;
export const AS: i32 = 4;
export const SPACE_TEXT: i32 = 5;
export const QUESTION_MARK: i32 = 6;
export const STAGE_OPEN: i32 = 7;
export const STAGE_CLOSE_TO_EVENT_TYPE: i32 = 8;
export const ARROW: i32 = 9;
export const QUOTE_TO_EVENT_TYPE: i32 = 10;
export const ACTION: i32 = 11;
export const QUOTE_TEXT: i32 = 12;
export const DURATION: i32 = 13;
export const CLOSE_OBJECT: i32 = 14;
export const USER_OPEN: i32 = 15;
export const NAME_KEY: i32 = 16;
export const ID_KEY: i32 = 17;
export const GROUP_OPEN: i32 = 18;
export const EFFECTIVE_OPEN: i32 = 19;
export const SOURCE_OPEN: i32 = 20;
export const STRING_CLOSE_OBJECT: i32 = 21;
export const RELATED_OPEN: i32 = 22;
export const IP_OPEN: i32 = 23;
export const STRING_SEPARATOR: i32 = 24;
export const STRING_CLOSE_ARRAY: i32 = 25;
export const USER_ARRAY_OPEN: i32 = 26;
export const COMMA_USER_ARRAY_OPEN: i32 = 27;
export const COMMA_TEXT: i32 = 28;
export const CLOSE_ARRAY: i32 = 29;
export const USER_AGENT_OPEN: i32 = 30;
export const ORCHESTRATOR_OPEN: i32 = 31;
export const NAMESPACE_KEY: i32 = 32;
export const RESOURCE_OPEN: i32 = 33;
export const TYPE_KEY: i32 = 34;
export const ORCHESTRATOR_END_TO_OFFSET: i32 = 35;
export const AUDIT_OPEN: i32 = 36;
export const JSON_KEY_END: i32 = 37;
export const DOCUMENT_END: i32 = 38;
export const REQUEST_RECEIVED: i32 = 39;
export const IDENTITY_PREFIX: i32 = 40;
export const VALID_DAY: i32 = 41;
export const ALLOW: i32 = 42;
export const FORBID: i32 = 43;
/** event.outcome to event.id's value, by outcome: success, failure, unknown. */
export const OUTCOME_TO_ID: i32 = 44;
const SUCCESS: i32 = 0;
const FAILURE: i32 = 1;
const OUTCOME_UNKNOWN: i32 = 2;
/** The typed verbs' JSON texts (setVerbCount of them), then event.type's JSON by verb and decision. */
export const VERBS: i32 = 47;
const MAX_TEXTS: i32 = 128;
/** The file texts of a run's files (RUN_FILES holds these ids): the last MAX_RUN_FILES text ids. */
export const MAX_RUN_FILES: i32 = 32;
export const RUN_FILE_TEXTS: i32 = MAX_TEXTS - MAX_RUN_FILES;
const TEXT_BYTES: i32 = 16 * 1024;

/** The event id's length: the caller writes it at ID_AT and ID_AT_2. */
const ID_LENGTH: i32 = 32;
/** The most distinct sourceIPs entries this writes (the API server writes one, or a proxy chain's few). */
const MAX_PLAIN_IPS: i32 = 16;
/** The most top-level members (encode-line.ts's MAX_MEMBERS). */
const MAX_MEMBERS: i32 = 64;
/**
 * The longest line this writes: larger events are rare, and what the JS encoder spends on one is little
 * beside its bytes, while every page of OUTPUT a document reaches stays resident.
 */
const MAX_WRITTEN_LINE: i32 = 64 * 1024;
/** Up to this many bytes, append() copies in a loop. */
const SHORT_COPY: i32 = 64;
/** "YYYY-MM-DD" */
const DATE_LENGTH: i32 = 10;

// Results for the caller, i32s at DOCUMENT_HEADER (see BulkDocument in bulk-document.ts).
const ID_AT: i32 = 0;
const ID_AT_2: i32 = 4;
const IDENTITY_LENGTH: i32 = 8;
const TIME_START: i32 = 12;
const TIME_END: i32 = 16;
/** Why writeDocument() declined: NEEDS_DAY asks the caller whether a day is valid (Date.parse's rules). */
const DECLINED: i32 = 20;
const NEEDS_DAY: i32 = 1;
/** Where the day it asks about starts in the line. */
const DAY_AT: i32 = 24;
// writeRun()'s results besides RUN_RESULTS: the run's line with the earliest time (-1: none), and whether
// it stopped for room (else at a line it declines, or the end).
const RUN_OLDEST: i32 = 32;
const RUN_FULL: i32 = 36;

// Memory after the scan's: laid out once; the caller reads the regions at the exported addresses.
export const DOCUMENT_HEADER: i32 = SCAN_END;
/** Where the caller writes a text before setText() (not INPUT: the scanned line may be there still). */
export const TEXT_INPUT: i32 = DOCUMENT_HEADER + 64;
const TEXT_TABLE: i32 = TEXT_INPUT + TEXT_BYTES;
const TEXT_AREA: i32 = TEXT_TABLE + MAX_TEXTS * 12;
/** Per known key: its role as a top-level member; then per known key, per known key, a child's field. */
const ROLES: i32 = TEXT_AREA + TEXT_BYTES;
const CHILD_TABLE: i32 = ROLES + MAX_KNOWN * 4;
const SPANS: i32 = CHILD_TABLE + MAX_KNOWN * MAX_KNOWN;
const WRITES: i32 = SPANS + FIELD_COUNT * 8;
const IP_SPANS: i32 = WRITES + MAX_MEMBERS;
/** The identities writeDocument() and writeRun() write, one after the other. */
export const IDENTITY: i32 = IP_SPANS + MAX_PLAIN_IPS * 8;
const IDENTITY_CAPACITY: i32 = 256 * 1024;
/** A run's lines, which the caller copies here, and its line table (see writeRun). */
export const RUN_LINES: i32 = IDENTITY + IDENTITY_CAPACITY;
export const RUN_BYTES: i32 = 256 * 1024;
export const MAX_RUN: i32 = 1024;
export const RUN_ENDS: i32 = RUN_LINES + RUN_BYTES + SLACK;
export const RUN_FILES: i32 = RUN_ENDS + MAX_RUN * 4;
export const RUN_OFFSETS: i32 = RUN_FILES + MAX_RUN * 4;
/** Per line of a run: RESULT_FIELDS i32s (document end, id gaps, identity, time; see writeRun). */
export const RUN_RESULTS: i32 = RUN_OFFSETS + MAX_RUN * 8;
export const RESULT_FIELDS: i32 = 8;
export const OUTPUT: i32 = RUN_RESULTS + MAX_RUN * RESULT_FIELDS * 4;
/**
 * No field is copied more than 3 times (the user's name: message, user.name, related.user) and the audit
 * copy at most doubles a line (stringified bodies): 8 times a line and the texts bound a document. A run
 * writes documents until the next line might not fit.
 */
const OUTPUT_CAPACITY: i32 = 8 * MAX_WRITTEN_LINE + 4 * TEXT_BYTES + 512 * 1024;
const DOCUMENT_END_ADDRESS: i32 = OUTPUT + OUTPUT_CAPACITY + SLACK;

// How a member is written into kubernetes.audit (encode-line.ts's COPY...).
const COPY: u8 = 0;
const BODY: u8 = 1;
const DEDOT_BYTES: u8 = 2;

const QUOTE: i32 = 0x22;
const BACKSLASH: i32 = 0x5c;
const COMMA: i32 = 0x2c;
const DOT: i32 = 0x2e;
const UNDERSCORE: i32 = 0x5f;
const OPEN_BRACE: i32 = 0x7b;
const OPEN_BRACKET: i32 = 0x5b;
const CLOSE_BRACKET: i32 = 0x5d;
const MINUS: i32 = 0x2d;

/**
 * isIP() of the text at INPUT [start, end) (4, 6, or 0 for none): the caller's, for what is not plain IPv4.
 * Imported as bulk-document.isIP (a declared function's module is its file's name).
 */
declare function isIP(start: i32, end: i32): i32;

let textUsed: i32 = 0;
let verbCount: i32 = 0;
/** The next byte to write at. */
let out: i32 = OUTPUT;
/** Where the next identity goes. */
let identityAt: i32 = IDENTITY;
/** The text from orchestrator's end to log.offset's value for the line's file. */
let fileText: i32 = ORCHESTRATOR_END_TO_OFFSET;
// What writeOne() notes of the document it wrote: its id gaps (from OUTPUT), identity (from IDENTITY) and
// time's text (in the line).
let idAt: i32 = 0;
let idAt2: i32 = 0;
let identityStart: i32 = 0;
let identityLength: i32 = 0;
let timeStart: i32 = 0;
let timeEnd: i32 = 0;

memory.grow((DOCUMENT_END_ADDRESS + 0xffff) / 0x10000 - memory.size());
memory.fill(ROLES, 0xff, MAX_KNOWN * 4 + MAX_KNOWN * MAX_KNOWN);

/** Sets text `id` to the `length` bytes the caller wrote at TEXT_INPUT; false when there is no room left. */
export function setText(id: i32, length: i32): bool {
  if (id < 0 || id >= MAX_TEXTS || length > TEXT_BYTES) return false;
  const entry = TEXT_TABLE + id * 12;
  const slot = load<i32>(entry, 8);
  if (length > slot) {
    // A text longer than its slot (a new file's path): a new slot, with room to grow if it is not the first.
    const capacity = slot === 0 ? length : length * 2;
    if (textUsed + capacity > TEXT_BYTES) return false;
    store<i32>(entry, TEXT_AREA + textUsed);
    store<i32>(entry, capacity, 8);
    textUsed += capacity;
  }
  memory.copy(load<i32>(entry), TEXT_INPUT, length);
  store<i32>(entry, length, 4);
  return true;
}

/** How many typed verbs there are (their texts from VERBS, then event.type's 3 per verb and one more verb). */
export function setVerbCount(count: i32): void {
  verbCount = count;
}

/** The role (a field, ROLE_...) of the known key `id` as a top-level member. */
export function setMemberRole(id: i32, role: i32): void {
  store<i32>(ROLES + id * 4, role);
}

/** The field that the known key `child` is inside the object member whose known key is `parent`. */
export function setChildField(parent: i32, child: i32, field: i32): void {
  store<i8>(CHILD_TABLE + parent * MAX_KNOWN + child, <i8>field);
}

/**
 * Writes the document of the line scan() accepted (`length` bytes at INPUT, read at `offset` in its file) at
 * OUTPUT: its length, or 0 when it is the JS encoder's to write (DECLINED says NEEDS_DAY when a day's
 * validity is all it lacks).
 */
export function writeDocument(length: i32, offset: f64): i32 {
  store<i32>(DOCUMENT_HEADER + DECLINED, 0);
  out = OUTPUT;
  identityAt = IDENTITY;
  fileText = ORCHESTRATOR_END_TO_OFFSET;
  if (!writeOne(length, offset)) return 0;
  store<i32>(DOCUMENT_HEADER + ID_AT, idAt);
  store<i32>(DOCUMENT_HEADER + ID_AT_2, idAt2);
  store<i32>(DOCUMENT_HEADER + IDENTITY_LENGTH, identityLength);
  store<i32>(DOCUMENT_HEADER + TIME_START, timeStart);
  store<i32>(DOCUMENT_HEADER + TIME_END, timeEnd);
  return out - OUTPUT;
}

/**
 * Scans and writes the documents of a run of `count` lines, one after the other at OUTPUT, without a call
 * per line: the caller has copied the lines to RUN_LINES and written, per line, its end there (RUN_ENDS),
 * its file's text id (RUN_FILES) and its offset in its file (RUN_OFFSETS). Stops at the first line it does not
 * write (the caller's to write by the line) or when the next might not fit (RUN_FULL); returns that line's
 * index. Per line written, at RUN_RESULTS: its document's end, its id gaps (from OUTPUT), its identity's start
 * and length (from IDENTITY) and its time's text (in the line).
 */
export function writeRun(count: i32): i32 {
  out = OUTPUT;
  identityAt = IDENTITY;
  store<i32>(DOCUMENT_HEADER + RUN_FULL, 0);
  let oldest = -1;
  let oldestAt = 0;
  let oldestLength = 0;
  let line = 0;
  for (; line < count; line++) {
    const start = line === 0 ? 0 : load<i32>(RUN_ENDS + (line - 1) * 4);
    const length = load<i32>(RUN_ENDS + line * 4) - start;
    if (length > MAX_WRITTEN_LINE) break;
    if (
      OUTPUT + OUTPUT_CAPACITY - out < 8 * length + 4 * TEXT_BYTES ||
      IDENTITY + IDENTITY_CAPACITY - identityAt < TEXT_BYTES + length
    ) {
      store<i32>(DOCUMENT_HEADER + RUN_FULL, 1);
      break;
    }
    memory.copy(INPUT, RUN_LINES + start, length);
    if (scan(length) !== 1) break;
    fileText = load<i32>(RUN_FILES + line * 4);
    if (!writeOne(length, load<f64>(RUN_OFFSETS + line * 8))) break;
    // Times are compared as JS compares strings, UTF-16 units: byte order is that order for ASCII only.
    if (!isAscii(timeStart, timeEnd)) break;
    const result = RUN_RESULTS + line * RESULT_FIELDS * 4;
    store<i32>(result, out - OUTPUT);
    store<i32>(result, idAt, 4);
    store<i32>(result, idAt2, 8);
    store<i32>(result, identityStart, 12);
    store<i32>(result, identityLength, 16);
    store<i32>(result, timeStart, 20);
    store<i32>(result, timeEnd, 24);
    const timeAt = RUN_LINES + start + timeStart;
    if (oldest === -1 || isEarlier(timeAt, timeEnd - timeStart, oldestAt, oldestLength)) {
      oldest = line;
      oldestAt = timeAt;
      oldestLength = timeEnd - timeStart;
    }
  }
  store<i32>(DOCUMENT_HEADER + RUN_OLDEST, oldest);
  return line;
}

/** Whether line[start, end) at INPUT is ASCII. */
function isAscii(start: i32, end: i32): bool {
  for (let at = start; at < end; at++) if (byte(at) >= 0x80) return false;
  return true;
}

/** Whether the text at `at` sorts before the one at `other`, as JS's `<` sorts strings (for ASCII). */
function isEarlier(at: i32, length: i32, other: i32, otherLength: i32): bool {
  const order = memory.compare(at, other, length < otherLength ? length : otherLength);
  return order < 0 || (order === 0 && length < otherLength);
}

/** Writes the document of the line at INPUT at `out`, its identity at `identityAt`; false: declined. */
function writeOne(length: i32, offset: f64): bool {
  if (length > MAX_WRITTEN_LINE) return false;
  if (!findFields()) return false;
  if (!has(AUDIT_ID) || !has(STAGE) || escaped(AUDIT_ID) || escaped(STAGE)) return false;
  const timeField = has(STAGE_AT) ? STAGE_AT : has(RECEIVED_AT) ? RECEIVED_AT : LEGACY_TIMESTAMP;
  // No time, an empty one or one to decode: the JS encoder's.
  if (!has(timeField) || escaped(timeField) || spanEnd(timeField) - spanStart(timeField) === 2) return false;
  timeStart = spanStart(timeField) + 1;
  timeEnd = spanEnd(timeField) - 1;
  const documentStart = out;
  const identityBefore = identityAt;
  writeIdentity();
  text(ACTION_OPEN);
  idAt = out - OUTPUT;
  out += ID_LENGTH;
  text(ACTION_END_TIMESTAMP);
  fieldValue(timeField);
  if (!writeEcs(offset)) {
    out = documentStart;
    identityAt = identityBefore;
    return false;
  }
  text(AUDIT_OPEN);
  writeAudit();
  text(DOCUMENT_END);
  return true;
}

function spanStart(field: i32): i32 {
  return load<i32>(SPANS + field * 8);
}

function spanEnd(field: i32): i32 {
  return load<i32>(SPANS + field * 8, 4);
}

function has(field: i32): bool {
  return spanStart(field) !== -1;
}

/** Whether a field's text has an escape, so it is not its value's (checked where the value matters). */
function escaped(field: i32): bool {
  const end = spanEnd(field);
  for (let at = spanStart(field); at < end; at++) if (byte(at) === BACKSLASH) return true;
  return false;
}

function byte(at: i32): i32 {
  return <i32>load<u8>(INPUT + at);
}

/** Notes how each member is written and where each field is (encode-line.ts's #findFields); false: decline. */
function findFields(): bool {
  const memberCount = load<i32>(HEADER);
  if (memberCount > MAX_MEMBERS * MEMBER_FIELDS) return false;
  memory.fill(SPANS, 0xff, FIELD_COUNT * 8);
  let seen: u64 = 0;
  for (let member = 0, index = 0; member < memberCount; member += MEMBER_FIELDS, index++) {
    const record = MEMBERS + member * 4;
    const flags = load<i32>(record, 20);
    if ((flags & KEY_UNUSUAL) !== 0) return false;
    // Keys sanitize() has to rename are the JS encoder's.
    if ((flags & NESTED_KEY_COMPLEX) !== 0) return false;
    if ((flags & NESTED_KEY_DOTTED) !== 0 && (flags & NESTED_KEY_UNDERSCORE) !== 0) return false;
    store<u8>(WRITES + index, (flags & NESTED_KEY_DOTTED) !== 0 ? DEDOT_BYTES : COPY);
    const valueStart = load<i32>(record, 8);
    const keyId = load<i32>(record, 16);
    const role = keyId === -1 ? ROLE_NONE : load<i32>(ROLES + keyId * 4);
    if (role === ROLE_NONE) {
      if (isRepeatedKey(member)) return false;
      continue;
    }
    // JSON.parse keeps the last of duplicate keys: the general path's to serialize.
    const bit: u64 = (<u64>1) << (<u64>keyId);
    if ((seen & bit) !== 0) return false;
    seen |= bit;
    if (role === ROLE_BODY) {
      const first = byte(valueStart);
      if (first !== OPEN_BRACE && first !== OPEN_BRACKET) return false;
      store<u8>(WRITES + index, BODY);
    } else if (role === ROLE_OBJECT) {
      if (byte(valueStart) !== OPEN_BRACE) return false;
      const last = load<i32>(record, 28);
      for (let child = load<i32>(record, 24); child < last; child += CHILD_FIELDS) {
        const childRecord = CHILDREN + child * 4;
        const childKeyId = load<i32>(childRecord, 16);
        if (childKeyId === -1) continue;
        const field = <i32>load<i8>(CHILD_TABLE + keyId * MAX_KNOWN + childKeyId);
        if (field === -1) continue;
        if (!setField(field, load<i32>(childRecord, 8), load<i32>(childRecord, 12))) return false;
      }
    } else if (role !== ROLE_OTHER) {
      if (!setField(role, valueStart, load<i32>(record, 12))) return false;
    }
  }
  return true;
}

/** Whether an earlier member not known by id has the same key as `member` (both without escapes). */
function isRepeatedKey(member: i32): bool {
  const record = MEMBERS + member * 4;
  const start = load<i32>(record);
  const length = load<i32>(record, 4) - start;
  for (let other = 0; other < member; other += MEMBER_FIELDS) {
    const otherRecord = MEMBERS + other * 4;
    const otherStart = load<i32>(otherRecord);
    if (load<i32>(otherRecord, 4) - otherStart !== length) continue;
    if (memory.compare(INPUT + start, INPUT + otherStart, length) === 0) return true;
  }
  return false;
}

/** Notes a field's span when its value has the type the API server writes (else: decline). */
function setField(field: i32, start: i32, end: i32): bool {
  const first = byte(start);
  let fits: bool;
  if (field === SOURCE_IPS || field === GROUPS || field === IMPERSONATED_GROUPS)
    fits = isStringArray(start, end);
  else if (field === CODE) fits = first === MINUS || (first >= 0x30 && first <= 0x39);
  else fits = first === QUOTE;
  if (!fits) return false;
  store<i32>(SPANS + field * 8, start);
  store<i32>(SPANS + field * 8, end, 4);
  return true;
}

/** Whether the (valid JSON) value at [start, end) is an array of strings only. */
function isStringArray(start: i32, end: i32): bool {
  if (byte(start) !== OPEN_BRACKET) return false;
  let at = skipWhitespace(start + 1, end);
  if (byte(at) === CLOSE_BRACKET) return true;
  while (true) {
    if (byte(at) !== QUOTE) return false;
    at = skipWhitespace(skipString(at, end), end);
    if (byte(at) === CLOSE_BRACKET) return true;
    if (byte(at) !== COMMA) return false;
    at = skipWhitespace(at + 1, end);
  }
}

/** `<cluster>\0<auditID>\0<stage>` at identityAt, what eventId() hashes: both are unescaped here. */
function writeIdentity(): void {
  const prefix = TEXT_TABLE + IDENTITY_PREFIX * 12;
  const prefixLength = load<i32>(prefix, 4);
  identityStart = identityAt - IDENTITY;
  let at = identityAt;
  memory.copy(at, load<i32>(prefix), prefixLength);
  at += prefixLength;
  const auditLength = spanEnd(AUDIT_ID) - spanStart(AUDIT_ID) - 2;
  memory.copy(at, INPUT + spanStart(AUDIT_ID) + 1, auditLength);
  at += auditLength;
  store<u8>(at++, 0);
  const stageLength = spanEnd(STAGE) - spanStart(STAGE) - 2;
  memory.copy(at, INPUT + spanStart(STAGE) + 1, stageLength);
  at += stageLength;
  identityLength = at - identityAt;
  identityAt = at;
}

// Writing: each appends at `out`, which OUTPUT_CAPACITY keeps in bounds for a line of up to MAX_LINE / 8... bytes.

function text(id: i32): void {
  const entry = TEXT_TABLE + id * 12;
  const length = load<i32>(entry, 4);
  append(load<i32>(entry), length);
}

function copy(start: i32, end: i32): void {
  append(INPUT + start, end - start);
}

/**
 * Appends `length` bytes from `source`. Short ones (most of a document's pieces) go 16 bytes at a time, which
 * beats memory.copy's call; those reads and writes pass the ends by up to 15 bytes: every region has SLACK
 * after it, and what is written past `out` is written over next.
 */
function append(source: i32, length: i32): void {
  if (length > SHORT_COPY) memory.copy(out, source, length);
  else for (let at = 0; at < length; at += 16) v128.store(out + at, v128.load(source + at));
  out += length;
}

/** The field's JSON text. */
function fieldValue(field: i32): void {
  copy(spanStart(field), spanEnd(field));
}

/** The text inside a string field's quotes (that of its value in any JSON string), or text `orElse`. */
function inner(field: i32, orElse: i32): void {
  if (has(field)) copy(spanStart(field) + 1, spanEnd(field) - 1);
  else text(orElse);
}

/** Text `prefix` and the field's JSON text, when the event has the field. */
function member(prefix: i32, field: i32): void {
  if (!has(field)) return;
  text(prefix);
  fieldValue(field);
}

/** Removes the byte at `position` (a separator that turned out to lead), if anything follows it. */
function dropByte(position: i32): void {
  if (position >= out) return;
  memory.copy(position, position + 1, out - position - 1);
  out--;
}

/** A non-negative integer below 2^53 in decimal. */
function number(value: u64): void {
  let digits = 1;
  for (let bound: u64 = 10; digits < 20 && value >= bound; bound *= 10) digits++;
  let rest = value;
  for (let at = out + digits - 1; at >= out; at--) {
    store<u8>(at, <u8>(0x30 + <i32>(rest % 10)));
    rest /= 10;
  }
  out += digits;
}

/** Which of `count` texts from `first` a string field's text is (its index), or `count`; -1: escaped. */
function choice(field: i32, first: i32, count: i32): i32 {
  if (!has(field)) return count;
  if (escaped(field)) return -1;
  const start = spanStart(field);
  const length = spanEnd(field) - start;
  for (let index = 0; index < count; index++) {
    const entry = TEXT_TABLE + (first + index) * 12;
    if (load<i32>(entry, 4) === length && memory.compare(load<i32>(entry), INPUT + start, length) === 0)
      return index;
  }
  return count;
}

/** The ECS part after @timestamp (encode-line.ts's #writeEcs); false: decline. */
function writeEcs(offset: f64): bool {
  const verb = choice(VERB, VERBS, verbCount);
  const decision = choice(DECISION, ALLOW, 2);
  if (verb === -1 || decision === -1) return false;
  // responseStatus.code: plain digits (up to 15, no leading zero), whose text is what String() writes.
  let code: i64 = -1;
  if (has(CODE)) {
    const start = spanStart(CODE);
    const end = spanEnd(CODE);
    if (end - start > 15 || (byte(start) === 0x30 && end - start > 1)) return false;
    code = 0;
    for (let at = start; at < end; at++) {
      const digit = byte(at) - 0x30;
      if (digit < 0 || digit > 9) return false;
      code = code * 10 + digit;
    }
  }
  text(MESSAGE_OPEN);
  inner(USERNAME, UNKNOWN);
  if (has(IMPERSONATED_USERNAME)) {
    text(AS);
    copy(spanStart(IMPERSONATED_USERNAME) + 1, spanEnd(IMPERSONATED_USERNAME) - 1);
  }
  text(SPACE_TEXT);
  inner(VERB, QUESTION_MARK);
  text(SPACE_TEXT);
  inner(REQUEST_URI, QUESTION_MARK);
  if (code === -1) {
    text(STAGE_OPEN);
    copy(spanStart(STAGE) + 1, spanEnd(STAGE) - 1);
    text(STAGE_CLOSE_TO_EVENT_TYPE);
  } else {
    text(ARROW);
    fieldValue(CODE);
    text(QUOTE_TO_EVENT_TYPE);
  }
  text(VERBS + verbCount + verb * 3 + decision);
  member(ACTION, VERB);
  const outcome = code > 0 ? (code >= 400 ? FAILURE : SUCCESS) : decision === 1 ? FAILURE : OUTCOME_UNKNOWN;
  text(OUTCOME_TO_ID + outcome);
  idAt2 = out - OUTPUT;
  out += ID_LENGTH;
  text(QUOTE_TEXT);
  if (!isStage(REQUEST_RECEIVED) && has(RECEIVED_AT) && has(STAGE_AT)) {
    const duration = sameDayDurationNanos();
    if (duration < 0) return false;
    text(DURATION);
    number(<u64>duration);
  }
  text(CLOSE_OBJECT);
  writeUser();
  if (!writeSourceAndRelated()) return false;
  if (has(USER_AGENT)) {
    text(USER_AGENT_OPEN);
    fieldValue(USER_AGENT);
    text(CLOSE_OBJECT);
  }
  text(ORCHESTRATOR_OPEN);
  member(NAMESPACE_KEY, NAMESPACE);
  if (has(RESOURCE) || has(NAME)) {
    text(RESOURCE_OPEN);
    const first = out;
    member(TYPE_KEY, RESOURCE);
    member(NAME_KEY, NAME);
    dropByte(first);
    text(CLOSE_OBJECT);
  }
  text(fileText);
  number(<u64>offset);
  text(CLOSE_OBJECT);
  return true;
}

function writeUser(): void {
  const hasUser = has(USERNAME) || has(UID) || has(GROUPS);
  const hasEffective = has(IMPERSONATED_USERNAME) || has(IMPERSONATED_GROUPS);
  if (!hasUser && !hasEffective) return;
  // Each member below starts with ",": the object opens with the first one's comma dropped.
  text(USER_OPEN);
  const first = out;
  member(NAME_KEY, USERNAME);
  member(ID_KEY, UID);
  if (has(GROUPS)) {
    text(GROUP_OPEN);
    fieldValue(GROUPS);
    text(CLOSE_OBJECT);
  }
  if (hasEffective) {
    text(EFFECTIVE_OPEN);
    const firstEffective = out;
    member(NAME_KEY, IMPERSONATED_USERNAME);
    if (has(IMPERSONATED_GROUPS)) {
      text(GROUP_OPEN);
      fieldValue(IMPERSONATED_GROUPS);
      text(CLOSE_OBJECT);
    }
    dropByte(firstEffective);
    text(CLOSE_OBJECT);
  }
  dropByte(first);
  text(CLOSE_OBJECT);
}

/** Whether the stage field's text is text `id`. */
function isStage(id: i32): bool {
  const entry = TEXT_TABLE + id * 12;
  const length = load<i32>(entry, 4);
  return (
    spanEnd(STAGE) - spanStart(STAGE) === length &&
    memory.compare(load<i32>(entry), INPUT + spanStart(STAGE), length) === 0
  );
}

/**
 * stageTimestamp - requestReceivedTimestamp in nanoseconds when both are unescaped RFC 3339 UTC times of one
 * valid day (encode-line.ts's #sameDayDurationNanos); -1 otherwise, the JS encoder's to compute.
 */
function sameDayDurationNanos(): i64 {
  const from = spanStart(RECEIVED_AT);
  const to = spanStart(STAGE_AT);
  if (escaped(RECEIVED_AT) || escaped(STAGE_AT)) return -1;
  if (memory.compare(INPUT + from + 1, INPUT + to + 1, DATE_LENGTH) !== 0) return -1;
  const start = timeOfDayNanos(from + 1, spanEnd(RECEIVED_AT) - 1);
  const end = timeOfDayNanos(to + 1, spanEnd(STAGE_AT) - 1);
  if (start === -1 || end === -1 || end < start) return -1;
  const day = TEXT_TABLE + VALID_DAY * 12;
  if (
    load<i32>(day, 4) !== DATE_LENGTH ||
    memory.compare(load<i32>(day), INPUT + from + 1, DATE_LENGTH) !== 0
  ) {
    store<i32>(DOCUMENT_HEADER + DECLINED, NEEDS_DAY);
    store<i32>(DOCUMENT_HEADER + DAY_AT, from + 1);
    return -1;
  }
  return end - start;
}

/** Nanoseconds since midnight of YYYY-MM-DDTHH:MM:SS[.fraction]Z (1-9 digits) at [start, end), or -1. */
function timeOfDayNanos(start: i32, end: i32): i64 {
  const length = end - start;
  if (length < 20 || length > 30 || length === 21 || byte(end - 1) !== 0x5a) return -1;
  if (byte(start + 10) !== 0x54 || byte(start + 13) !== 0x3a || byte(start + 16) !== 0x3a) return -1;
  const hours = twoDigits(start + 11);
  const minutes = twoDigits(start + 14);
  const seconds = twoDigits(start + 17);
  if (hours < 0 || hours > 23 || minutes < 0 || minutes > 59 || seconds < 0 || seconds > 59) return -1;
  let fraction: i64 = 0;
  if (length > 20) {
    if (byte(start + 19) !== DOT) return -1;
    for (let at = start + 20; at < end - 1; at++) {
      const digit = byte(at) - 0x30;
      if (digit < 0 || digit > 9) return -1;
      fraction = fraction * 10 + digit;
    }
    for (let scale = length; scale < 30; scale++) fraction *= 10;
  }
  return <i64>((hours * 60 + minutes) * 60 + seconds) * 1000000000 + fraction;
}

function twoDigits(at: i32): i32 {
  const tens = byte(at) - 0x30;
  const ones = byte(at + 1) - 0x30;
  return tens < 0 || tens > 9 || ones < 0 || ones > 9 ? -1 : tens * 10 + ones;
}

/**
 * source.ip and related.ip / related.user (encode-line.ts's #writeSourceAndRelated); false: decline.
 */
function writeSourceAndRelated(): bool {
  const ipCount = uniqueIps();
  if (ipCount < 0) return false;
  if (ipCount > 0) {
    text(SOURCE_OPEN);
    copy(load<i32>(IP_SPANS), load<i32>(IP_SPANS, 4));
    text(STRING_CLOSE_OBJECT);
  }
  // related.user: the user and the impersonated user, each once, empty names left out.
  const hasUser = has(USERNAME) && spanEnd(USERNAME) - spanStart(USERNAME) !== 2;
  const hasImpersonated =
    has(IMPERSONATED_USERNAME) && spanEnd(IMPERSONATED_USERNAME) - spanStart(IMPERSONATED_USERNAME) !== 2;
  let bothUsers = hasUser && hasImpersonated;
  if (bothUsers) {
    if (escaped(USERNAME) || escaped(IMPERSONATED_USERNAME)) return false;
    bothUsers = !isSameText(
      spanStart(USERNAME),
      spanEnd(USERNAME),
      spanStart(IMPERSONATED_USERNAME),
      spanEnd(IMPERSONATED_USERNAME),
    );
  }
  if (ipCount === 0 && !hasUser && !hasImpersonated) return true;
  text(RELATED_OPEN);
  if (ipCount > 0) {
    text(IP_OPEN);
    for (let index = 0; index < ipCount; index++) {
      if (index > 0) text(STRING_SEPARATOR);
      copy(load<i32>(IP_SPANS + index * 8), load<i32>(IP_SPANS + index * 8, 4));
    }
    text(STRING_CLOSE_ARRAY);
  }
  if (hasUser || hasImpersonated) {
    text(ipCount === 0 ? USER_ARRAY_OPEN : COMMA_USER_ARRAY_OPEN);
    if (hasUser) fieldValue(USERNAME);
    if (bothUsers) text(COMMA_TEXT);
    if (hasImpersonated && (bothUsers || !hasUser)) fieldValue(IMPERSONATED_USERNAME);
    text(CLOSE_ARRAY);
  }
  text(CLOSE_OBJECT);
  return true;
}

/**
 * The valid sourceIPs entries (isIP()'s), each once, in order, at IP_SPANS: how many; -1 when an entry has an
 * escape or there are more than MAX_PLAIN_IPS.
 */
function uniqueIps(): i32 {
  if (!has(SOURCE_IPS)) return 0;
  if (escaped(SOURCE_IPS)) return -1;
  const end = spanEnd(SOURCE_IPS);
  let count = 0;
  let open = -1;
  // Without escapes, each pair of quotes holds one entry as it is.
  for (let at = spanStart(SOURCE_IPS); at < end; at++) {
    if (byte(at) !== QUOTE) continue;
    if (open === -1) {
      open = at + 1;
      continue;
    }
    const entry = open;
    open = -1;
    // The API server writes plain IPv4 addresses; the rest (IPv6, zones, blanks, junk) is isIP()'s to judge.
    if (!isIPv4Text(entry, at) && (at === entry || isIP(entry, at) === 0)) continue;
    let seen = false;
    for (let ip = 0; !seen && ip < count; ip++)
      seen = isSameText(entry, at, load<i32>(IP_SPANS + ip * 8), load<i32>(IP_SPANS + ip * 8, 4));
    if (seen) continue;
    if (count === MAX_PLAIN_IPS) return -1;
    store<i32>(IP_SPANS + count * 8, entry);
    store<i32>(IP_SPANS + count * 8, at, 4);
    count++;
  }
  return count;
}

/** Four decimal numbers of 0-255 without leading zeros, dot-separated (isIP()'s IPv4), at [start, end). */
function isIPv4Text(start: i32, end: i32): bool {
  let at = start;
  for (let part = 0; part < 4; part++) {
    if (part > 0) {
      if (at >= end || byte(at) !== DOT) return false;
      at++;
    }
    const first = at;
    let value = 0;
    while (at < end && at - first < 3) {
      const digit = byte(at) - 0x30;
      if (digit < 0 || digit > 9) break;
      value = value * 10 + digit;
      at++;
    }
    if (at === first || value > 255 || (byte(first) === 0x30 && at - first > 1)) return false;
  }
  return at === end;
}

function isSameText(start: i32, end: i32, otherStart: i32, otherEnd: i32): bool {
  return (
    end - start === otherEnd - otherStart &&
    memory.compare(INPUT + start, INPUT + otherStart, end - start) === 0
  );
}

/** kubernetes.audit: the line's object with the bodies as JSON strings and dotted keys dedotted. */
function writeAudit(): void {
  const memberCount = load<i32>(HEADER);
  let copiedUpTo = load<i32>(HEADER + 16);
  let dotted = 0;
  for (let member = 0, index = 0; member < memberCount; member += MEMBER_FIELDS, index++) {
    if (load<u8>(WRITES + index) !== BODY) continue;
    const record = MEMBERS + member * 4;
    dotted = copyDedotted(copiedUpTo, load<i32>(record, 4) - 1, dotted);
    text(JSON_KEY_END);
    // The scan wrote the body's text as a JSON string as it validated it.
    const stringStart = load<i32>(record, 32);
    const stringLength = load<i32>(record, 36) - stringStart;
    memory.copy(out, STRINGS + stringStart, stringLength);
    out += stringLength;
    copiedUpTo = load<i32>(record, 12);
  }
  copyDedotted(copiedUpTo, load<i32>(HEADER + 20), dotted);
}

/**
 * Copies line[from, to) with the dots of its dotted keys (listed in order from the `dotted`-th) made
 * underscores; the index of the first dotted key after `to`.
 */
function copyDedotted(from: i32, to: i32, dotted: i32): i32 {
  const copiedAt = out - from;
  copy(from, to);
  const dottedCount = load<i32>(HEADER + 8);
  let key = dotted;
  for (; key < dottedCount; key += 2) {
    const keyStart = load<i32>(DOTTED + key * 4);
    if (keyStart < from) continue;
    if (keyStart >= to) break;
    const keyEnd = load<i32>(DOTTED + key * 4, 4);
    for (let at = copiedAt + keyStart; at < copiedAt + keyEnd; at++)
      if (load<u8>(at) === DOT) store<u8>(at, UNDERSCORE);
  }
  return key;
}
