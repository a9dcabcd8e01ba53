// Validates a JSON object held as bytes and finds its top-level members in the same pass, without building
// any value: the per-event hot path for sinks that copy most of the line instead of re-serializing it.
// The scan itself is WebAssembly (wasm/json-scan.ts, built into json-scan.wasm beside this file): its string
// loops take 16 bytes at a time, ~5x quicker than V8's byte loops on this path. This class is its JS face.
// Sound, not complete: true means JSON.parse accepts the text (RFC 8259 grammar, checked as strictly);
// false means invalid or merely unusual (not an object, nested deeper than 256, longer than ObjectScan.maxLine (1 MiB),
// more members than the scan's lists hold), and the caller then takes the JSON.parse path, which also words
// the error. UTF-8 validity is the caller's check (isUtf8).
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';

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
/**
 * The key's index in the scan's knownKeys, or -1: not one of them, written with an escape, or a child of a
 * member whose own key is not known (the caller only looks inside members it knows).
 */
export const KEY_ID = 4;
export const FLAGS = 5;
/** The member's own members when its value is an object: a range of ObjectScan.children. */
export const CHILDREN_START = 6;
export const CHILDREN_END = 7;
/** A stringified member's value as a JSON string: a range of ObjectScan.strings.bytes (else -1, -1). */
export const STRING_START = 8;
export const STRING_END = 9;
export const MEMBER_FIELDS = 10;
/** Fields of one nested member in ObjectScan.children (KEY_START...KEY_ID). */
export const CHILD_FIELDS = 5;

/** What the module exports (wasm/json-scan.ts): the addresses of its memory's regions, and the scan. */
interface ScanExports {
  readonly memory: WebAssembly.Memory;
  readonly HEADER: WebAssembly.Global;
  readonly MEMBERS: WebAssembly.Global;
  readonly CHILDREN: WebAssembly.Global;
  readonly DOTTED: WebAssembly.Global;
  readonly INPUT: WebAssembly.Global;
  readonly STRINGS: WebAssembly.Global;
  readonly MAX_LINE: WebAssembly.Global;
  addStringifiedKey(length: number): number;
  addKnownKey(length: number): number;
  scan(length: number): number;
}

/** The compiled module, once per thread (each ObjectScan instantiates it with a memory of its own). */
let compiledScan: WebAssembly.Module | undefined;

function scanModule(): WebAssembly.Module {
  compiledScan ??= new WebAssembly.Module(readFileSync(new URL('./json-scan.wasm', import.meta.url)));
  return compiledScan;
}

/** A list of integers the scan wrote: `values` is a view of the module's memory, `length` how many it wrote. */
export interface ScanList {
  readonly values: Int32Array;
  length: number;
}

/**
 * Reusable: one instance scans line after line without allocating. Its memory is laid out once (~19 MB of
 * address space, resident only as far as lines reach) and never grows, so its views stay valid.
 */
export class ObjectScan {
  /** MEMBER_FIELDS numbers per top-level member, in order (see KEY_START...CHILDREN_END). */
  readonly members: ScanList;
  /** CHILD_FIELDS numbers per member of a top-level member's object value. */
  readonly children: ScanList;
  /** Key start and end of every nested key that has a dot, in order (none in stringified values). */
  readonly dottedKeys: ScanList;
  /** The stringified members' values (their flags and children are not noted: the text is all they need). */
  readonly strings: { readonly bytes: Uint8Array; length: number };
  /** Where the object's '{' is, and the index after its '}'. */
  objectStart = 0;
  objectEnd = 0;
  /** The longest line scanned; a longer one is left to JSON.parse. */
  readonly maxLine: number;
  /** The module instance's exports, for code of the same module that reads the scan's records after it. */
  readonly moduleExports: Readonly<Record<string, unknown>>;
  readonly #exports: ScanExports;
  readonly #input: Uint8Array;
  /** The scan's counts: members, children and dotted keys (numbers written), string bytes, object start, end. */
  readonly #header: Int32Array;

  /**
   * `stringifiedKeys`: top-level keys (as written, without escapes) whose values go to `strings`.
   * `knownKeys`: keys (at most 64, of up to 63 bytes) whose index members and children carry as KEY_ID.
   */
  constructor(
    options: { readonly stringifiedKeys?: readonly string[]; readonly knownKeys?: readonly string[] } = {},
  ) {
    // The module asks JS for what it does not check itself: isIP() of a text of the line (its document writer
    // reads plain IPv4 addresses alone). Latin-1 decodes each byte to one character: any non-ASCII byte makes
    // the text no address, as in UTF-8.
    const line = { input: Buffer.alloc(0) };
    const imports = {
      'bulk-document': {
        isIP: (start: number, end: number): number => isIP(line.input.toString('latin1', start, end)),
      },
    };
    const exports = new WebAssembly.Instance(scanModule(), imports).exports as unknown as ScanExports;
    this.#exports = exports;
    this.moduleExports = exports as unknown as Readonly<Record<string, unknown>>;
    const { buffer } = exports.memory;
    const address = (region: WebAssembly.Global): number => region.value as number;
    this.maxLine = address(exports.MAX_LINE);
    this.#input = new Uint8Array(buffer, address(exports.INPUT), this.maxLine);
    line.input = Buffer.from(buffer, address(exports.INPUT), this.maxLine);
    this.#header = new Int32Array(buffer, address(exports.HEADER), 6);
    // The regions lie one after the other: members, children, dotted keys, the line, the strings.
    const list = (start: number, end: number): ScanList => ({
      values: new Int32Array(buffer, start, (end - start) / 4),
      length: 0,
    });
    this.members = list(address(exports.MEMBERS), address(exports.CHILDREN));
    this.children = list(address(exports.CHILDREN), address(exports.DOTTED));
    this.dottedKeys = list(address(exports.DOTTED), address(exports.INPUT));
    this.strings = { bytes: new Uint8Array(buffer, address(exports.STRINGS), 2 * this.maxLine), length: 0 };
    for (const key of options.stringifiedKeys ?? []) {
      const bytes = Buffer.from(key);
      this.#input.set(bytes);
      if (exports.addStringifiedKey(bytes.length) !== 1) throw new Error(`cannot stringify key ${key}`);
    }
    const knownKeys = options.knownKeys ?? [];
    if (new Set(knownKeys).size !== knownKeys.length) throw new Error('known keys must be distinct');
    knownKeys.forEach((key, index) => {
      const bytes = Buffer.from(key);
      this.#input.set(bytes);
      if (exports.addKnownKey(bytes.length) !== index) throw new Error(`cannot know key ${key}`);
    });
  }

  /** Scans all of `bytes`: true when it is one JSON object, with whitespace around it at most. */
  scan(bytes: Uint8Array): boolean {
    if (bytes.length > this.maxLine) return false;
    this.#input.set(bytes);
    const valid = this.#exports.scan(bytes.length) === 1;
    const header = this.#header;
    this.members.length = header[0] as number;
    this.children.length = header[1] as number;
    this.dottedKeys.length = header[2] as number;
    this.strings.length = header[3] as number;
    this.objectStart = header[4] as number;
    this.objectEnd = header[5] as number;
    return valid;
  }
}

/** JSON's insignificant whitespace: space, tab, line feed, carriage return. */
export function isJsonWhitespace(code: number): boolean {
  return code === 0x20 || code === 0x0a || code === 0x0d || code === 0x09;
}
