import { describe, expect, it } from 'vitest';
import { BufferPool } from '../../../src/pipeline/buffer-pool.ts';
import { selectEvents } from '../../../src/pipeline/payload.ts';

const events = { payload: Buffer.from('a\nbb\nccc\ndddd\n'), ends: [2, 5, 9, 14] };

function texts(selected: { payload: Buffer; ends: ArrayLike<number> }): string[] {
  return Array.from(selected.ends, (end, index) =>
    selected.payload.subarray(index === 0 ? 0 : selected.ends[index - 1], end).toString(),
  );
}

describe('selectEvents', () => {
  it('takes a contiguous run as a view of the payload', () => {
    const selected = selectEvents(events, [1, 2]);
    expect(texts(selected)).toEqual(['bb\n', 'ccc\n']);
    expect(selected.payload.buffer).toBe(events.payload.buffer);
  });

  it('copies scattered events in order', () => {
    expect(texts(selectEvents(events, [0, 3]))).toEqual(['a\n', 'dddd\n']);
    expect(texts(selectEvents(events, [0, 1, 2, 3]))).toEqual(['a\n', 'bb\n', 'ccc\n', 'dddd\n']);
  });

  it('selects nothing from no indices', () => {
    expect(selectEvents(events, [])).toEqual({ payload: Buffer.alloc(0), ends: [] });
  });
});

describe('BufferPool', () => {
  it('hands a released buffer out again, the smallest that fits', () => {
    const pool = new BufferPool(4);
    const big = pool.acquire(2 * 1024 * 1024);
    const small = pool.acquire(300 * 1024);
    pool.release(big.subarray(10, 20));
    pool.release(small);
    expect(pool.acquire(100).buffer).toBe(small.buffer);
    expect(pool.acquire(1024 * 1024).buffer).toBe(big.buffer);
    expect(pool.acquire(1024 * 1024).buffer).not.toBe(big.buffer);
  });

  it('keeps at most maxFree buffers, the largest ones, and ignores detached ones', () => {
    const pool = new BufferPool(1);
    const first = pool.acquire(300 * 1024);
    const second = pool.acquire(600 * 1024);
    pool.release(first);
    pool.release(second);
    expect(pool.acquire(1).buffer).toBe(second.buffer);
    const detached = pool.acquire(300 * 1024);
    structuredClone(detached.buffer, { transfer: [detached.buffer as ArrayBuffer] });
    pool.release(detached);
    expect(pool.acquire(1).buffer).not.toBe(detached.buffer);
  });

  it('frees a buffer above maxKeptBytes at once instead of keeping it', () => {
    const pool = new BufferPool(4, 1024 * 1024);
    const huge = pool.acquire(3 * 1024 * 1024);
    const usual = pool.acquire(512 * 1024);
    const hugeBuffer = huge.buffer;
    pool.release(huge);
    pool.release(usual);
    // Its memory is gone (the ArrayBuffer detached), and the pool hands out the one it kept.
    expect(hugeBuffer.byteLength).toBe(0);
    expect(pool.acquire(1).buffer).toBe(usual.buffer);
    expect(pool.acquire(2 * 1024 * 1024).byteLength).toBe(2 * 1024 * 1024);
  });
});
