// Encodes an audit line into its `_bulk` item straight from the line's bytes, the per-event hot path of the
// Elasticsearch sink: one validating scan finds the members, the ECS fields come from the few values they
// need, decoded alone, and kubernetes.audit is the line copied with only the bodies (as JSON strings) and
// dotted keys (dedotted) changed. The document is the one writeBulkItem writes for the event parsed from
// the same line (a test holds them equal); lines this path does not take are left to that general path.
import { isAscii, isUtf8 } from 'node:buffer';
import { isIP } from 'node:net';
import { type EnrichContext, eventId, eventIdOf } from '../../pipeline/enrich.ts';
import type { BatchInput } from '../../pipeline/batch-input.ts';
import type { EventOrigin } from '../../pipeline/event.ts';
import {
  CHILD_FIELDS,
  CHILDREN_END,
  CHILDREN_START,
  FLAGS,
  HAS_ESCAPE,
  KEY_END,
  KEY_ID,
  KEY_START,
  KEY_UNUSUAL,
  MEMBER_FIELDS,
  NESTED_KEY_COMPLEX,
  NESTED_KEY_DOTTED,
  NESTED_KEY_UNDERSCORE,
  ObjectScan,
  STRING_END,
  STRING_START,
  VALUE_END,
  VALUE_START,
} from '../../pipeline/json-scan.ts';
import type { ByteWriter } from '../../pipeline/wire-writer.ts';
import { BulkDocument, type DocumentTexts, type EventTable, type MemberRole } from './bulk-document.ts';
import { DATASET } from './dataset.ts';
import {
  durationNanos,
  ECS_VERSION,
  isParsableDay,
  type EsTarget,
  eventTypesJson,
  OUTCOMES,
  type Outcome,
  outcome,
  sanitize,
  TYPED_VERBS,
  targetIndexFor,
} from './encode.ts';

// Fields the ECS part is made of, as spans of the line (FIELD_COUNT start/end pairs in EcsSpans).
const AUDIT_ID = 0;
const STAGE = 1;
const VERB = 2;
const REQUEST_URI = 3;
const USER_AGENT = 4;
const SOURCE_IPS = 5;
const RECEIVED_AT = 6;
const STAGE_AT = 7;
const LEGACY_TIMESTAMP = 8;
const USERNAME = 9;
const UID = 10;
const GROUPS = 11;
const IMPERSONATED_USERNAME = 12;
const IMPERSONATED_GROUPS = 13;
const NAMESPACE = 14;
const RESOURCE = 15;
const NAME = 16;
const CODE = 17;
const DECISION = 18;
const FIELD_COUNT = 19;

/** The JSON type a field must have for this path (the API server's); another one is the general path's. */
const STRING = 0;
const STRING_ARRAY = 1;
const NUMBER = 2;
const FIELD_TYPES: readonly number[] = Array.from({ length: FIELD_COUNT }, (_, field) =>
  field === SOURCE_IPS || field === GROUPS || field === IMPERSONATED_GROUPS
    ? STRING_ARRAY
    : field === CODE
      ? NUMBER
      : STRING,
);

/** Top-level members the ECS fields come from: a field, or an object and the fields of its keys. */
const ECS_SOURCES: Readonly<Record<string, number | Readonly<Record<string, number>>>> = {
  auditID: AUDIT_ID,
  stage: STAGE,
  verb: VERB,
  requestURI: REQUEST_URI,
  userAgent: USER_AGENT,
  sourceIPs: SOURCE_IPS,
  requestReceivedTimestamp: RECEIVED_AT,
  stageTimestamp: STAGE_AT,
  timestamp: LEGACY_TIMESTAMP,
  user: { username: USERNAME, uid: UID, groups: GROUPS },
  impersonatedUser: { username: IMPERSONATED_USERNAME, groups: IMPERSONATED_GROUPS },
  objectRef: { namespace: NAMESPACE, resource: RESOURCE, name: NAME },
  responseStatus: { code: CODE },
  annotations: { 'authorization.k8s.io/decision': DECISION },
};
const BODIES = ['requestObject', 'responseObject'];
/** The audit.k8s.io Event's other fields (v1 and v1beta1): known, so that a duplicate is found by a bit. */
const OTHER_FIELDS = ['kind', 'apiVersion', 'level', 'metadata'];

interface KnownKey {
  readonly bit: number;
  readonly isBody: boolean;
  /** The field this member is, if it is one. */
  readonly field: number | undefined;
  /** For an object member: the field each known key (by its KEY_ID) is among its keys, -1 for none. */
  readonly childFields: Int8Array | undefined;
}

const MEMBER_NAMES = [...Object.keys(ECS_SOURCES), ...BODIES, ...OTHER_FIELDS];
/**
 * The keys the scan tells by id (KEY_ID, an index here): the top-level members' names, then the fields'
 * names inside object members. No key's bytes are compared in JS.
 */
const KNOWN_KEY_NAMES = [
  ...new Set([
    ...MEMBER_NAMES,
    ...Object.values(ECS_SOURCES).flatMap((source) =>
      typeof source === 'number' ? [] : Object.keys(source),
    ),
  ]),
];
/** Top-level members by KEY_ID; undefined for the names that are only nested keys. */
const KNOWN_MEMBERS: readonly (KnownKey | undefined)[] = KNOWN_KEY_NAMES.map((name) => {
  const index = MEMBER_NAMES.indexOf(name);
  if (index === -1) return undefined;
  const source = ECS_SOURCES[name];
  let childFields: Int8Array | undefined;
  if (source !== undefined && typeof source !== 'number') {
    childFields = new Int8Array(KNOWN_KEY_NAMES.length).fill(-1);
    for (const [child, field] of Object.entries(source)) childFields[KNOWN_KEY_NAMES.indexOf(child)] = field;
  }
  return {
    bit: 2 ** index,
    isBody: BODIES.includes(name),
    field: typeof source === 'number' ? source : undefined,
    childFields,
  };
});

