import { describe, expect, it } from 'vitest';
import { LineSplitter } from '../../../src/source/line-splitter.ts';
import { lineOffsetOf, linesOf as chunkLines, type SourceItem } from '../../../src/source/source.ts';

const file = { key: 'k', path: '/p' };

function splitAll(
  data: Buffer,
  pieceSizes: readonly number[],
  maxLineBytes = 1024,
  startOffset = 0,
): SourceItem[] {
  const splitter = new LineSplitter(file, startOffset, { maxLineBytes, oversizeHeadBytes: 8 });
  const out: SourceItem[] = [];
  let position = 0;
  let index = 0;
  while (position < data.length) {
    const size = Math.max(1, pieceSizes[index++ % pieceSizes.length] ?? 1);
    // Copy each piece into a reused buffer, as the reader does, to catch retained subarrays.
    const reused = Buffer.alloc(size);
    const piece = data.subarray(position, position + size);
    piece.copy(reused);
    splitter.push(reused.subarray(0, piece.length), out);
    // Materialize lines now: they are only valid until the next push.
    for (let i = 0; i < out.length; i++) {
      const item = out[i]!;
      if (item.kind === 'lines') out[i] = { ...item, data: Buffer.from(item.data) };
    }
    position += piece.length;
  }
  return out;
}

function linesOf(items: readonly SourceItem[]): string[] {
  return items.flatMap((item) =>
    item.kind === 'lines' ? chunkLines(item).map((line) => line.toString()) : [],
  );
}

function expectContiguous(items: readonly SourceItem[], from: number, to: number): void {
  let offset = from;
  for (const item of items) {
    expect(item.start).toBe(offset);
    expect(item.end).toBeGreaterThan(item.start);
    offset = item.end;
  }
  expect(offset).toBe(to);
}

describe('LineSplitter', () => {
  it('emits complete lines with their exact byte offsets', () => {
    const items = splitAll(Buffer.from('{"a":1}\n{"b":"µ"}\n'), [1000], 1024, 100);
    expect(linesOf(items)).toEqual(['{"a":1}', '{"b":"µ"}']);
    const chunk = items[0];
    expect(chunk?.kind === 'lines' && chunk.lineEnds.map((_, index) => lineOffsetOf(chunk, index))).toEqual([
      100, 108,
    ]);
    expectContiguous(items, 100, 100 + Buffer.byteLength('{"a":1}\n{"b":"µ"}\n'));
  });

  it('never emits a partial line, even when fed one byte at a time', () => {
    const text = 'first line\nsecond\n\nthird is unfinished';
    const items = splitAll(Buffer.from(text), [1]);
    expect(linesOf(items)).toEqual(['first line', 'second', '']);
    expectContiguous(items, 0, text.lastIndexOf('\n') + 1);
  });

  it('emits the unterminated last line of a finished file on finish', () => {
    const splitter = new LineSplitter(file, 0, { maxLineBytes: 100 });
    const out: SourceItem[] = [];
    splitter.push(Buffer.from('a\nbc'), out);
    splitter.finish(out);
    expect(linesOf(out)).toEqual(['a', 'bc']);
    expectContiguous(out, 0, 4);
  });

  it('reports an oversize line with its length and a bounded head, then goes on', () => {
    const long = 'x'.repeat(5000);
    const text = `short\n${long}\nafter\n`;
    const items = splitAll(Buffer.from(text), [7, 300, 1]);
    expect(linesOf(items)).toEqual(['short', 'after']);
    const oversize = items.find((item) => item.kind === 'oversize');
    expect(oversize).toMatchObject({ kind: 'oversize', start: 6, end: 6 + 5001, length: 5000 });
    expect(oversize?.kind === 'oversize' && oversize.head.toString()).toBe('xxxxxxxx');
    expectContiguous(items, 0, text.length);
  });

  it('skips runs of NUL bytes at a line start and reports them as a skipped range', () => {
    const text = `a\n${'\0'.repeat(50)}{"b":2}\n`;
    const items = splitAll(Buffer.from(text), [3, 5, 11]);
    expect(linesOf(items)).toEqual(['a', '{"b":2}']);
    const skipped = items.filter((item) => item.kind === 'skipped');
    expect(skipped.reduce((sum, item) => sum + item.end - item.start, 0)).toBe(50);
    expectContiguous(items, 0, text.length);
  });

  it('covers every byte exactly once for random content and random read sizes', () => {
    let seed = 42;
    const random = (): number => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed / 0x7fffffff;
    };
    for (let trial = 0; trial < 50; trial++) {
      const expected: string[] = [];
      let text = '';
      for (let i = 0; i < 40; i++) {
        const line = 'y'.repeat(Math.floor(random() * (random() < 0.1 ? 2000 : 100)));
        text += `${line}\n`;
        if (line.length <= 1024) expected.push(line);
      }
      const sizes = Array.from({ length: 7 }, () => 1 + Math.floor(random() * 700));
      const items = splitAll(Buffer.from(text), sizes);
      expect(linesOf(items)).toEqual(expected);
      expectContiguous(items, 0, text.length);
    }
  });
});
