// Locates the real audit-event fixtures. They live outside the project (../shared/fixtures/audit
// or AUDIT_FIXTURES_DIR) and are never copied in; where absent, tests skip and say why.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

const REPO_ROOT = new URL('../..', import.meta.url).pathname;

export const FIXTURES_DIR = resolve(
  process.env.AUDIT_FIXTURES_DIR ?? join(REPO_ROOT, '../shared/fixtures/audit'),
);

export const FIXTURES_PRESENT = existsSync(FIXTURES_DIR) && fixtureFiles().length > 0;

/** The reason a fixture test is skipped, shown in the test's name. */
export const FIXTURES_SKIP_REASON = FIXTURES_PRESENT
  ? ''
  : ` [skipped: real audit fixtures not found at ${FIXTURES_DIR}; set AUDIT_FIXTURES_DIR]`;

export function fixtureFiles(): string[] {
  if (!existsSync(FIXTURES_DIR)) return [];
  return readdirSync(FIXTURES_DIR)
    .filter((name) => name.endsWith('.jsonl'))
    .sort()
    .map((name) => join(FIXTURES_DIR, name));
}

/** Every fixture line (without '\n'), file by file in name order. */
export function fixtureLines(): string[] {
  return fixtureFiles().flatMap((file) =>
    readFileSync(file, 'utf8')
      .split('\n')
      .filter((line) => line !== ''),
  );
}