/** Each known key's role as a top-level member, and the fields among an object member's keys, for BulkDocument. */
const MEMBER_ROLES: readonly MemberRole[] = KNOWN_MEMBERS.map((known) =>
  known === undefined
    ? undefined
    : known.isBody
      ? 'body'
      : known.field !== undefined
        ? known.field
        : known.childFields !== undefined
          ? 'object'
          : 'other',
);
const CHILD_FIELDS_BY_KEY = KNOWN_MEMBERS.map((known) => known?.childFields);

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const UNDERSCORE = 0x5f;
const DOT = 0x2e;
const COMMA = 0x2c;
const OPEN_BRACE = 0x7b;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;

const REQUEST_RECEIVED = Buffer.from('"RequestReceived"');
// Text every document has, as bytes: ByteWriter.append copies them quicker than text() encodes.
const ID_OPEN = Buffer.from(',"_id":"');
const ACTION_END_TIMESTAMP = Buffer.from('"}}\n{"@timestamp":');
const ACTION = Buffer.from(',"action":');
const NAME_KEY = Buffer.from(',"name":');
const ID_KEY = Buffer.from(',"id":');
const NAMESPACE_KEY = Buffer.from(',"namespace":');
const TYPE_KEY = Buffer.from(',"type":');
const USER_ARRAY_OPEN = Buffer.from('"user":[');
const COMMA_USER_ARRAY_OPEN = Buffer.from(',"user":[');
const UNKNOWN = Buffer.from('unknown');
const NOTHING = Buffer.alloc(0);
const QUESTION_MARK = Buffer.from('?');
/** event.outcome's value to event.id's, by outcome(). */
const OUTCOME_TO_ID = Object.fromEntries(
  OUTCOMES.map((value) => [
    value,
    Buffer.from(`,"outcome":"${value}","dataset":"${DATASET}","module":"kubernetes","id":"`),
  ]),
) as Readonly<Record<Outcome, Buffer>>;
const AUDIT_OPEN = Buffer.from(',"kubernetes":{"audit":');
const DOCUMENT_END = Buffer.from('}}\n');
const MESSAGE_OPEN = Buffer.from(',"message":"');
const AS = Buffer.from(' as ');
const SPACE = Buffer.from(' ');
const STAGE_OPEN = Buffer.from(' (');
const STAGE_CLOSE = Buffer.from(')"');
const ARROW = Buffer.from(' -> ');
const QUOTE_TEXT = Buffer.from('"');
const DURATION = Buffer.from(',"duration":');
const CLOSE_OBJECT = Buffer.from('}');
const USER_OPEN = Buffer.from(',"user":{');
const GROUP_OPEN = Buffer.from(',"group":{"name":');
const EFFECTIVE_OPEN = Buffer.from(',"effective":{');
const USER_AGENT_OPEN = Buffer.from(',"user_agent":{"original":');
const RESOURCE_OPEN = Buffer.from(',"resource":{');
const LOG_OPEN = Buffer.from(',"log":{"file":{"path":');
const OFFSET = Buffer.from('},"offset":');
const SOURCE_OPEN = Buffer.from(',"source":{"ip":"');
const STRING_CLOSE_OBJECT = Buffer.from('"}');
const RELATED_OPEN = Buffer.from(',"related":{');
const IP_OPEN = Buffer.from('"ip":["');
const STRING_SEPARATOR = Buffer.from('","');
const STRING_CLOSE_ARRAY = Buffer.from('"]');
const COMMA_TEXT = Buffer.from(',');
const CLOSE_ARRAY = Buffer.from(']');
const JSON_KEY_END = Buffer.from('Json":');

/** Values a string field is told apart by (see #choice): as JSON text, and as strings for escaped text. */
interface Choices {
  readonly texts: readonly Buffer[];
  readonly values: readonly string[];
}

function choices(values: readonly string[]): Choices {
  return { texts: values.map((value) => Buffer.from(JSON.stringify(value))), values };
}

const VERB_CHOICES = choices(TYPED_VERBS);
const DECISIONS = ['allow', 'forbid'];
const DECISION_CHOICES = choices(DECISIONS);
const FORBID = DECISIONS.indexOf('forbid');
/**
 * event.type's JSON, by verb (an index of TYPED_VERBS, or their count for any other) and decision (allow,
 * forbid, other), as eventTypesJson() writes it: chosen without decoding either string.
 */
const EVENT_TYPES = [...TYPED_VERBS, undefined].map((verb) =>
  [...DECISIONS, undefined].map((decision) => Buffer.from(eventTypesJson(verb, decision))),
);

/** The most sourceIPs entries read as bytes (the API server writes one, or a proxy chain's few). */
const MAX_PLAIN_IPS = 16;

