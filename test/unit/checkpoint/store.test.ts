import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CHECKPOINT_FILE, CheckpointStore, parseCheckpoint } from '../../../src/checkpoint/store.ts';
import { CheckpointError, ForwarderError } from '../../../src/errors.ts';

let dir: string;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kaf-store-'));
});

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const file = {
  key: '2049:131078:abc',
  path: '/var/log/audit.log',
  dev: 2049,
  ino: 131078,
  fingerprint: 'f'.repeat(64),
  fingerprintBytes: 1024,
  size: 5000,
  state: 'active' as const,
};

/** The file keys of a checkpoint's text. */
function keysIn(text: string): string[] {
  return (JSON.parse(text) as { files: { key: string }[] }).files.map((entry) => entry.key);
}

async function validCheckpoint(): Promise<string> {
  const { store } = await CheckpointStore.open(dir, 'fail');
  store.putFile(file);
  store.setOffset(file.key, 'es', 4000);
  await store.save();
  return readFile(join(dir, CHECKPOINT_FILE), 'utf8');
}

describe('CheckpointStore', () => {
  it('keeps per file identity and each sink offset across a save and an open', async () => {
    await validCheckpoint();
    const { store, resetTo } = await CheckpointStore.open(dir, 'fail');
    expect(resetTo).toBeUndefined();
    expect(store.getFile(file.key)).toEqual({ ...file, offsets: { es: 4000 } });
    expect(store.lastSavedAt).toBeInstanceOf(Date);
  });

  it('writes atomically: no temp file is left, and the previous checkpoint stays until the rename', async () => {
    const before = await validCheckpoint();
    const { store } = await CheckpointStore.open(dir, 'fail');
    store.setOffset(file.key, 'es', 4500);
    await store.save();
    const names = await readdir(dir);
    expect(names).toEqual([CHECKPOINT_FILE]);
    expect(JSON.parse(await readFile(join(dir, CHECKPOINT_FILE), 'utf8'))).toMatchObject({
      files: [{ offsets: { es: 4500 } }],
    });
    expect(before).not.toEqual(await readFile(join(dir, CHECKPOINT_FILE), 'utf8'));
  });

  it('does not write when nothing changed, and shares one write between concurrent saves', async () => {
    await validCheckpoint();
    const { store } = await CheckpointStore.open(dir, 'fail');
    expect(store.isDirty).toBe(false);
    store.setOffset(file.key, 'es', 4001);
    await Promise.all([store.save(), store.save(), store.save()]);
    expect(store.isDirty).toBe(false);
  });

  it.each([
    ['empty', ''],
    ['truncated', '{"version":1,"writtenAt":"2024-01-01T00:00:00.000Z","files":[{"key":"a'],
    ['garbage', '\u0000\u0000\u0000\u0000'],
    ['of another shape', '{"version":2,"files":[]}'],
  ])('refuses a checkpoint that is %s, naming the file (onCorrupt: fail)', async (_name, content) => {
    await writeFile(join(dir, CHECKPOINT_FILE), content);
    const opening = CheckpointStore.open(dir, 'fail');
    await expect(opening).rejects.toBeInstanceOf(CheckpointError);
    await expect(opening).rejects.toMatchObject({
      code: 'KAF_CHECKPOINT_CORRUPT',
      file: join(dir, CHECKPOINT_FILE),
    });
  });

  it.each(['beginning', 'end'] as const)(
    'sets a corrupt checkpoint aside and tells where to restart (onCorrupt: %s)',
    async (policy) => {
      await writeFile(join(dir, CHECKPOINT_FILE), '{"version":1,');
      const opened = await CheckpointStore.open(dir, policy);
      expect(opened.resetTo).toBe(policy);
      expect(opened.store.files).toEqual([]);
      expect(opened.corruptCopy).toMatch(/checkpoint\.json\.corrupt-/);
      expect(await readFile(opened.corruptCopy ?? '', 'utf8')).toBe('{"version":1,');
      await opened.store.save();
      expect(parseCheckpoint(await readFile(join(dir, CHECKPOINT_FILE), 'utf8')).ok).toBe(true);
    },
  );

  it('reports a state directory that cannot be written at open (ENOTDIR)', async () => {
    await writeFile(join(dir, 'regular-file'), 'x');
    const opening = CheckpointStore.open(join(dir, 'regular-file', 'state'), 'fail');
    await expect(opening).rejects.toBeInstanceOf(ForwarderError);
    await expect(opening).rejects.toMatchObject({
      code: 'KAF_STATE_DIR',
      message: expect.stringContaining('ENOTDIR') as unknown,
    });
  });

  it('reports a failed save as a checkpoint write error and stays dirty to retry', async () => {
    const { store } = await CheckpointStore.open(join(dir, 'state'), 'fail');
    store.putFile(file);
    await rm(join(dir, 'state'), { recursive: true });
    await writeFile(join(dir, 'state'), 'now a file');
    await expect(store.save()).rejects.toMatchObject({ code: 'KAF_CHECKPOINT_WRITE' });
    expect(store.isDirty).toBe(true);
  });

  it('keeps data loss records with bytes per sink, bounded in number', async () => {
    const { store } = await CheckpointStore.open(dir, 'fail');
    for (let i = 0; i < 120; i++) {
      store.addDataLoss({
        path: `/x/${i}`,
        key: `k${i}`,
        unreadBytes: i,
        unreadBytesBySink: { es: i, hec: 0 },
        detectedAt: new Date(0).toISOString(),
        reason: 'deleted-before-read',
      });
    }
    await store.save();
    const reopened = await CheckpointStore.open(dir, 'fail');
    expect(reopened.store.dataLoss).toHaveLength(100);
    expect(reopened.store.dataLoss.at(-1)).toMatchObject({
      key: 'k119',
      unreadBytesBySink: { es: 119, hec: 0 },
    });
  });

  it('ignores offsets for files it does not know and forgets removed files', async () => {
    const { store } = await CheckpointStore.open(dir, 'fail');
    store.setOffset('nope', 'es', 1);
    expect(store.files).toEqual([]);
    store.putFile(file);
    store.removeFile(file.key);
    expect(store.getFile(file.key)).toBeUndefined();
  });

  it('writes each save whole as it shrinks and grows, multi-byte paths included (its buffer is reused)', async () => {
    const { store } = await CheckpointStore.open(dir, 'fail');
    const many = Array.from({ length: 120 }, (_, n) => ({
      ...file,
      key: `2049:${n}:k`,
      ino: n,
      path: `/var/log/kube-apiserver/audit-2026-12-07T10-${String(n).padStart(2, '0')}-00.000.log`,
    }));
    const saved = async (): Promise<string> => {
      await store.save();
      return readFile(join(dir, CHECKPOINT_FILE), 'utf8');
    };
    for (const entry of many) store.putFile(entry);
    const large = await saved();
    expect(keysIn(large)).toHaveLength(120);
    for (const entry of many.slice(1)) store.removeFile(entry.key);
    const small = await saved();
    expect(small.length).toBeLessThan(large.length / 50);
    // No bytes of the larger save left behind: the file is one JSON document and a newline.
    expect(small.endsWith('}\n')).toBe(true);
    expect(keysIn(small)).toEqual([many[0]?.key]);
    const unicode = { ...file, key: 'k-ü', path: '/var/log/審計/audit-ü.log' };
    store.putFile(unicode);
    await saved();
    const reopened = await CheckpointStore.open(dir, 'fail');
    expect(reopened.store.getFile(unicode.key)).toEqual({ ...unicode, offsets: {} });
    expect(reopened.store.files).toHaveLength(2);
  });
});
