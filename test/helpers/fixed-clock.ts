// For tests that encode the same lines two ways: events without a time of their own are stamped with the
// clock's, so both ways must read the same clock.
import { afterAll, beforeAll, vi } from 'vitest';

/** Fixes Date (only) for the tests of the calling describe block. */
export function useFixedClock(now = new Date('2026-05-06T07:08:09.123Z')): void {
  beforeAll(() => {
    vi.useFakeTimers({ toFake: ['Date'], now });
  });
  afterAll(() => {
    vi.useRealTimers();
  });
}