/** The most top-level members a line can have for this path. */
const MAX_MEMBERS = 64;

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
  readonly #context: EnrichContext;
  readonly #scan = new ObjectScan({ stringifiedKeys: BODIES, knownKeys: KNOWN_KEY_NAMES });
  /** The usual line's document, written in WebAssembly (data streams: an index's name needs the date). */
  readonly #document: BulkDocument | undefined;
  #webAssemblyDocuments = 0;
  /** How each member is written (COPY...SANITIZE), by member. */
  readonly #writes = new Uint8Array(MAX_MEMBERS);
  readonly #otherKeys: string[] = [];
  /** Start and end of each ECS field in the line, -1 when the event lacks it. */
  readonly #spans = new Int32Array(FIELD_COUNT * 2);
  /** Per field: whether the member it is in has escapes (HAS_ESCAPE), so its text is not its value. */
  readonly #escaped = new Uint8Array(FIELD_COUNT);
  // Text that is the same for every event of this sink, written once.
  /** The action up to its _id's value, for a data stream. */
  readonly #dataStreamActionOpen: Buffer;
  /** The message's end (after a status code, or a stage), then ecs, data_stream and event up to its type's value. */
  readonly #quoteToEventType: Buffer;
  readonly #stageCloseToEventType: Buffer;
  readonly #orchestratorOpen: Buffer;
  readonly #hostJson: Buffer;
  /** The day #isValidDay checked last (DATE_LENGTH bytes), and its answer. */
  readonly #day = Buffer.alloc(DATE_LENGTH);
  #dayKnown = false;
  #dayValid = false;
  /** `<cluster>\u0000` as UTF-8, then the rest of the identity eventId() hashes (see #eventId). */
  readonly #identityPrefix: Buffer;
  #identity: Buffer;
  /** #uniqueIps' answer: start and end of each address's text in the line, or the addresses. */
  readonly #ipSpans = new Int32Array(MAX_PLAIN_IPS * 2);
  #ipTexts: string[] | undefined;
  #pathOf = '';
  /** From orchestrator's end to log.offset's value, for the file #pathOf: host, log.file.path. */
  #orchestratorEndToOffset: Buffer = NOTHING;

  /**
   * `webAssemblyDocuments: false` writes every document in JS (the reference the WebAssembly writer is tested
   * against); by default, data streams' usual lines are written by BulkDocument.
   */
  constructor(
    target: EsTarget,
    context: EnrichContext,
    options: { readonly webAssemblyDocuments?: boolean } = {},
  ) {
    this.#target = target;
    this.#context = context;
    this.#dataStreamActionOpen = Buffer.from(
      `{"create":{"_index":${JSON.stringify(target.kind === 'data-stream' ? target.name : '')},"_id":"`,
    );
    const ecsToEventType = Buffer.from(
      `,"ecs":{"version":"${ECS_VERSION}"}` +
        (target.kind === 'data-stream'
          ? `,"data_stream":{"type":"logs","dataset":"${DATASET}","namespace":${JSON.stringify(target.namespace)}}`
          : '') +
        ',"event":{"kind":"event","category":["api"],"type":',
    );
    this.#quoteToEventType = Buffer.concat([QUOTE_TEXT, ecsToEventType]);
    this.#stageCloseToEventType = Buffer.concat([STAGE_CLOSE, ecsToEventType]);
    this.#orchestratorOpen = Buffer.from(
      `,"orchestrator":{"type":"kubernetes","cluster":{"name":${JSON.stringify(context.cluster)}}`,
    );
    this.#hostJson = Buffer.from(`,"host":{"name":${JSON.stringify(context.node)}}`);
    this.#identityPrefix = Buffer.from(`${context.cluster}\u0000`);
    this.#identity = Buffer.alloc(this.#identityPrefix.length + 128);
    this.#identityPrefix.copy(this.#identity);
    this.#document =
      target.kind === 'data-stream' && options.webAssemblyDocuments !== false
        ? BulkDocument.create(this.#scan, this.#documentTexts(), MEMBER_ROLES, CHILD_FIELDS_BY_KEY)
        : undefined;
  }

  /**
   * Writes input's lines from `from` on in runs, without a call per line, as long as BulkDocument takes them
   * (see its writeRun), noting each event in `events`: the index of the first line it did not write, which
   * encode() is then given. `from` itself when this encoder has no BulkDocument.
   */
  encodeRun(
    input: BatchInput,
    lines: Buffer,
    from: number,
    maxLineBytes: number,
    out: ByteWriter,
    events: EventTable,
  ): number {
    if (this.#document === undefined) return from;
    const next = this.#document.writeRun(input, lines, from, maxLineBytes, out, events);
    this.#webAssemblyDocuments += next - from;
    return next;
  }

  /** How many documents BulkDocument wrote (the rest, JS): for tests and benchmarks. */
  get webAssemblyDocuments(): number {
    return this.#webAssemblyDocuments;
  }

  /** The text BulkDocument writes documents of: this encoder's, by the module's names for them. */
  #documentTexts(): DocumentTexts {
    return {
      named: {
        ACTION_OPEN: this.#dataStreamActionOpen,
        ACTION_END_TIMESTAMP,
        MESSAGE_OPEN,
        UNKNOWN,
        AS,
        SPACE_TEXT: SPACE,
        QUESTION_MARK,
        STAGE_OPEN,
        STAGE_CLOSE_TO_EVENT_TYPE: this.#stageCloseToEventType,
        ARROW,
        QUOTE_TO_EVENT_TYPE: this.#quoteToEventType,
        ACTION,
        QUOTE_TEXT,
        DURATION,
        CLOSE_OBJECT,
        USER_OPEN,
        NAME_KEY,
        ID_KEY,
        GROUP_OPEN,
        EFFECTIVE_OPEN,
        SOURCE_OPEN,
        STRING_CLOSE_OBJECT,
        RELATED_OPEN,
        IP_OPEN,
        STRING_SEPARATOR,
        STRING_CLOSE_ARRAY,
        USER_ARRAY_OPEN,
        COMMA_USER_ARRAY_OPEN,
        COMMA_TEXT,
        CLOSE_ARRAY,
        USER_AGENT_OPEN,
        ORCHESTRATOR_OPEN: this.#orchestratorOpen,
        NAMESPACE_KEY,
        RESOURCE_OPEN,
        TYPE_KEY,
        AUDIT_OPEN,
        JSON_KEY_END,
        DOCUMENT_END,
        REQUEST_RECEIVED,
        IDENTITY_PREFIX: this.#identityPrefix,
        ALLOW: DECISION_CHOICES.texts[DECISIONS.indexOf('allow')] as Buffer,
        FORBID: DECISION_CHOICES.texts[FORBID] as Buffer,
      },
      verbs: VERB_CHOICES.texts,
      eventTypes: EVENT_TYPES.flat(),
      outcomesToId: [OUTCOME_TO_ID.success, OUTCOME_TO_ID.failure, OUTCOME_TO_ID.unknown],
      fileText: (path) => this.#fileText(path),
    };
  }

  /**
   * Writes the line's `create` action and document ("\n"-terminated) and returns the event's timestamp; or
   * writes nothing and returns undefined when the line is for the general path: not valid UTF-8 or JSON, not
   * an object, duplicate or unusual top-level keys, bodies that are not objects, no auditID or stage, or a
   * field of the ECS part with a type the API server does not write.
   */
  encode(line: Buffer, origin: EventOrigin, out: ByteWriter): string | undefined {
    const ascii = isAscii(line);
    if (!ascii && !isUtf8(line)) return undefined;
    const scan = this.#scan;
    if (!scan.scan(line)) return undefined;
    const encoding = ascii ? 'latin1' : 'utf8';
    const written = this.#document?.write(line, encoding, origin, out);
    if (written !== undefined) {
      this.#webAssemblyDocuments++;
      return written;
    }
    if (!this.#findFields(line)) return undefined;
    const spans = this.#spans;
    // #setField took them as strings only.
    if (!this.#has(AUDIT_ID) || !this.#has(STAGE)) return undefined;
    // stageTimestamp, else requestReceivedTimestamp, else v1beta1's timestamp (eventTimestamp's choice).
    const timeField =
      spans[STAGE_AT * 2] !== -1 ? STAGE_AT : spans[RECEIVED_AT * 2] !== -1 ? RECEIVED_AT : LEGACY_TIMESTAMP;
    const recorded = this.#decode(line, timeField, encoding) as string | undefined;
    if (recorded === '') return undefined;
    const timestamp = recorded ?? new Date().toISOString();
    const id = this.#eventId(line, encoding);
    out.startEvent('', line);
    if (this.#target.kind === 'data-stream') out.append(this.#dataStreamActionOpen);
    else {
      out.text(`{"create":{"_index":${JSON.stringify(targetIndexFor(this.#target, timestamp))}`);
      out.append(ID_OPEN);
    }
    out.text(id);
    out.append(ACTION_END_TIMESTAMP);
    if (recorded === undefined) out.text(JSON.stringify(timestamp));
    else this.#value(timeField, out);
    this.#writeEcs(line, encoding, id, origin, timeField, recorded, out);
    out.append(AUDIT_OPEN);
    this.#writeAudit(line, encoding, out);
    out.append(DOCUMENT_END);
    return timestamp;
  }

  /** Notes how each member is written and where each ECS field is; false when the line is not for this path. */
  #findFields(line: Buffer): boolean {
    const memberCount = this.#scan.members.length;
    const members = this.#scan.members.values;
    const children = this.#scan.children.values;
    // An Event has some 20 members; many more is no API server's line, and finding duplicates among them
    // (a list, quadratic) is then left to JSON.parse.
    if (memberCount > MAX_MEMBERS * MEMBER_FIELDS) return false;
    const otherKeys = this.#otherKeys;
    otherKeys.length = 0;
    const spans = this.#spans;
    spans.fill(-1);
    let seen = 0;
    for (let member = 0, index = 0; member < memberCount; member += MEMBER_FIELDS, index++) {
      const flags = members[member + FLAGS] as number;
      if ((flags & KEY_UNUSUAL) !== 0) return false;
      const valueStart = members[member + VALUE_START] as number;
      const valueEnd = members[member + VALUE_END] as number;
      this.#writes[index] = writeOf(flags);
      const keyId = members[member + KEY_ID] as number;
      const known = keyId === -1 ? undefined : KNOWN_MEMBERS[keyId];
      if (known === undefined) {
        // Latin-1 maps bytes to characters one to one: distinct keys stay distinct, which is all this needs.
        const key = line.toString(
          'latin1',
          (members[member + KEY_START] as number) + 1,
          (members[member + KEY_END] as number) - 1,
        );
        if (otherKeys.includes(key)) return false;
        otherKeys.push(key);
        continue;
      }
      // JSON.parse keeps the last of duplicate keys and the line has both: the general path serializes.
      if ((seen & known.bit) !== 0) return false;
      seen |= known.bit;
      if (known.isBody) {
        const first = line[valueStart];
        // A scalar body would need its serialized form; the API server never writes one.
        if (first !== OPEN_BRACE && first !== OPEN_BRACKET) return false;
        this.#writes[index] = BODY;
      } else if (known.field !== undefined) {
        if (!this.#setField(line, known.field, valueStart, valueEnd, flags)) return false;
      } else if (known.childFields !== undefined) {
        // An object whose keys might spell a field's name in escapes is the general path's to read.
        if (line[valueStart] !== OPEN_BRACE || (flags & NESTED_KEY_COMPLEX) !== 0) return false;
        const last = members[member + CHILDREN_END] as number;
        for (let child = members[member + CHILDREN_START] as number; child < last; child += CHILD_FIELDS) {
          const childKeyId = children[child + KEY_ID] as number;
          const field = childKeyId === -1 ? -1 : (known.childFields[childKeyId] as number);
          if (field === -1) continue;
          // The last of duplicate keys wins, as with JSON.parse.
          const start = children[child + VALUE_START] as number;
          if (!this.#setField(line, field, start, children[child + VALUE_END] as number, flags)) return false;
        }
      }
    }
    return true;
  }

  #setField(line: Buffer, field: number, start: number, end: number, flags: number): boolean {
    const type = FIELD_TYPES[field];
    const first = line[start] as number;
    const fits =
      type === STRING
        ? first === QUOTE
        : type === NUMBER
          ? first === 0x2d || (first >= 0x30 && first <= 0x39)
          : isStringArray(line, start, end);
    if (!fits) return false;
    this.#spans[field * 2] = start;
    this.#spans[field * 2 + 1] = end;
    this.#escaped[field] = flags & HAS_ESCAPE;
    return true;
  }

  /**
   * eventId() of the event, hashed from the line's bytes when auditID and stage have no escapes: their text
   * is then the UTF-8 of their values, which is what hashing the identity string digests.
   */
  #eventId(line: Buffer, encoding: BufferEncoding): string {
    if (this.#escaped[AUDIT_ID] !== 0 || this.#escaped[STAGE] !== 0) {
      const auditID = this.#decode(line, AUDIT_ID, encoding) as string;
      const stage = this.#decode(line, STAGE, encoding) as string;
      return eventId(this.#context.cluster, { auditID, stage }, '');
    }
    const spans = this.#spans;
    const auditStart = (spans[AUDIT_ID * 2] as number) + 1;
    const auditEnd = (spans[AUDIT_ID * 2 + 1] as number) - 1;
    const stageStart = (spans[STAGE * 2] as number) + 1;
    const stageEnd = (spans[STAGE * 2 + 1] as number) - 1;
    const prefix = this.#identityPrefix;
    const length = prefix.length + (auditEnd - auditStart) + 1 + (stageEnd - stageStart);
    if (this.#identity.length < length) {
      this.#identity = Buffer.alloc(Math.max(length, this.#identity.length * 2));
      prefix.copy(this.#identity);
    }
    const identity = this.#identity;
    let at = prefix.length;
    for (let index = auditStart; index < auditEnd; index++) identity[at++] = line[index] as number;
    identity[at++] = 0;
    for (let index = stageStart; index < stageEnd; index++) identity[at++] = line[index] as number;
    return eventIdOf(identity.subarray(0, length));
  }

  /** A field's value (a string, number or array of strings); undefined when the event does not have it. */
  #decode(line: Buffer, field: number, encoding: BufferEncoding): unknown {
    const start = this.#spans[field * 2] as number;
    if (start === -1) return undefined;
    const end = this.#spans[field * 2 + 1] as number;
    if (line[start] === QUOTE && this.#escaped[field] === 0)
      return line.toString(encoding, start + 1, end - 1);
    return JSON.parse(line.toString(encoding, start, end)) as unknown;
  }

  /**
   * Which of `choices` a string field's value is (its index), or their count when it is none of them or the
   * event lacks the field; compared as bytes unless the text has escapes.
   */
  #choice(line: Buffer, field: number, choices: Choices, encoding: BufferEncoding): number {
    const start = this.#spans[field * 2] as number;
    if (start === -1) return choices.values.length;
    if (this.#escaped[field] !== 0) {
      const index = choices.values.indexOf(this.#decode(line, field, encoding) as string);
      return index === -1 ? choices.values.length : index;
    }
    const end = this.#spans[field * 2 + 1] as number;
    const texts = choices.texts;
    for (let index = 0; index < texts.length; index++)
      if (isSameBytes(line, start, end, texts[index] as Buffer)) return index;
    return texts.length;
  }

  /** A number field's value: digits read here (JSON.parse for a string this short costs more). */
  #integer(line: Buffer, field: number, encoding: BufferEncoding): number | undefined {
    const start = this.#spans[field * 2] as number;
    if (start === -1) return undefined;
    const end = this.#spans[field * 2 + 1] as number;
    let value = 0;
    // Up to 15 digits stay exact; a sign, fraction, exponent or leading zero is JSON.parse's.
    if (end - start > 15 || (line[start] === 0x30 && end - start > 1))
      return this.#decode(line, field, encoding) as number;
    for (let at = start; at < end; at++) {
      const digit = (line[at] as number) - 0x30;
      if (digit < 0 || digit > 9) return this.#decode(line, field, encoding) as number;
      value = value * 10 + digit;
    }
    return value;
  }

  /**
   * stageTimestamp - requestReceivedTimestamp in nanoseconds, read from the bytes when both are unescaped,
   * of one day and in RFC 3339 UTC form with up to 9 fraction digits, as the API server writes them: what
   * durationNanos() computes from the decoded strings (Date.parse keeps milliseconds, the rest is added).
   * Undefined when they are not (durationNanos() decides then).
   */
  #sameDayDurationNanos(line: Buffer): number | undefined {
    const spans = this.#spans;
    const from = spans[RECEIVED_AT * 2] as number;
    const to = spans[STAGE_AT * 2] as number;
    if (from === -1 || to === -1 || this.#escaped[RECEIVED_AT] !== 0 || this.#escaped[STAGE_AT] !== 0)
      return undefined;
    // Quoted strings (FIELD_TYPES): the text starts one byte in.
    for (let index = 1; index <= DATE_LENGTH; index++)
      if (line[from + index] !== line[to + index]) return undefined;
    const start = timeOfDayNanos(line, from + 1, (spans[RECEIVED_AT * 2 + 1] as number) - 1);
    const end = timeOfDayNanos(line, to + 1, (spans[STAGE_AT * 2 + 1] as number) - 1);
    if (start === -1 || end === -1 || !this.#isValidDay(line, from + 1)) return undefined;
    return end >= start ? end - start : undefined;
  }

  /** Whether Date.parse takes the day (YYYY-MM-DD) at `start`; remembered for the day last asked about. */
  #isValidDay(line: Buffer, start: number): boolean {
    const day = this.#day;
    let same = this.#dayKnown;
    for (let index = 0; same && index < DATE_LENGTH; index++) same = line[start + index] === day[index];
    if (!same) {
      line.copy(day, 0, start, start + DATE_LENGTH);
      this.#dayKnown = true;
      this.#dayValid = isParsableDay(day.toString('latin1'));
    }
    return this.#dayValid;
  }

  #has(field: number): boolean {
    return this.#spans[field * 2] !== -1;
  }

  /** `prefix` (`,"name":`) and the field's JSON text, when the event has the field. */
  #member(prefix: Uint8Array, field: number, out: ByteWriter): void {
    if (!this.#has(field)) return;
    out.append(prefix);
    this.#value(field, out);
  }

  /** Whether two string fields have the same text (then the same value: callers rule out escapes). */
  #sameText(line: Buffer, field: number, other: number): boolean {
    const spans = this.#spans;
    return isSameText(
      line,
      spans[field * 2] as number,
      spans[field * 2 + 1] as number,
      spans[other * 2] as number,
      spans[other * 2 + 1] as number,
    );
  }

  /** Whether a string field is "" (absent fields are not). */
  #isEmptyString(field: number): boolean {
    return (
      this.#has(field) && (this.#spans[field * 2 + 1] as number) - (this.#spans[field * 2] as number) === 2
    );
  }

  /** The text inside a string field's quotes, which is that of its value in any JSON string. */
  #inner(field: number, orElse: Uint8Array, out: ByteWriter): void {
    if (!this.#has(field)) out.append(orElse);
    else out.raw((this.#spans[field * 2] as number) + 1, (this.#spans[field * 2 + 1] as number) - 1);
  }

  /** The field's JSON text, which the caller knows the event has. */
  #value(field: number, out: ByteWriter): void {
    out.raw(this.#spans[field * 2] as number, this.#spans[field * 2 + 1] as number);
  }

  /** The ECS part after @timestamp, the same fields ecsJsonOpen() writes from the parsed event. */
  #writeEcs(
    line: Buffer,
    encoding: BufferEncoding,
    id: string,
    origin: EventOrigin,
    timeField: number,
    recorded: string | undefined,
    out: ByteWriter,
  ): void {
    const verb = this.#choice(line, VERB, VERB_CHOICES, encoding);
    const decision = this.#choice(line, DECISION, DECISION_CHOICES, encoding);
    const code = this.#integer(line, CODE, encoding);
    // summary(): "<user>[ as <impersonated>] <verb> <requestURI> -> <code>", from the strings' JSON text.
    out.append(MESSAGE_OPEN);
    this.#inner(USERNAME, UNKNOWN, out);
    if (this.#has(IMPERSONATED_USERNAME)) {
      out.append(AS);
      this.#inner(IMPERSONATED_USERNAME, NOTHING, out);
    }
    out.append(SPACE);
    this.#inner(VERB, QUESTION_MARK, out);
    out.append(SPACE);
    this.#inner(REQUEST_URI, QUESTION_MARK, out);
    if (code === undefined) {
      out.append(STAGE_OPEN);
      this.#inner(STAGE, NOTHING, out);
      out.append(this.#stageCloseToEventType);
    } else {
      out.append(ARROW);
      out.number(code);
      out.append(this.#quoteToEventType);
    }
    out.append((EVENT_TYPES[verb] as Buffer[])[decision] as Buffer);
    this.#member(ACTION, VERB, out);
    out.append(OUTCOME_TO_ID[outcome(code, decision === FORBID ? 'forbid' : undefined)]);
    out.text(id);
    out.append(QUOTE_TEXT);
    if (!this.#isStage(line, REQUEST_RECEIVED)) {
      const duration =
        this.#sameDayDurationNanos(line) ??
        durationNanos({
          requestReceivedTimestamp: this.#decode(line, RECEIVED_AT, encoding),
          stageTimestamp: timeField === STAGE_AT ? recorded : this.#decode(line, STAGE_AT, encoding),
        });
      if (duration !== undefined) {
        out.append(DURATION);
        out.number(duration);
      }
    }
    out.append(CLOSE_OBJECT);
    const hasUser = this.#has(USERNAME) || this.#has(UID) || this.#has(GROUPS);
    const hasEffective = this.#has(IMPERSONATED_USERNAME) || this.#has(IMPERSONATED_GROUPS);
    if (hasUser || hasEffective) {
      // Each member below starts with ",": the object opens with the first one's comma dropped.
      out.append(USER_OPEN);
      const first = out.length;
      this.#member(NAME_KEY, USERNAME, out);
      this.#member(ID_KEY, UID, out);
      if (this.#has(GROUPS)) {
        out.append(GROUP_OPEN);
        this.#value(GROUPS, out);
        out.append(CLOSE_OBJECT);
      }
      if (hasEffective) {
        out.append(EFFECTIVE_OPEN);
        const firstEffective = out.length;
        this.#member(NAME_KEY, IMPERSONATED_USERNAME, out);
        if (this.#has(IMPERSONATED_GROUPS)) {
          out.append(GROUP_OPEN);
          this.#value(IMPERSONATED_GROUPS, out);
          out.append(CLOSE_OBJECT);
        }
        out.dropByte(firstEffective);
        out.append(CLOSE_OBJECT);
      }
      out.dropByte(first);
      out.append(CLOSE_OBJECT);
    }
    this.#writeSourceAndRelated(line, encoding, out);
    if (this.#has(USER_AGENT)) {
      out.append(USER_AGENT_OPEN);
      this.#value(USER_AGENT, out);
      out.append(CLOSE_OBJECT);
    }
    out.append(this.#orchestratorOpen);
    this.#member(NAMESPACE_KEY, NAMESPACE, out);
    if (this.#has(RESOURCE) || this.#has(NAME)) {
      out.append(RESOURCE_OPEN);
      const first = out.length;
      this.#member(TYPE_KEY, RESOURCE, out);
      this.#member(NAME_KEY, NAME, out);
      out.dropByte(first);
      out.append(CLOSE_OBJECT);
    }
    if (origin.path !== this.#pathOf) {
      this.#pathOf = origin.path;
      this.#orchestratorEndToOffset = this.#fileText(origin.path);
    }
    out.append(this.#orchestratorEndToOffset);
    out.number(origin.offset);
    out.append(CLOSE_OBJECT);
  }

  /** From orchestrator's end to log.offset's value: host, log.file.path. */
  #fileText(path: string): Buffer {
    return Buffer.concat([CLOSE_OBJECT, this.#hostJson, LOG_OPEN, Buffer.from(JSON.stringify(path)), OFFSET]);
  }

  /**
   * The valid sourceIPs entries, each once, in order: how many, with their texts' spans in #ipSpans when all
   * of them are plain IPv4 addresses (read from the bytes, as the API server writes them), else in #ipTexts.
   */
  #uniqueIps(line: Buffer, encoding: BufferEncoding): number {
    this.#ipTexts = undefined;
    const start = this.#spans[SOURCE_IPS * 2] as number;
    if (start === -1) return 0;
    if (this.#escaped[SOURCE_IPS] === 0) {
      const end = this.#spans[SOURCE_IPS * 2 + 1] as number;
      const spans = this.#ipSpans;
      let count = 0;
      let open = -1;
      let plain = true;
      // Without escapes, each pair of quotes holds one entry as it is.
      for (let at = start; plain && at < end; at++) {
        if (line[at] !== QUOTE) continue;
        if (open === -1) {
          open = at + 1;
          continue;
        }
        plain = isIPv4Text(line, open, at);
        let seen = false;
        for (let ip = 0; plain && !seen && ip < count * 2; ip += 2)
          seen = isSameText(line, open, at, spans[ip] as number, spans[ip + 1] as number);
        if (plain && !seen) {
          if (count === MAX_PLAIN_IPS) plain = false;
          else {
            spans[count * 2] = open;
            spans[count * 2 + 1] = at;
            count++;
          }
        }
        open = -1;
      }
      if (plain) return count;
    }
    const ips: string[] = [];
    // FIELD_TYPES: an array of strings only.
    for (const ip of this.#decode(line, SOURCE_IPS, encoding) as string[]) {
      if (ip === '' || isIP(ip) === 0 || ips.includes(ip)) continue;
      ips.push(ip);
    }
    this.#ipTexts = ips;
    return ips.length;
  }

  /** The `index`-th of #uniqueIps' addresses, whose text needs no escapes in JSON. */
  #ip(index: number, out: ByteWriter): void {
    // An address isIP() accepts has nothing to escape in JSON (digits, hex, ':', '.', a '%' zone of [\w.:-]).
    if (this.#ipTexts !== undefined) out.text(this.#ipTexts[index] as string);
    else out.raw(this.#ipSpans[index * 2] as number, this.#ipSpans[index * 2 + 1] as number);
  }

  /** source.ip (the first valid sourceIPs entry) and related.ip / related.user, as unique() makes them. */
  #writeSourceAndRelated(line: Buffer, encoding: BufferEncoding, out: ByteWriter): void {
    const ipCount = this.#uniqueIps(line, encoding);
    if (ipCount > 0) {
      out.append(SOURCE_OPEN);
      this.#ip(0, out);
      out.append(STRING_CLOSE_OBJECT);
    }
    // related.user: the user and the impersonated user, each once, empty names left out.
    const hasUser = this.#has(USERNAME) && !this.#isEmptyString(USERNAME);
    const hasImpersonated = this.#has(IMPERSONATED_USERNAME) && !this.#isEmptyString(IMPERSONATED_USERNAME);
    let bothUsers = hasUser && hasImpersonated;
    if (bothUsers) {
      bothUsers =
        this.#escaped[USERNAME] === 0 && this.#escaped[IMPERSONATED_USERNAME] === 0
          ? !this.#sameText(line, USERNAME, IMPERSONATED_USERNAME)
          : this.#decode(line, USERNAME, encoding) !== this.#decode(line, IMPERSONATED_USERNAME, encoding);
    }
    if (ipCount === 0 && !hasUser && !hasImpersonated) return;
    out.append(RELATED_OPEN);
    if (ipCount > 0) {
      out.append(IP_OPEN);
      for (let index = 0; index < ipCount; index++) {
        if (index > 0) out.append(STRING_SEPARATOR);
        this.#ip(index, out);
      }
      out.append(STRING_CLOSE_ARRAY);
    }
    if (hasUser || hasImpersonated) {
      out.append(ipCount === 0 ? USER_ARRAY_OPEN : COMMA_USER_ARRAY_OPEN);
      if (hasUser) this.#value(USERNAME, out);
      if (bothUsers) out.append(COMMA_TEXT);
      if (hasImpersonated && (bothUsers || !hasUser)) this.#value(IMPERSONATED_USERNAME, out);
      out.append(CLOSE_ARRAY);
    }
    out.append(CLOSE_OBJECT);
  }

  /** Whether the stage field's text is `stage` (a quoted string). */
  #isStage(line: Buffer, stage: Buffer): boolean {
    return isSameBytes(line, this.#spans[STAGE * 2] as number, this.#spans[STAGE * 2 + 1] as number, stage);
  }

  /** kubernetes.audit: the line's object with the bodies as JSON text and dotted keys dedotted. */
  #writeAudit(line: Buffer, encoding: BufferEncoding, out: ByteWriter): void {
    const memberCount = this.#scan.members.length;
    const members = this.#scan.members.values;
    const writes = this.#writes;
    let copiedUpTo = this.#scan.objectStart;
    for (let member = 0, index = 0; member < memberCount; member += MEMBER_FIELDS, index++) {
      const write = writes[index];
      if (write !== BODY && write !== SANITIZE) continue;
      const valueStart = members[member + VALUE_START] as number;
      const valueEnd = members[member + VALUE_END] as number;
      if (write === BODY) {
        this.#copy(copiedUpTo, (members[member + KEY_END] as number) - 1, out);
        out.append(JSON_KEY_END);
        // The scan wrote the body's text as a JSON string as it validated it.
        out.append(
          this.#scan.strings.bytes.subarray(members[member + STRING_START], members[member + STRING_END]),
        );
        copiedUpTo = valueEnd;
        continue;
      }
      const value = JSON.parse(line.toString(encoding, valueStart, valueEnd)) as unknown;
      const clean = sanitize(value);
      if (clean === value) continue;
      this.#copy(copiedUpTo, valueStart, out);
      out.text(JSON.stringify(clean));
      copiedUpTo = valueEnd;
    }
    this.#copy(copiedUpTo, this.#scan.objectEnd, out);
  }

  /**
   * Copies line[from, to) and dedots the dotted keys in it, in the output. Any there belong to DEDOT_BYTES
   * members: bodies and members rewritten by sanitize() are never copied.
   */
  #copy(from: number, to: number, out: ByteWriter): void {
    const dottedKeys = this.#scan.dottedKeys.values;
    const dottedKeyCount = this.#scan.dottedKeys.length;
    const copiedAt = out.length - from;
    out.raw(from, to);
    for (let key = 0; key < dottedKeyCount; key += 2) {
      const keyStart = dottedKeys[key] as number;
      if (keyStart < from) continue;
      if (keyStart >= to) return;
      out.replaceBytes(copiedAt + keyStart, copiedAt + (dottedKeys[key + 1] as number), DOT, UNDERSCORE);
    }
  }
}

/** "YYYY-MM-DD" */
const DATE_LENGTH = 10;

/**
 * Nanoseconds since midnight of an RFC 3339 UTC time (YYYY-MM-DDTHH:MM:SS[.fraction]Z, 1-9 fraction digits)
 * at line[start, end), or -1 when the text is not one (the date is only checked by #isValidDay).
 */
function timeOfDayNanos(line: Buffer, start: number, end: number): number {
  const length = end - start;
  if (length < 20 || length > 30 || length === 21 || line[end - 1] !== 0x5a) return -1;
  if (line[start + 10] !== 0x54 || line[start + 13] !== 0x3a || line[start + 16] !== 0x3a) return -1;
  const hours = twoDigits(line, start + 11);
  const minutes = twoDigits(line, start + 14);
  const seconds = twoDigits(line, start + 17);
  if (hours < 0 || hours > 23 || minutes < 0 || minutes > 59 || seconds < 0 || seconds > 59) return -1;
  let fraction = 0;
  if (length > 20) {
    if (line[start + 19] !== DOT) return -1;
    for (let at = start + 20; at < end - 1; at++) {
      const digit = (line[at] as number) - 0x30;
      if (digit < 0 || digit > 9) return -1;
      fraction = fraction * 10 + digit;
    }
    fraction *= 10 ** (30 - length);
  }
  return ((hours * 60 + minutes) * 60 + seconds) * 1e9 + fraction;
}

/** The two-digit number at `at`, or -1. */
function twoDigits(line: Buffer, at: number): number {
  const tens = (line[at] as number) - 0x30;
  const ones = (line[at + 1] as number) - 0x30;
  return tens < 0 || tens > 9 || ones < 0 || ones > 9 ? -1 : tens * 10 + ones;
}

/**
 * Whether line[start, end) is an IPv4 address as isIP() takes it: four decimal numbers of 0-255 without
 * leading zeros, dot-separated.
 */
export function isIPv4Text(line: Uint8Array, start: number, end: number): boolean {
  let at = start;
  for (let part = 0; part < 4; part++) {
    if (part > 0) {
      if (at >= end || line[at] !== DOT) return false;
      at++;
    }
    const first = at;
    let value = 0;
    while (at < end && at - first < 3) {
      const digit = (line[at] as number) - 0x30;
      if (digit < 0 || digit > 9) break;
      value = value * 10 + digit;
      at++;
    }
    if (at === first || value > 255 || (line[first] === 0x30 && at - first > 1)) return false;
  }
  return at === end;
}

/** Whether line[start, end) and line[otherStart, otherEnd) are the same bytes. */
function isSameText(
  line: Uint8Array,
  start: number,
  end: number,
  otherStart: number,
  otherEnd: number,
): boolean {
  if (end - start !== otherEnd - otherStart) return false;
  for (let index = 0; index < end - start; index++)
    if (line[start + index] !== line[otherStart + index]) return false;
  return true;
}

/** Whether the (valid JSON) value at [start, end) is an array of strings only. */
function isStringArray(line: Buffer, start: number, end: number): boolean {
  if (line[start] !== OPEN_BRACKET) return false;
  let at = skipBlanks(line, start + 1, end);
  if (line[at] === CLOSE_BRACKET) return true;
  for (;;) {
    if (line[at] !== QUOTE) return false;
    at++;
    while (at < end && line[at] !== QUOTE) at += line[at] === BACKSLASH ? 2 : 1;
    at = skipBlanks(line, at + 1, end);
    if (line[at] === CLOSE_BRACKET) return true;
    if (line[at] !== COMMA) return false;
    at = skipBlanks(line, at + 1, end);
  }
}

function skipBlanks(line: Buffer, start: number, end: number): number {
  let at = start;
  while (at < end && (line[at] === 0x20 || line[at] === 0x0a || line[at] === 0x0d || line[at] === 0x09)) at++;
  return at;
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

/** Whether bytes[start, end) holds `expected` (short keys: a loop beats a native call). */
function isSameBytes(bytes: Uint8Array, start: number, end: number, expected: Uint8Array): boolean {
  if (end - start !== expected.length) return false;
  for (let index = 0; index < expected.length; index++)
    if (bytes[start + index] !== expected[index]) return false;
  return true;
}
