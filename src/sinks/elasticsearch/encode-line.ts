// Encodes an audit line into its `_bulk` item straight from the line's bytes, the per-event hot path of the
// Elasticsearch sink: one validating scan finds the members, the ECS fields come from the few values they
// need, decoded alone, and kubernetes.audit is the line copied with only the bodies (as JSON strings) and
// dotted keys (dedotted) changed. The document is the one writeBulkItem writes for the event parsed from
// the same line (a test holds them equal); lines this path does not take are left to that general path.
import { isAscii, isUtf8 } from 'node:buffer';
import { eventId, eventTimestamp } from '../../pipeline/enrich.ts';
import type { AuditEvent, EventOrigin, OutEvent } from '../../pipeline/event.ts';
import {
  CHILD_FIELDS,
  CHILDREN_END,
  CHILDREN_START,
  FLAGS,
  HAS_ESCAPE,
  KEY_END,
  KEY_START,
  KEY_UNUSUAL,
  MEMBER_FIELDS,
  NESTED_KEY_COMPLEX,
  NESTED_KEY_DOTTED,
  NESTED_KEY_UNDERSCORE,
  ObjectScan,
  VALUE_END,
  VALUE_START,
} from '../../pipeline/json-scan.ts';
import type { ByteWriter } from '../../pipeline/wire-writer.ts';
import { documentId, type EsTarget, ecsJsonOpen, sanitize, targetIndexFor } from './encode.ts';

/** What the ECS fields and the event id read of an event (see ecsJsonOpen): member, and the keys read in it. */
const ECS_SOURCES: Readonly<Record<string, readonly string[] | undefined>> = {
  auditID: undefined,
  stage: undefined,
  verb: undefined,
  requestURI: undefined,
  userAgent: undefined,
  sourceIPs: undefined,
  requestReceivedTimestamp: undefined,
  stageTimestamp: undefined,
  timestamp: undefined,
  user: ['username', 'uid', 'groups'],
  impersonatedUser: ['username', 'groups'],
  objectRef: ['namespace', 'resource', 'name'],
  responseStatus: ['code'],
  annotations: ['authorization.k8s.io/decision'],
};
const BODIES = ['requestObject', 'responseObject'];
/** The audit.k8s.io Event's other fields (v1 and v1beta1): known, so that a duplicate is found by a bit. */
const OTHER_FIELDS = ['kind', 'apiVersion', 'level', 'metadata'];

interface KnownKey {
  readonly name: string;
  readonly bytes: Buffer;
  readonly bit: number;
  readonly isBody: boolean;
  readonly isEcsSource: boolean;
  /** For an object member: the keys of it that are read. */
  readonly children: readonly { readonly name: string; readonly bytes: Buffer }[] | undefined;
}

/** Known keys by length, first and last byte (then compared whole): no key is decoded to be looked up. */
const KNOWN_KEYS = new Map<number, KnownKey[]>();
[...Object.keys(ECS_SOURCES), ...BODIES, ...OTHER_FIELDS].forEach((name, index) => {
  const bytes = Buffer.from(name);
  const children = ECS_SOURCES[name]?.map((child) => ({ name: child, bytes: Buffer.from(child) }));
  const known: KnownKey = {
    name,
    bytes,
    bit: 2 ** index,
    isBody: BODIES.includes(name),
    isEcsSource: Object.hasOwn(ECS_SOURCES, name),
    children,
  };
  const bucket = keyBucket(bytes, 0, bytes.length);
  KNOWN_KEYS.set(bucket, [...(KNOWN_KEYS.get(bucket) ?? []), known]);
});

function keyBucket(bytes: Uint8Array, start: number, end: number): number {
  return (end - start) * 65536 + (bytes[start] as number) * 256 + (bytes[end - 1] as number);
}

const QUOTE = 0x22;
const UNDERSCORE = 0x5f;
const DOT = 0x2e;
const OPEN_BRACE = 0x7b;
const OPEN_BRACKET = 0x5b;

export interface LineContext {
  readonly cluster: string;
  readonly node: string;
}

/** How a member is written into kubernetes.audit. */
const COPY = 0;
const BODY = 1;
/** Copied with its dotted keys' dots made underscores, byte for byte what sanitize() does to them. */
const DEDOT_BYTES = 2;
/** Parsed and run through sanitize(): keys that need more than that (escapes, blanks, possible clashes). */
const SANITIZE = 3;

