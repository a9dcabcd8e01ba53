// Turns out-of-order batch acknowledgements into a per-file low watermark: the offset before
// which every byte range handed out has been acknowledged. Only that watermark is checkpointed.

export interface Segment {
  readonly fileKey: string;
  readonly start: number;
  end: number;
  acked: boolean;
}

interface FileProgress {
  /** Unacknowledged (or acknowledged but not yet contiguous) segments, in read order. */
  readonly pending: Segment[];
  /** Index of the first segment still in `pending` (avoids shifting the array). */
  head: number;
  watermark: number;
}

export class AckTracker {
  readonly #files = new Map<string, FileProgress>();

  /**
   * Registers the next range read from a file. Ranges of one file must be added in read order and
   * be contiguous; a range that directly follows the last unacked one of the same owner is merged.
   */
  add(fileKey: string, start: number, end: number, mergeInto?: Segment): Segment {
    let progress = this.#files.get(fileKey);
    if (!progress) {
      progress = { pending: [], head: 0, watermark: start };
      this.#files.set(fileKey, progress);
    }
    if (mergeInto && mergeInto.fileKey === fileKey && mergeInto.end === start && !mergeInto.acked) {
      mergeInto.end = end;
      return mergeInto;
    }
    const segment: Segment = { fileKey, start, end, acked: false };
    progress.pending.push(segment);
    return segment;
  }

  /** Acknowledges a segment; returns the file's new watermark when it advanced. */
  ack(segment: Segment): number | undefined {
    segment.acked = true;
    const progress = this.#files.get(segment.fileKey);
    if (!progress) return undefined;
    const before = progress.watermark;
    while (progress.head < progress.pending.length) {
      const first = progress.pending[progress.head];
      if (!first?.acked) break;
      progress.watermark = first.end;
      progress.head++;
    }
    if (progress.head === progress.pending.length) {
      progress.pending.length = 0;
      progress.head = 0;
    } else if (progress.head > 1024) {
      progress.pending.splice(0, progress.head);
      progress.head = 0;
    }
    return progress.watermark > before ? progress.watermark : undefined;
  }

  watermark(fileKey: string): number | undefined {
    return this.#files.get(fileKey)?.watermark;
  }

  /** Bytes read from a file but not yet acknowledged. */
  unackedBytes(fileKey: string): number {
    const progress = this.#files.get(fileKey);
    if (!progress) return 0;
    const last = progress.pending.at(-1);
    return last && progress.head < progress.pending.length ? last.end - progress.watermark : 0;
  }

  forget(fileKey: string): void {
    this.#files.delete(fileKey);
  }
}
