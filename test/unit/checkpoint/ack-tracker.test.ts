import { describe, expect, it } from 'vitest';
import { AckTracker } from '../../../src/checkpoint/ack-tracker.ts';

describe('AckTracker', () => {
  it('advances the watermark only over contiguous acknowledged ranges', () => {
    const tracker = new AckTracker();
    const first = tracker.add('f', 0, 100);
    const second = tracker.add('f', 100, 250);
    const third = tracker.add('f', 250, 300);
    expect(tracker.ack(third)).toBeUndefined();
    expect(tracker.ack(second)).toBeUndefined();
    expect(tracker.watermark('f')).toBe(0);
    expect(tracker.ack(first)).toBe(300);
    expect(tracker.unackedBytes('f')).toBe(0);
  });

  it('starts the watermark at the first range (a resumed file)', () => {
    const tracker = new AckTracker();
    const segment = tracker.add('f', 4096, 5000);
    expect(tracker.watermark('f')).toBe(4096);
    expect(tracker.unackedBytes('f')).toBe(904);
    expect(tracker.ack(segment)).toBe(5000);
  });

  it('merges a range into the open segment it directly follows', () => {
    const tracker = new AckTracker();
    const segment = tracker.add('f', 0, 10);
    expect(tracker.add('f', 10, 20, segment)).toBe(segment);
    expect(segment.end).toBe(20);
    expect(tracker.add('f', 25, 30, segment)).not.toBe(segment);
  });

  it('keeps files apart', () => {
    const tracker = new AckTracker();
    const a = tracker.add('a', 0, 10);
    tracker.add('b', 0, 10);
    tracker.ack(a);
    expect(tracker.watermark('a')).toBe(10);
    expect(tracker.watermark('b')).toBe(0);
    tracker.forget('b');
    expect(tracker.watermark('b')).toBeUndefined();
  });

  it('handles many out-of-order acknowledgements', () => {
    const tracker = new AckTracker();
    const segments = Array.from({ length: 5000 }, (_, i) => tracker.add('f', i * 10, i * 10 + 10));
    for (let i = segments.length - 1; i > 0; i--) tracker.ack(segments[i]!);
    expect(tracker.watermark('f')).toBe(0);
    expect(tracker.ack(segments[0]!)).toBe(50_000);
  });
});
