// Where an encoder writes an event's wire form: text it produced, and spans of the event's original
// line. Spans are copied from the line's bytes when they are given (offsets are then byte offsets: an ASCII
// line's string, or the Elasticsearch path's byte spans), which spares re-encoding most of the event.

/** Up to this many characters or bytes, a JS loop copies faster than a native call. */
const SHORT = 48;
/** Up to this many bytes, a loop copies prepared bytes faster than TypedArray.set. */
const PREPARED_SHORT = 8;

/** How many decimal digits a number of 0 to 999,999,999 has. */
function digitCount(value: number): number {
  let count = 1;
  for (let bound = 10; count < 9 && value >= bound; bound *= 10) count++;
  return count;
}

export interface WireWriter {
  text(value: string): void;
  /** Appends event.raw.slice(start, end). */
  raw(start: number, end: number): void;
}

/** Builds the wire form as a string (tests, and callers that want one). */
export class StringWriter implements WireWriter {
  readonly #raw: string;
  value = '';

  constructor(raw: string) {
    this.#raw = raw;
  }

  text(value: string): void {
    this.value += value;
  }

  raw(start: number, end: number): void {
    this.value += this.#raw.slice(start, end);
  }
}

/** Writes wire forms as UTF-8 into one buffer, growing it by doubling. */
export class ByteWriter implements WireWriter {
  #bytes: Buffer;
  #length = 0;
  #rawText = '';
  #rawBytes: Buffer | undefined;

  constructor(initial: Buffer) {
    this.#bytes = initial;
  }

  get length(): number {
    return this.#length;
  }

  /** The event whose spans raw() copies; `bytes`: its line, when it is the same text byte for byte. */
  startEvent(raw: string, bytes: Buffer | undefined): void {
    this.#rawText = raw;
    this.#rawBytes = bytes;
  }

  text(value: string): void {
    // A UTF-16 code unit never takes more than 3 bytes in UTF-8.
    this.#reserve(value.length * 3);
    const bytes = this.#bytes;
    if (value.length <= SHORT) {
      // Short ASCII text (most of what encoders write) is quicker to copy here than through a native call.
      let at = this.#length;
      for (let index = 0; index < value.length; index++) {
        const code = value.charCodeAt(index);
        if (code > 0x7f) {
          at = -1;
          break;
        }
        bytes[at++] = code;
      }
      if (at !== -1) {
        this.#length = at;
        return;
      }
    }
    this.#length += bytes.write(value, this.#length);
  }

  /** Appends bytes prepared once (text every event has, encoded up front: cheaper than text()). */
  append(prepared: Uint8Array): void {
    this.#reserve(prepared.length);
    const bytes = this.#bytes;
    if (prepared.length > PREPARED_SHORT) {
      bytes.set(prepared, this.#length);
      this.#length += prepared.length;
      return;
    }
    let at = this.#length;
    for (let index = 0; index < prepared.length; index++) bytes[at++] = prepared[index] as number;
    this.#length = at;
  }

  /** Writes ASCII `text` over what was written at `position` (room left for it). */
  writeAsciiAt(position: number, text: string): void {
    const bytes = this.#bytes;
    for (let index = 0; index < text.length; index++) bytes[position + index] = text.charCodeAt(index);
  }

  /** Appends source[start, end) (a whole document written elsewhere). */
  copy(source: Buffer, start: number, end: number): void {
    this.#reserve(end - start);
    this.#length += source.copy(this.#bytes, this.#length, start, end);
  }

  raw(start: number, end: number): void {
    const source = this.#rawBytes;
    if (source === undefined) {
      this.text(this.#rawText.slice(start, end));
      return;
    }
    this.#reserve(end - start);
    if (end - start > SHORT) {
      this.#length += source.copy(this.#bytes, this.#length, start, end);
      return;
    }
    const bytes = this.#bytes;
    let at = this.#length;
    for (let index = start; index < end; index++) bytes[at++] = source[index] as number;
    this.#length = at;
  }

  /** Removes the byte written at `position` (a separator that turned out to lead), if anything follows it. */
  dropByte(position: number): void {
    if (position >= this.#length) return;
    this.#bytes.copyWithin(position, position + 1, this.#length);
    this.#length--;
  }

  /** Appends a number as JSON (and String()) writes it; integers digit by digit, without a string. */
  number(value: number): void {
    if (!Number.isSafeInteger(value) || value < 0) {
      this.text(String(value));
      return;
    }
    // Up to 9 digits at a time in int32 arithmetic, whose division by 10 compiles to a multiplication.
    const high = Math.floor(value / 1e9);
    const low = value - high * 1e9;
    if (high === 0) this.#digits(low, digitCount(low));
    else {
      this.#digits(high, digitCount(high));
      this.#digits(low, 9);
    }
  }

  /** Appends `value` (0 to 999,999,999) as `count` decimal digits, leading zeros included. */
  #digits(value: number, count: number): void {
    this.#reserve(count);
    const bytes = this.#bytes;
    let rest = value | 0;
    for (let at = this.#length + count - 1; at >= this.#length; at--) {
      const next = (rest / 10) | 0;
      bytes[at] = 0x30 + rest - next * 10;
      rest = next;
    }
    this.#length += count;
  }

  /** Replaces the byte `find` by `replacement` in what was written at [start, end). */
  replaceBytes(start: number, end: number, find: number, replacement: number): void {
    const bytes = this.#bytes;
    for (let at = start; at < end; at++) if (bytes[at] === find) bytes[at] = replacement;
  }

  bytes(): Buffer {
    return this.#bytes.subarray(0, this.#length);
  }

  #reserve(bytes: number): void {
    const needed = this.#length + bytes;
    if (needed <= this.#bytes.length) return;
    // Not from Buffer's shared pool: the whole ArrayBuffer is handed back from a worker.
    const grown = Buffer.allocUnsafeSlow(Math.max(needed, this.#bytes.length * 2));
    this.#bytes.copy(grown, 0, 0, this.#length);
    this.#bytes = grown;
  }
}
