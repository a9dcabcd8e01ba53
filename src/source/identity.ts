// File identity: device + inode + a SHA-256 fingerprint of the file's first bytes. The fingerprint
// grows with a young file up to FINGERPRINT_MAX_BYTES, so a recycled inode (other content) is a new
// file while a copy or a gzip of the file (other inode, same head) is recognised as the same content.
import { createHash, randomBytes } from 'node:crypto';
import type { FileHandle } from 'node:fs/promises';
import { gunzipSync, constants as zlibConstants } from 'node:zlib';

/** How many head bytes identify a file (Filebeat's fingerprint uses the same 1 KiB). */
export const FINGERPRINT_MAX_BYTES = 1024;

/**
 * Fewest head bytes that identify a file by content alone (no inode to go by, e.g. a .gz backup):
 * below this an empty or nearly empty head would match unrelated files.
 */
export const MIN_CONTENT_MATCH_BYTES = 16;

const GZIP_MAGIC_0 = 0x1f;
const GZIP_MAGIC_1 = 0x8b;
/** Compressed bytes tried, in turn, to decompress a head. */
const GZIP_HEAD_INPUT_STEPS = [8 * 1024, 256 * 1024];

/** What identifies one audit file; persisted in the checkpoint. */
export interface FileIdentity {
  readonly dev: number;
  readonly ino: number;
  /** SHA-256 (hex) of the first `fingerprintBytes` bytes of the (uncompressed) content. */
  readonly fingerprint: string;
  readonly fingerprintBytes: number;
}

/** The first bytes of a file's uncompressed content, and whether the file is gzip-compressed. */
export interface FileHead {
  readonly bytes: Buffer;
  readonly compressed: boolean;
  /**
   * False when the head is shorter than asked for and may still grow: a .gz still being written
   * (gzip buffers its output, so a young .gz decompresses to little or nothing).
   */
  readonly complete: boolean;
}

export function sha256Hex(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

/** A fingerprint over the whole given head (which callers cap at FINGERPRINT_MAX_BYTES). */
export function fingerprintOf(head: Buffer): { fingerprint: string; fingerprintBytes: number } {
  const bytes = head.subarray(0, FINGERPRINT_MAX_BYTES);
  return { fingerprint: sha256Hex(bytes), fingerprintBytes: bytes.length };
}

/** True when `head` starts with the bytes the identity's fingerprint was taken over. */
export function headMatches(
  identity: Pick<FileIdentity, 'fingerprint' | 'fingerprintBytes'>,
  head: Buffer,
): boolean {
  if (head.length < identity.fingerprintBytes) return false;
  return sha256Hex(head.subarray(0, identity.fingerprintBytes)) === identity.fingerprint;
}

/**
 * True when a file found by content alone (other inode) holds the content this identity names. An
 * identity with a near-empty fingerprint matches nothing: it cannot tell files apart.
 */
export function contentMatches(
  identity: Pick<FileIdentity, 'fingerprint' | 'fingerprintBytes'>,
  head: Buffer,
): boolean {
  return identity.fingerprintBytes >= MIN_CONTENT_MATCH_BYTES && headMatches(identity, head);
}

/** A new checkpoint key; unique even when an inode number is recycled. */
export function newFileKey(dev: number, ino: number): string {
  return `${dev}:${ino}:${randomBytes(6).toString('hex')}`;
}

export function isGzipMagic(data: Buffer): boolean {
  return data.length >= 2 && data[0] === GZIP_MAGIC_0 && data[1] === GZIP_MAGIC_1;
}

/** Reads up to `maxBytes` from the start of a plain file through its descriptor. */
export async function readPlainHead(handle: FileHandle, maxBytes = FINGERPRINT_MAX_BYTES): Promise<Buffer> {
  const buffer = Buffer.alloc(maxBytes);
  let filled = 0;
  while (filled < maxBytes) {
    const { bytesRead } = await handle.read(buffer, filled, maxBytes - filled, filled);
    if (bytesRead === 0) break;
    filled += bytesRead;
  }
  return buffer.subarray(0, filled);
}

/**
 * Reads the head of a file's uncompressed content: gzip files (by magic bytes, whatever their
 * name) are decompressed just far enough. A plain head is always complete: a short file is short.
 */
export async function readHead(handle: FileHandle, maxBytes = FINGERPRINT_MAX_BYTES): Promise<FileHead> {
  const raw = await readPlainHead(handle, maxBytes);
  if (!isGzipMagic(raw)) return { bytes: raw, compressed: false, complete: true };
  return { ...(await readGzipHead(handle, maxBytes)), compressed: true };
}

async function readGzipHead(
  handle: FileHandle,
  maxBytes: number,
): Promise<{ bytes: Buffer; complete: boolean }> {
  // Z_SYNC_FLUSH makes a truncated input (a .gz still being written) yield what it holds instead of
  // failing; a few KiB of compressed audit JSON decompress to far more than a fingerprint needs.
  for (const inputBytes of GZIP_HEAD_INPUT_STEPS) {
    const input = await readPlainHead(handle, inputBytes);
    let output: Buffer;
    try {
      output = gunzipSync(input, { finishFlush: zlibConstants.Z_SYNC_FLUSH });
    } catch {
      return { bytes: Buffer.alloc(0), complete: false };
    }
    if (output.length >= maxBytes) return { bytes: output.subarray(0, maxBytes), complete: true };
    if (input.length < inputBytes) return { bytes: output, complete: isWholeGzip(input) };
  }
  return { bytes: Buffer.alloc(0), complete: false };
}

/** True when `data` is a gzip stream that ends properly (its trailer is written). */
function isWholeGzip(data: Buffer): boolean {
  try {
    gunzipSync(data);
    return true;
  } catch {
    return false;
  }
}

/**
 * The uncompressed size recorded in a gzip file's trailer (ISIZE: the size modulo 2^32 of the
 * last member). Good enough for status and loss accounting of audit backups (at most a few 100 MiB).
 */
export async function readGzipTrailerSize(handle: FileHandle, fileSize: number): Promise<number | undefined> {
  if (fileSize < 18) return undefined;
  const trailer = Buffer.alloc(4);
  const { bytesRead } = await handle.read(trailer, 0, 4, fileSize - 4);
  return bytesRead === 4 ? trailer.readUInt32LE(0) : undefined;
}
