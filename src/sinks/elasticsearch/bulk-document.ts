// The JS face of the WebAssembly document writer (wasm/bulk-document.ts): after ObjectScan has accepted a
// line, it writes the line's `_bulk` item inside the module, byte for byte what BulkLineEncoder writes, and
// this copies it out once. It declines what is not the usual line; BulkLineEncoder then writes it in JS.
import { eventIdOf } from '../../pipeline/enrich.ts';
import type { EventOrigin } from '../../pipeline/event.ts';
import type { ObjectScan } from '../../pipeline/json-scan.ts';
import type { ByteWriter } from '../../pipeline/wire-writer.ts';

/** What the writer's part of the module exports (besides the text ids, found by name: see DocumentTexts). */
interface WriterExports {
  readonly memory: WebAssembly.Memory;
  readonly DOCUMENT_HEADER: WebAssembly.Global;
  readonly TEXT_INPUT: WebAssembly.Global;
  readonly IDENTITY: WebAssembly.Global;
  readonly OUTPUT: WebAssembly.Global;
  readonly ROLE_BODY: WebAssembly.Global;
  readonly ROLE_OBJECT: WebAssembly.Global;
  readonly ROLE_OTHER: WebAssembly.Global;
  readonly VERBS: WebAssembly.Global;
  readonly OUTCOME_TO_ID: WebAssembly.Global;
  readonly ORCHESTRATOR_END_TO_OFFSET: WebAssembly.Global;
  readonly VALID_DAY: WebAssembly.Global;
  setText(id: number, length: number): number;
  setVerbCount(count: number): void;
  setMemberRole(id: number, role: number): void;
  setChildField(parent: number, child: number, field: number): void;
  writeDocument(length: number, offset: number): number;
}

// writeDocument()'s results, i32s at DOCUMENT_HEADER.
const ID_AT = 0;
const ID_AT_2 = 1;
const IDENTITY_LENGTH = 2;
const TIME_START = 3;
const TIME_END = 4;
const DECLINED = 5;
const DAY_AT = 6;
/** DECLINED: the writer needs to know whether the day at DAY_AT is valid (Date.parse's rules, not its own). */
const NEEDS_DAY = 1;
const DATE_LENGTH = 10;
/** Identity views of up to this many bytes are kept (#identityOf). */
const MAX_KEPT_VIEW = 1024;

/** The text the documents are made of, which the module has no copy of: BulkLineEncoder's own. */
export interface DocumentTexts {
  /** By the module's names for them (ACTION_OPEN, MESSAGE_OPEN...): all of them but those below. */
  readonly named: Readonly<Record<string, Uint8Array>>;
  /** The typed verbs' JSON texts. */
  readonly verbs: readonly Uint8Array[];
  /** event.type's JSON by verb (an index of `verbs`, or their count for any other), then decision (3 each). */
  readonly eventTypes: readonly Uint8Array[];
  /** event.outcome's value up to event.id's, for success, failure, unknown. */
  readonly outcomesToId: readonly [Uint8Array, Uint8Array, Uint8Array];
  /** From orchestrator's end to log.offset's value, for a file's path. */
  fileText(path: string): Uint8Array;
}

class TextTooLong extends Error {}

/** How a known key (by its id in the scan's knownKeys) is read as a top-level member. */
export type MemberRole = number | 'body' | 'object' | 'other' | undefined;

export class BulkDocument {
  readonly #exports: WriterExports;
  readonly #texts: DocumentTexts;
  readonly #header: Int32Array;
  readonly #textInput: Uint8Array;
  readonly #identity: Buffer;
  readonly #identityViews: (Uint8Array | undefined)[] = [];
  readonly #output: Buffer;
  #path: string | undefined;
  /** Whether the current file's text fits the module (a path of thousands of bytes does not). */
  #pathFits = false;

  /**
   * A writer for documents of `texts`, or undefined when they do not fit its room for text (a cluster name
   * of many KB). `roles`: by known key id; `childFields`: by known key id, for 'object' members, the field
   * each known key among its keys is (-1: none).
   */
  static create(
    scan: ObjectScan,
    texts: DocumentTexts,
    roles: readonly MemberRole[],
    childFields: readonly (Int8Array | undefined)[],
  ): BulkDocument | undefined {
    try {
      return new BulkDocument(scan, texts, roles, childFields);
    } catch (error) {
      if (error instanceof TextTooLong) return undefined;
      throw error;
    }
  }

