// Picks events out of an encoded batch, for resending part of it (a partial result, or the halves
// of a batch the sink found too large).

export interface EncodedEvents {
  readonly payload: Buffer;
  readonly ends: ArrayLike<number>;
}

/** The events at `indices` (ascending), copied only when they are not one contiguous run. */
export function selectEvents(events: EncodedEvents, indices: readonly number[]): EncodedEvents {
  const first = indices[0];
  if (first === undefined) return { payload: events.payload.subarray(0, 0), ends: [] };
  const last = indices[indices.length - 1] as number;
  const startOf = (index: number): number => (index === 0 ? 0 : (events.ends[index - 1] as number));
  if (last - first + 1 === indices.length) {
    const base = startOf(first);
    return {
      payload: events.payload.subarray(base, events.ends[last]),
      ends:
        indices.length === events.ends.length
          ? events.ends
          : indices.map((index) => (events.ends[index] as number) - base),
    };
  }
  const parts: Buffer[] = [];
  const ends: number[] = [];
  let length = 0;
  for (const index of indices) {
    const part = events.payload.subarray(startOf(index), events.ends[index]);
    parts.push(part);
    length += part.length;
    ends.push(length);
  }
  return { payload: Buffer.concat(parts, length), ends };
}
