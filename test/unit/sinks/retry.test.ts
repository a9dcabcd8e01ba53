import { describe, expect, it } from 'vitest';
import { abortableDelay, backoffDelayMs } from '../../../src/sinks/retry.ts';

const options = { initialBackoffMs: 500, maxBackoffMs: 30_000 };

describe('backoffDelayMs', () => {
  it('grows exponentially up to the cap, with full jitter', () => {
    expect(backoffDelayMs(1, options, undefined, () => 0.999)).toBe(499);
    expect(backoffDelayMs(3, options, undefined, () => 0.999)).toBe(1998);
    expect(backoffDelayMs(20, options, undefined, () => 0.999)).toBe(29_970);
    expect(backoffDelayMs(500, options, undefined, () => 0.999)).toBe(29_970);
    expect(backoffDelayMs(3, options, undefined, () => 0)).toBe(0);
  });

  it('waits at least a Retry-After, but never beyond the cap', () => {
    expect(backoffDelayMs(1, options, 5000, () => 0)).toBe(5000);
    expect(backoffDelayMs(1, options, 3_600_000, () => 0)).toBe(30_000);
  });
});

describe('abortableDelay', () => {
  it('rejects as soon as the signal aborts', async () => {
    const controller = new AbortController();
    const waiting = abortableDelay(60_000, controller.signal);
    controller.abort(new Error('stop'));
    await expect(waiting).rejects.toThrow('stop');
  });
});
