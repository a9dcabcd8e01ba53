import { describe, expect, it } from 'vitest';
import { GoJsonEncoder, goJson } from '../../../src/simulator/go-json.ts';

describe('goJson', () => {
  it('escapes <, > and & as Go does and leaves non-ASCII raw', () => {
    const text = goJson({ uri: '/api?a=1&b=<2>', name: 'zoltán µs', sep: '\u2028' });

    expect(text).toBe('{"uri":"/api?a=1\\u0026b=\\u003c2\\u003e","name":"zoltán µs","sep":"\\u2028"}');
    expect(JSON.parse(text)).toEqual({ uri: '/api?a=1&b=<2>', name: 'zoltán µs', sep: '\u2028' });
  });
});

describe('GoJsonEncoder', () => {
  it('serves interned objects from its cache and freezes them', () => {
    const encoder = new GoJsonEncoder();
    const user = encoder.intern({ username: 'a&b', groups: ['g'] });

    expect(Object.isFrozen(user)).toBe(true);
    expect(Object.isFrozen(user.groups)).toBe(true);
    expect(encoder.encode(user)).toBe('{"username":"a\\u0026b","groups":["g"]}');
  });

  it('joins cached members of a composite instead of re-serializing them', () => {
    const encoder = new GoJsonEncoder();
    const item = encoder.intern({ n: 1 });
    const list = encoder.internComposite({ kind: 'List', items: encoder.internComposite([item, item]) });

    expect(encoder.encode(list)).toBe('{"kind":"List","items":[{"n":1},{"n":1}]}');
  });

  it('omits undefined fields like omitempty', () => {
    expect(new GoJsonEncoder().encodeFields({ a: 1, b: undefined, c: 'x' })).toBe('{"a":1,"c":"x"}');
  });
});
