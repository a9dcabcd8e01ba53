import { describe, expect, it } from 'vitest';
import { formatGoDuration, forbidden, sortedAnnotations } from '../../../src/simulator/statuses.ts';

describe('statuses', () => {
  it('formats durations like Go time.Duration.String()', () => {
    expect(formatGoDuration(561_927)).toBe('561.927µs');
    expect(formatGoDuration(7_855_949_070)).toBe('7.85594907s');
    expect(formatGoDuration(12_500_000)).toBe('12.5ms');
    expect(formatGoDuration(247_500_000_000)).toBe('4m7.5s');
    expect(formatGoDuration(999)).toBe('999ns');
  });

  it('words RBAC denials as the authorizer does', () => {
    const status = forbidden(
      { resource: 'secrets', namespace: 'kube-system', apiVersion: 'v1' },
      'system:anonymous',
      'list',
    );

    expect(status.message).toBe(
      'secrets is forbidden: User "system:anonymous" cannot list resource "secrets" in API group "" in the namespace "kube-system"',
    );
    expect(status.code).toBe(403);
  });

  it('sorts annotation keys as Go sorts map keys', () => {
    expect(
      Object.keys(
        sortedAnnotations([
          ['b', '1'],
          ['a', '2'],
          ['a/b', '3'],
        ]),
      ),
    ).toEqual(['a', 'a/b', 'b']);
  });
});