/** Reusable across lines (it keeps its scratch space); one per thread. */
export class BulkLineEncoder {
  readonly #target: EsTarget;
  readonly #context: LineContext;
  readonly #scan = new ObjectScan();
  /** How each member is written (COPY...SANITIZE), by member. */
  readonly #writes: number[] = [];
  readonly #otherKeys: string[] = [];

  constructor(target: EsTarget, context: LineContext) {
    this.#target = target;
    this.#context = context;
  }

  /**
   * Writes the line's `create` action and document ("\n"-terminated) and returns the event's timestamp; or
   * writes nothing and returns undefined when the line is for the general path: not valid UTF-8 or JSON, not
   * an object, duplicate or unusual top-level keys, bodies that are not objects, no auditID or stage.
   */
  encode(line: Buffer, origin: EventOrigin, out: ByteWriter): string | undefined {
    const ascii = isAscii(line);
    if (!ascii && !isUtf8(line)) return undefined;
    const scan = this.#scan;
    if (!scan.scan(line, 0, line.length)) return undefined;
    const encoding = ascii ? 'latin1' : 'utf8';
    const { members } = scan;
    const writes = this.#writes;
    writes.length = 0;
    const otherKeys = this.#otherKeys;
    otherKeys.length = 0;
    const audit: Record<string, unknown> = {};
    let seen = 0;
    for (let member = 0; member < members.length; member += MEMBER_FIELDS) {
      const flags = members[member + FLAGS] as number;
      if ((flags & KEY_UNUSUAL) !== 0) return undefined;
      const keyStart = (members[member + KEY_START] as number) + 1;
      const keyEnd = (members[member + KEY_END] as number) - 1;
      const valueStart = members[member + VALUE_START] as number;
      const known = knownKey(line, keyStart, keyEnd);
      if (known === undefined) {
        // Latin-1 maps bytes to characters one to one: distinct keys stay distinct, which is all this needs.
        const key = line.toString('latin1', keyStart, keyEnd);
        if (otherKeys.includes(key)) return undefined;
        otherKeys.push(key);
      } else {
        // JSON.parse keeps the last of duplicate keys and the line has both: the general path serializes.
        if ((seen & known.bit) !== 0) return undefined;
        seen |= known.bit;
        if (known.isBody) {
          const first = line[valueStart];
          // A scalar body would need its serialized form; the API server never writes one.
          if (first !== OPEN_BRACE && first !== OPEN_BRACKET) return undefined;
          writes.push(BODY);
          continue;
        }
        if (known.isEcsSource) audit[known.name] = this.#ecsSource(line, member, known, encoding);
      }
      writes.push(writeOf(flags));
    }
    if (typeof audit.auditID !== 'string' || typeof audit.stage !== 'string') return undefined;

    const { cluster, node } = this.#context;
    const parsed = audit as AuditEvent;
    const timestamp = eventTimestamp(parsed);
    const event: OutEvent = {
      audit: parsed,
      raw: '',
      id: eventId(cluster, parsed, ''),
      timestamp,
      cluster,
      node,
      origin,
    };
    out.startEvent('', line);
    out.text(
      `{"create":{"_index":${JSON.stringify(targetIndexFor(this.#target, timestamp))},"_id":${JSON.stringify(documentId(event))}}}\n${ecsJsonOpen(event, this.#target)},"kubernetes":{"audit":`,
    );
    this.#writeAudit(line, encoding, out);
    out.text('}}\n');
    return timestamp;
  }