  private constructor(
    scan: ObjectScan,
    texts: DocumentTexts,
    roles: readonly MemberRole[],
    childFields: readonly (Int8Array | undefined)[],
  ) {
    const exports = scan.moduleExports as unknown as WriterExports;
    this.#exports = exports;
    this.#texts = texts;
    const { buffer } = exports.memory;
    const address = (global: WebAssembly.Global): number => global.value as number;
    const id = (name: string): number => {
      const global = (exports as unknown as Record<string, WebAssembly.Global | undefined>)[name];
      if (global === undefined) throw new Error(`the document writer has no text ${name}`);
      return address(global);
    };
    this.#header = new Int32Array(buffer, address(exports.DOCUMENT_HEADER), 8);
    this.#textInput = new Uint8Array(buffer, address(exports.TEXT_INPUT), 16 * 1024);
    this.#identity = Buffer.from(
      buffer,
      address(exports.IDENTITY),
      address(exports.OUTPUT) - address(exports.IDENTITY),
    );
    this.#output = Buffer.from(buffer, address(exports.OUTPUT), buffer.byteLength - address(exports.OUTPUT));
    for (const [name, text] of Object.entries(texts.named)) this.#setText(id(name), text);
    const verbs = address(exports.VERBS);
    const lists: [number, readonly Uint8Array[]][] = [
      [verbs, texts.verbs],
      [verbs + texts.verbs.length, texts.eventTypes],
      [address(exports.OUTCOME_TO_ID), texts.outcomesToId],
    ];
    for (const [first, list] of lists)
      for (const [index, text] of list.entries()) this.#setText(first + index, text);
    exports.setVerbCount(texts.verbs.length);
    roles.forEach((role, keyId) => {
      if (role === undefined) return;
      const code =
        role === 'body'
          ? exports.ROLE_BODY
          : role === 'object'
            ? exports.ROLE_OBJECT
            : role === 'other'
              ? exports.ROLE_OTHER
              : role;
      exports.setMemberRole(keyId, typeof code === 'number' ? code : address(code));
    });
    childFields.forEach((fields, parent) => {
      fields?.forEach((field, child) => {
        if (field !== -1) exports.setChildField(parent, child, field);
      });
    });
  }

  /**
   * Writes the `_bulk` item of `line`, which the scan has just accepted, and returns the event's timestamp;
   * undefined (nothing written) when the line is the JS encoder's.
   */
  write(line: Buffer, encoding: BufferEncoding, origin: EventOrigin, out: ByteWriter): string | undefined {
    if (origin.path !== this.#path) {
      this.#path = origin.path;
      this.#pathFits = this.#trySetText(
        this.#textId('ORCHESTRATOR_END_TO_OFFSET'),
        this.#texts.fileText(origin.path),
      );
    }
    if (!this.#pathFits) return undefined;
    const exports = this.#exports;
    const header = this.#header;
    let length = exports.writeDocument(line.length, origin.offset);
    if (length === 0) {
      if (header[DECLINED] !== NEEDS_DAY || !this.#learnDay(line, header[DAY_AT] as number)) return undefined;
      length = exports.writeDocument(line.length, origin.offset);
      if (length === 0) return undefined;
    }
    const id = eventIdOf(this.#identityOf(header[IDENTITY_LENGTH] as number));
    const start = out.length;
    out.copy(this.#output, 0, length);
    out.writeAsciiAt(start + (header[ID_AT] as number), id);
    out.writeAsciiAt(start + (header[ID_AT_2] as number), id);
    return line.toString(encoding, header[TIME_START], header[TIME_END]);
  }

  /** The identity's bytes: a view kept per length (a cluster's identities come in few lengths). */
  #identityOf(length: number): Uint8Array {
    let view = this.#identityViews[length];
    if (view === undefined) {
      view = this.#identity.subarray(0, length);
      if (length < MAX_KEPT_VIEW) this.#identityViews[length] = view;
    }
    return view;
  }

  /** Tells the writer the day at `at` is valid, if Date.parse takes it (as BulkLineEncoder asks). */
  #learnDay(line: Buffer, at: number): boolean {
    const day = line.subarray(at, at + DATE_LENGTH);
    if (Number.isNaN(Date.parse(`${day.toString('latin1')}T00:00:00Z`))) return false;
    this.#setText(this.#textId('VALID_DAY'), day);
    return true;
  }

  #textId(name: 'ORCHESTRATOR_END_TO_OFFSET' | 'VALID_DAY'): number {
    return this.#exports[name].value as number;
  }

  #setText(id: number, text: Uint8Array): void {
    if (!this.#trySetText(id, text)) throw new TextTooLong(`the document writer has no room for text ${id}`);
  }

  #trySetText(id: number, text: Uint8Array): boolean {
    if (text.length > this.#textInput.length) return false;
    this.#textInput.set(text);
    return this.#exports.setText(id, text.length) === 1;
  }
}
