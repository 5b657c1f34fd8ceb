import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { rateLimitClientKey } from './client-ip.ts';

describe('rateLimitClientKey', () => {
  it('keeps IPv4, maps IPv4-mapped IPv6 to IPv4 and groups IPv6 by /64', () => {
    const cases: Array<[string | null, string]> = [
      ['192.0.2.1', '192.0.2.1'],
      ['::ffff:192.0.2.1', '192.0.2.1'],
      ['::FFFF:C000:0201', '192.0.2.1'],
      ['[::ffff:192.0.2.1]', '192.0.2.1'],
      ['2001:db8::1', '2001:db8:0:0::/64'],
      ['2001:db8:0:0:ffff:1:2:3', '2001:db8:0:0::/64'],
      ['2001:0db8:0000:0000::9', '2001:db8:0:0::/64'],
      ['fe80::1%eth0', 'fe80:0:0:0::/64'],
      ['::1', '0:0:0:0::/64'],
      ['::', '0:0:0:0::/64'],
      ['2001:db8:1:2:3:4:5:6', '2001:db8:1:2::/64'],
      ['64:ff9b::192.0.2.1', '64:ff9b:0:0::/64'],
      [null, '-'],
      ['', '-'],
      ['not an ip', '?not an ip'],
    ];
    for (const [ip, key] of cases) assert.equal(rateLimitClientKey(ip), key, String(ip));
    assert.equal(rateLimitClientKey('x'.repeat(500)).length, 65);
  });
});