  /** The value of an ECS source member, or for an object the object of just the keys read in it. */
  #ecsSource(line: Buffer, member: number, known: KnownKey, encoding: BufferEncoding): unknown {
    const { members, children } = this.#scan;
    const valueStart = members[member + VALUE_START] as number;
    const valueEnd = members[member + VALUE_END] as number;
    const flags = members[member + FLAGS] as number;
    if (known.children === undefined || line[valueStart] !== OPEN_BRACE) {
      return decodeValue(line, valueStart, valueEnd, flags, encoding);
    }
    // A key with an escape could spell a name read here: such a member is decoded whole.
    if ((flags & NESTED_KEY_COMPLEX) !== 0) return decodeValue(line, valueStart, valueEnd, flags, encoding);
    const picked: Record<string, unknown> = {};
    const first = members[member + CHILDREN_START] as number;
    const last = members[member + CHILDREN_END] as number;
    for (let child = first; child < last; child += CHILD_FIELDS) {
      const keyStart = (children[child + KEY_START] as number) + 1;
      const keyEnd = (children[child + KEY_END] as number) - 1;
      for (const wanted of known.children) {
        if (isSameBytes(line, keyStart, keyEnd, wanted.bytes)) {
          // The last of duplicate keys wins, as with JSON.parse.
          picked[wanted.name] = decodeValue(
            line,
            children[child + VALUE_START] as number,
            children[child + VALUE_END] as number,
            flags,
            encoding,
          );
        }
      }
    }
    return picked;
  }

  /** kubernetes.audit: the line's object with the bodies as JSON text and dotted keys dedotted. */
  #writeAudit(line: Buffer, encoding: BufferEncoding, out: ByteWriter): void {
    const { members, dottedKeys } = this.#scan;
    const writes = this.#writes;
    let copiedUpTo = this.#scan.objectStart;
    let dotted = 0;
    for (let member = 0; member < members.length; member += MEMBER_FIELDS) {
      const write = writes[member / MEMBER_FIELDS];
      const valueStart = members[member + VALUE_START] as number;
      const valueEnd = members[member + VALUE_END] as number;
      // Skip the dotted keys of members before this one.
      while (dotted < dottedKeys.length && (dottedKeys[dotted] as number) < valueStart) dotted += 2;
      if (write === BODY) {
        out.raw(copiedUpTo, (members[member + KEY_END] as number) - 1);
        out.text('Json":');
        out.rawAsJsonString(valueStart, valueEnd);
        copiedUpTo = valueEnd;
      } else if (write === DEDOT_BYTES) {
        for (; dotted < dottedKeys.length && (dottedKeys[dotted] as number) < valueEnd; dotted += 2) {
          const keyStart = dottedKeys[dotted] as number;
          const keyEnd = dottedKeys[dotted + 1] as number;
          out.raw(copiedUpTo, keyStart);
          copiedUpTo = keyStart;
          for (
            let at = line.indexOf(DOT, keyStart);
            at !== -1 && at < keyEnd;
            at = line.indexOf(DOT, at + 1)
          ) {
            out.raw(copiedUpTo, at);
            out.byte(UNDERSCORE);
            copiedUpTo = at + 1;
          }
        }
      } else if (write === SANITIZE) {
        const value = JSON.parse(line.toString(encoding, valueStart, valueEnd)) as unknown;
        const clean = sanitize(value);
        if (clean !== value) {
          out.raw(copiedUpTo, valueStart);
          out.text(JSON.stringify(clean));
          copiedUpTo = valueEnd;
        }
      }
    }
    out.raw(copiedUpTo, this.#scan.objectEnd);
  }
}

/**
 * How a member's keys are made acceptable to Elasticsearch. Dedotting bytes is exact when no key has more
 * than dots to change and no key has an underscore, which a dedotted key could then clash with (sanitize()
 * renames the second of two such keys; that case is left to it).
 */
function writeOf(flags: number): number {
  if ((flags & NESTED_KEY_COMPLEX) !== 0) return SANITIZE;
  if ((flags & NESTED_KEY_DOTTED) === 0) return COPY;
  return (flags & NESTED_KEY_UNDERSCORE) === 0 ? DEDOT_BYTES : SANITIZE;
}

function knownKey(line: Buffer, keyStart: number, keyEnd: number): KnownKey | undefined {
  if (keyEnd <= keyStart) return undefined;
  const candidates = KNOWN_KEYS.get(keyBucket(line, keyStart, keyEnd));
  if (candidates === undefined) return undefined;
  for (const known of candidates) if (isSameBytes(line, keyStart, keyEnd, known.bytes)) return known;
  return undefined;
}

/** Whether line[start, end) holds `bytes` (short keys: a loop beats a native call). */
function isSameBytes(line: Buffer, start: number, end: number, bytes: Buffer): boolean {
  if (end - start !== bytes.length) return false;
  for (let index = 0; index < bytes.length; index++) if (line[start + index] !== bytes[index]) return false;
  return true;
}

/** A string without escapes is its text; anything else is parsed (small: a child or a scalar member). */
function decodeValue(
  line: Buffer,
  start: number,
  end: number,
  flags: number,
  encoding: BufferEncoding,
): unknown {
  if (line[start] === QUOTE && (flags & HAS_ESCAPE) === 0) return line.toString(encoding, start + 1, end - 1);
  return JSON.parse(line.toString(encoding, start, end)) as unknown;
}
