import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mkdtemp, open, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import {
  FINGERPRINT_MAX_BYTES,
  contentMatches,
  fingerprintOf,
  headMatches,
  newFileKey,
  readGzipTrailerSize,
  readHead,
} from '../../../src/source/identity.ts';

let dir: string;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kaf-identity-'));
});

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const lines = (from: number, count: number): string =>
  Array.from(
    { length: count },
    (_, i) => `{"auditID":"${String(from + i).padStart(6, '0')}","x":"${'y'.repeat(40)}"}\n`,
  ).join('');

async function headOf(name: string, content: string | Buffer): Promise<Awaited<ReturnType<typeof readHead>>> {
  const path = join(dir, name);
  await writeFile(path, content);
  const handle = await open(path, 'r');
  try {
    return await readHead(handle);
  } finally {
    await handle.close();
  }
}

describe('file identity', () => {
  it('fingerprints at most the first 1 KiB', () => {
    const content = Buffer.from(lines(0, 100));
    const { fingerprint, fingerprintBytes } = fingerprintOf(content);
    expect(fingerprintBytes).toBe(FINGERPRINT_MAX_BYTES);
    expect(fingerprint).toMatch(/^[0-9a-f]{64}$/);
    expect(fingerprintOf(content.subarray(0, 1500)).fingerprint).toBe(fingerprint);
  });

  it('still matches a young file after it grows (the fingerprint covers the bytes it had)', () => {
    const young = Buffer.from(lines(0, 2));
    const identity = fingerprintOf(young);
    expect(identity.fingerprintBytes).toBe(young.length);
    expect(headMatches(identity, Buffer.from(lines(0, 50)))).toBe(true);
  });

  it('does not match a recycled inode holding other content, nor a file shorter than the fingerprint', () => {
    const identity = fingerprintOf(Buffer.from(lines(0, 50)));
    expect(headMatches(identity, Buffer.from(lines(1000, 50)))).toBe(false);
    expect(headMatches(identity, Buffer.from(lines(0, 3)))).toBe(false);
  });

  it('matches by content alone (a copy, a .gz) only with enough head bytes to tell files apart', () => {
    expect(contentMatches(fingerprintOf(Buffer.alloc(0)), Buffer.from(lines(0, 5)))).toBe(false);
    expect(contentMatches(fingerprintOf(Buffer.from('{"a"')), Buffer.from('{"a":1}\n'))).toBe(false);
    expect(contentMatches(fingerprintOf(Buffer.from(lines(0, 1))), Buffer.from(lines(0, 5)))).toBe(true);
  });

  it('reads the decompressed head of a .gz whatever its name', async () => {
    const text = lines(0, 200);
    const head = await headOf('audit-2024-01-01T00-00-00.000.log.gz', gzipSync(text));
    expect(head).toEqual({
      bytes: Buffer.from(text).subarray(0, FINGERPRINT_MAX_BYTES),
      compressed: true,
      complete: true,
    });
    const renamed = await headOf('weird-name', gzipSync(text));
    expect(renamed.compressed).toBe(true);
  });

  it('marks the head of a .gz still being written as incomplete', async () => {
    const gz = gzipSync(lines(0, 3));
    const head = await headOf('partial.gz', gz.subarray(0, gz.length - 8));
    expect(head.compressed).toBe(true);
    expect(head.complete).toBe(false);
    const small = await headOf('small.gz', gz);
    expect(small).toMatchObject({ complete: true, bytes: Buffer.from(lines(0, 3)) });
  });

  it('reads the uncompressed size from the gzip trailer', async () => {
    const text = lines(0, 500);
    const path = join(dir, 'x.gz');
    const gz = gzipSync(text);
    await writeFile(path, gz);
    const handle = await open(path, 'r');
    expect(await readGzipTrailerSize(handle, gz.length)).toBe(Buffer.byteLength(text));
    await handle.close();
  });

  it('gives a recycled inode a new key', () => {
    expect(newFileKey(2049, 131078)).toMatch(/^2049:131078:[0-9a-f]{12}$/);
    expect(newFileKey(2049, 131078)).not.toBe(newFileKey(2049, 131078));
  });
});
