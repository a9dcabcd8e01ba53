// Finds where the last complete line of a file ends, reading backwards in 64 KiB steps.

import type { FileHandle } from 'node:fs/promises';

/** The offset just past the last '\n' at or before `size`; 0 when there is none. */
export async function lineAlignedEnd(handle: FileHandle, size: number): Promise<number> {
  const buffer = Buffer.alloc(64 * 1024);
  let end = size;
  while (end > 0) {
    const from = Math.max(0, end - buffer.length);
    const { bytesRead } = await handle.read(buffer, 0, end - from, from);
    const newline = buffer.subarray(0, bytesRead).lastIndexOf(0x0a);
    if (newline !== -1) return from + newline + 1;
    end = from;
  }
  return 0;
}
