// The single retry policy: exponential backoff with full jitter and a cap, honouring a server's
// Retry-After. Client libraries' own retries are off, so attempts are counted here only.

export interface BackoffOptions {
  readonly initialBackoffMs: number;
  readonly maxBackoffMs: number;
}

/** Delay before attempt `attempt` (1 = first retry): random in [0, min(cap, initial * 2^(attempt-1))]. */
export function backoffDelayMs(
  attempt: number,
  options: BackoffOptions,
  retryAfterMs?: number,
  random: () => number = Math.random,
): number {
  const ceiling = Math.min(options.maxBackoffMs, options.initialBackoffMs * 2 ** Math.min(attempt - 1, 30));
  const jittered = Math.floor(random() * ceiling);
  // A server's Retry-After is a floor, still capped so a bogus header cannot park a sink for hours.
  return retryAfterMs === undefined
    ? jittered
    : Math.min(Math.max(jittered, retryAfterMs), options.maxBackoffMs);
}

/** Resolves after `ms`, or rejects with the signal's reason when it aborts first. */
export function abortableDelay(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) {
      reject(signal.reason as Error);
      return;
    }
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal.reason as Error);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
