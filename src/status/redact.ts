// Keeps credentials out of every status response. Secrets are typed (Secret) and never serialized,
// but error texts from clients and sockets can still quote a URL with its userinfo, or echo a
// header; this is the last filter before bytes leave the process. Everything it removes is replaced
// by "[redacted]", so an operator can see that something was there.
import { Secret } from '../config/secret.ts';

const REDACTED = '[redacted]';

/** Shorter values are not scrubbed as plain text: they would mangle unrelated words (no real secret is this short). */
export const MIN_SCRUBBED_SECRET_LENGTH = 4;

/** Config keys whose string values are credentials even when a schema forgot to type them as Secret. */
const SECRET_KEY =
  /pass(word|wd|phrase)?$|secret|token|api[-_]?key|credential|authorization|private[-_]?key/i;

/** scheme://user:password@host — the userinfo part of any URL in a text. */
const URL_USERINFO = /\b([a-z][a-z0-9+.-]*:\/\/)[^\s/?#@"'<>]+@/gi;

/** "authorization: Basic …", "apiKey=…" as client libraries print headers and options in errors. */
const CREDENTIAL_ASSIGNMENT =
  /(?<![\w/.-])(authorization|x-api-key|api[-_]?key|password|token)(["']?\s*[:=]\s*["']?)(?:(?:ApiKey|Bearer|Basic)\s+)?[^\s"',;{}[\]]+/gi;

/** An HTTP auth scheme followed by a credential ("Bearer eyJhbGci…"); short words are prose, not tokens. */
const SCHEME_CREDENTIAL = /\b(ApiKey|Bearer|Basic)\s+[A-Za-z0-9+/=._~-]{16,}/g;

/** Collects every credential in a loaded config: Secret values, credential-named strings and URL userinfo. */
export function collectSecrets(config: unknown): string[] {
  const found = new Set<string>();
  const visit = (value: unknown, key: string | undefined, depth: number): void => {
    if (depth > 32 || value === null || value === undefined) return;
    if (value instanceof Secret) {
      found.add(value.reveal());
      return;
    }
    if (typeof value === 'string') {
      if (key !== undefined && SECRET_KEY.test(key)) found.add(value);
      for (const part of userinfoParts(value)) found.add(part);
      return;
    }
    if (Array.isArray(value)) {
      for (const item of value) visit(item, key, depth + 1);
      return;
    }
    if (typeof value === 'object') {
      const record = value as Record<string, unknown>;
      // Basic auth sends base64("user:password"); the Redactor also scrubs base64 forms.
      const password = record.password instanceof Secret ? record.password.reveal() : record.password;
      if (typeof record.username === 'string' && typeof password === 'string') {
        found.add(`${record.username}:${password}`);
      }
      for (const [childKey, child] of Object.entries(record)) visit(child, childKey, depth + 1);
    }
  };
  visit(config, undefined, 0);
  return [...found].filter((secret) => secret.length > 0);
}

/** The password (and user:password) of a URL's userinfo, raw and percent-decoded. */
function userinfoParts(text: string): string[] {
  if (!text.includes('@') || !text.includes('://')) return [];
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return [];
  }
  if (url.password === '') return [];
  const parts = [url.password, `${url.username}:${url.password}`];
  for (const part of [...parts]) {
    try {
      parts.push(decodeURIComponent(part));
    } catch {
      // Not valid percent-encoding: the raw form is already in the list.
    }
  }
  return parts;
}

/** Removes known secrets and credential-shaped text from response bodies. */
export class Redactor {
  /** Every form a secret can take in a body: as is, JSON-escaped, percent-encoded; longest first. */
  readonly #needles: readonly string[];

  constructor(secrets: readonly string[] = []) {
    const needles = new Set<string>();
    for (const secret of secrets) {
      if (secret.length < MIN_SCRUBBED_SECRET_LENGTH) continue;
      needles.add(secret);
      needles.add(JSON.stringify(secret).slice(1, -1));
      needles.add(encodeURIComponent(secret));
      needles.add(Buffer.from(secret).toString('base64'));
    }
    this.#needles = [...needles].sort((a, b) => b.length - a.length);
  }

  /** Scrubs a text (a plain-text body, or one string of a document): known secrets and credential shapes. */
  text(text: string): string {
    return this.secrets(
      text
        .replace(URL_USERINFO, `$1${REDACTED}@`)
        .replace(CREDENTIAL_ASSIGNMENT, `$1$2${REDACTED}`)
        .replace(SCHEME_CREDENTIAL, `$1 ${REDACTED}`),
    );
  }

  /**
   * Replaces only the known secrets: safe on serialized JSON, whose strings were scrubbed one by one
   * with text() before (the shape patterns could match across JSON syntax).
   */
  secrets(text: string): string {
    let out = text;
    for (const needle of this.#needles) {
      if (out.includes(needle)) out = out.replaceAll(needle, REDACTED);
    }
    return out;
  }

  /** A deep copy of a JSON-like value with every string scrubbed. */
  value<T>(value: T): T {
    return this.#scrub(value, 0) as T;
  }

  #scrub(value: unknown, depth: number): unknown {
    if (typeof value === 'string') return this.text(value);
    if (depth > 64 || value === null || typeof value !== 'object') return value;
    if (Array.isArray(value)) return value.map((item) => this.#scrub(item, depth + 1));
    const out: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(value)) out[this.text(key)] = this.#scrub(item, depth + 1);
    return out;
  }
}
