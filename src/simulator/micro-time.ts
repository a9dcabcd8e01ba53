// metav1.MicroTime text: UTC, always six fractional digits, e.g. 2024-05-06T07:08:09.123456Z.
// Formatting is on the generator's hot path, so the date part is reused while the second is unchanged.

/** Formats microsecond epoch timestamps as MicroTime; one instance per generator (it caches). */
export class MicroTimeFormatter {
  #second = Number.NaN;
  #prefix = '';

  /** @param epochMicros microseconds since the Unix epoch (an integer). */
  format(epochMicros: number): string {
    const second = Math.floor(epochMicros / 1_000_000);
    if (second !== this.#second) {
      this.#second = second;
      this.#prefix = new Date(second * 1000).toISOString().slice(0, 20);
    }
    const micros = epochMicros - second * 1_000_000;
    return `${this.#prefix}${String(micros).padStart(6, '0')}Z`;
  }
}
