// Finds rotated backups next to the active file and orders them oldest first. Names follow
// lumberjack (audit-format.md §5.3): <name>-<2006-01-02T15-04-05.000><ext>[.gz], timestamp in UTC,
// taken when the file ended, so sorting by it is sorting by age.
import { basename, extname } from 'node:path';

const LUMBERJACK_TIMESTAMP = /(\d{4})-(\d{2})-(\d{2})T(\d{2})-(\d{2})-(\d{2})\.(\d{3})/;

/** Decides whether a directory entry is a backup of the active file. */
export type BackupMatcher = (fileName: string) => boolean;

/**
 * The matcher for the API server's own backup names, or for a configured glob over the file name
 * (`*`, `?`, `[abc]`, `{a,b}`), e.g. "audit.log.*" for logrotate's numbered copies.
 */
export function backupMatcher(activePath: string, glob?: string): BackupMatcher {
  const activeName = basename(activePath);
  if (glob !== undefined) {
    const pattern = globToRegExp(glob);
    return (name) => name !== activeName && pattern.test(name);
  }
  const ext = extname(activeName);
  const stem = activeName.slice(0, activeName.length - ext.length);
  const pattern = new RegExp(
    `^${escapeRegExp(stem)}-\\d{4}-\\d{2}-\\d{2}T\\d{2}-\\d{2}-\\d{2}\\.\\d{3}${escapeRegExp(ext)}(\\.gz)?$`,
  );
  return (name) => pattern.test(name);
}

/** The UTC time in a lumberjack backup name, in ms since the epoch; undefined when there is none. */
export function backupTimestampMs(fileName: string): number | undefined {
  const match = LUMBERJACK_TIMESTAMP.exec(fileName);
  if (!match) return undefined;
  const [, year, month, day, hour, minute, second, ms] = match.map(Number);
  const time = Date.UTC(year ?? 0, (month ?? 1) - 1, day ?? 1, hour ?? 0, minute ?? 0, second ?? 0, ms ?? 0);
  return Number.isNaN(time) ? undefined : time;
}

/**
 * Sort key of a backup: when it ended. The name's timestamp when it has one (lumberjack), else the
 * file's mtime (logrotate keeps the mtime of renamed files; its numbers count from the newest).
 */
export function backupAgeKey(fileName: string, mtimeMs: number): number {
  return backupTimestampMs(fileName) ?? mtimeMs;
}

export function globToRegExp(glob: string): RegExp {
  let source = '';
  let braceDepth = 0;
  for (let i = 0; i < glob.length; i++) {
    const char = glob.charAt(i);
    if (char === '*') source += '[^/]*';
    else if (char === '?') source += '[^/]';
    else if (char === '[') {
      const close = glob.indexOf(']', i + 1);
      if (close === -1) source += '\\[';
      else {
        const body = glob
          .slice(i + 1, close)
          .replace(/^!/, '^')
          .replaceAll('\\', '\\\\');
        source += `[${body}]`;
        i = close;
      }
    } else if (char === '{') {
      braceDepth++;
      source += '(?:';
    } else if (char === '}' && braceDepth > 0) {
      braceDepth--;
      source += ')';
    } else if (char === ',' && braceDepth > 0) source += '|';
    else source += escapeRegExp(char);
  }
  return new RegExp(`^${source}$`);
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}
