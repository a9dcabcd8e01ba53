import { describe, expect, it } from 'vitest';
import { classifyRotation } from '../../../src/source/rotation.ts';
import { backupAgeKey, backupMatcher, backupTimestampMs, globToRegExp } from '../../../src/source/backups.ts';

const file = { dev: 1, ino: 100, size: 500 };

describe('classifyRotation', () => {
  it('sees nothing new when the same inode has the same size', () => {
    expect(classifyRotation(file, { ...file, headMatches: true })).toBe('same');
  });

  it('sees an append as growth', () => {
    expect(classifyRotation(file, { ...file, size: 900, headMatches: true })).toBe('grown');
  });

  it('sees another inode at the path as a rotation (rename+create, delete+create)', () => {
    expect(classifyRotation(file, { dev: 1, ino: 101, size: 0 })).toBe('rotated');
    expect(classifyRotation(file, { dev: 2, ino: 100, size: 900 })).toBe('rotated');
  });

  it('sees a shrink of the same inode as a truncation', () => {
    expect(classifyRotation(file, { ...file, size: 0 })).toBe('truncated');
  });

  it('sees other first bytes on the same inode as a truncation even when the file regrew past our size', () => {
    expect(classifyRotation(file, { ...file, size: 5000, headMatches: false })).toBe('truncated');
  });

  it('tells a missing path from a path that appeared', () => {
    expect(classifyRotation(file, undefined)).toBe('gone');
    expect(classifyRotation(undefined, file)).toBe('created');
    expect(classifyRotation(undefined, undefined)).toBe('absent');
  });
});

describe('backup names', () => {
  it('matches the API server (lumberjack) backup names, plain and .gz, and nothing else', () => {
    const isBackup = backupMatcher('/var/log/kubernetes/audit/audit.log');
    expect(isBackup('audit-2024-05-06T07-08-09.123.log')).toBe(true);
    expect(isBackup('audit-2024-05-06T07-08-09.123.log.gz')).toBe(true);
    expect(isBackup('audit.log')).toBe(false);
    expect(isBackup('audit.log.1')).toBe(false);
    expect(isBackup('audit-2024-05-06.log')).toBe(false);
    expect(isBackup('other-2024-05-06T07-08-09.123.log')).toBe(false);
  });

  it('handles paths without or with several extensions the way lumberjack names them', () => {
    expect(backupMatcher('/var/log/kube-audit')('kube-audit-2024-05-06T07-08-09.123')).toBe(true);
    expect(backupMatcher('/x/audit.json.log')('audit.json-2024-05-06T07-08-09.123.log')).toBe(true);
  });

  it('uses a configured glob (logrotate numbering) and never takes the active file for a backup', () => {
    const isBackup = backupMatcher('/x/audit.log', 'audit.log*');
    expect(isBackup('audit.log.1')).toBe(true);
    expect(isBackup('audit.log.2.gz')).toBe(true);
    expect(isBackup('audit.log')).toBe(false);
    expect(globToRegExp('a-{1,2}.[lg]og?').test('a-2.log1')).toBe(true);
    expect(globToRegExp('a-{1,2}.[!l]og').test('a-1.log')).toBe(false);
  });

  it('orders backups by the UTC timestamp in the name, falling back to mtime', () => {
    expect(backupTimestampMs('audit-2024-05-06T07-08-09.123.log.gz')).toBe(
      Date.UTC(2024, 4, 6, 7, 8, 9, 123),
    );
    expect(backupAgeKey('audit-2024-05-06T07-08-09.123.log', 5)).toBeLessThan(
      backupAgeKey('audit-2024-05-06T07-08-10.000.log', 1),
    );
    expect(backupAgeKey('audit.log.1', 42)).toBe(42);
  });
});
