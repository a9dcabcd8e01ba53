import { describe, expect, it } from 'vitest';
import {
  backupPath,
  formatBackupTimestamp,
  goExt,
  parseBackupName,
} from '../../../src/simulator/backup-name.ts';

const AT = Date.UTC(2024, 4, 6, 7, 8, 9, 123);

describe('backup names', () => {
  it('follows lumberjack: <name-without-ext>-<UTC 2006-01-02T15-04-05.000><ext>', () => {
    expect(backupPath('/var/log/kubernetes/audit/audit.log', AT)).toBe(
      '/var/log/kubernetes/audit/audit-2024-05-06T07-08-09.123.log',
    );
    expect(backupPath('/var/log/kube-audit', AT)).toBe('/var/log/kube-audit-2024-05-06T07-08-09.123');
    expect(backupPath('/x/audit.json.log', AT)).toBe('/x/audit.json-2024-05-06T07-08-09.123.log');
  });

  it('takes the extension from the last dot like Go filepath.Ext', () => {
    expect(goExt('audit.log')).toBe('.log');
    expect(goExt('audit')).toBe('');
    expect(goExt('.audit')).toBe('.audit');
  });

  it('parses plain and gzipped backups and ignores other files', () => {
    expect(parseBackupName('/x/audit.log', 'audit-2024-05-06T07-08-09.123.log')).toEqual({
      path: '/x/audit-2024-05-06T07-08-09.123.log',
      name: 'audit-2024-05-06T07-08-09.123.log',
      timestampMs: AT,
      compressed: false,
    });
    expect(parseBackupName('/x/audit.log', 'audit-2024-05-06T07-08-09.123.log.gz')?.compressed).toBe(true);
    expect(parseBackupName('/x/audit.log', 'audit.log')).toBeUndefined();
    expect(parseBackupName('/x/audit.log', 'audit-2024-05-06T07-08-09.log')).toBeUndefined();
    expect(parseBackupName('/x/audit.log', 'audit-2024-02-30T07-08-09.123.log')).toBeUndefined();
    expect(parseBackupName('/x/audit.log', 'other-2024-05-06T07-08-09.123.log')).toBeUndefined();
  });

  it('sorts by name in time order', () => {
    const times = [AT, AT + 1, AT + 999, AT + 1000, AT + 86_400_000];

    const names = times.map(formatBackupTimestamp);

    expect([...names].sort()).toEqual(names);
  });
});
