import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { defaultAllowedHosts, isHostAllowed } from './allowed-hosts.ts';
import { createClientIpResolver, isLoopback, normalizeIp, parseTrustProxy } from './client-ip.ts';

describe('client address behind proxies', () => {
  it('takes the peer when no proxy is trusted, whatever X-Forwarded-For says', () => {
    const resolve = createClientIpResolver(null);
    assert.equal(resolve('::ffff:203.0.113.5', '127.0.0.1'), '203.0.113.5');
  });

  it('counts hops from the right, so entries the client wrote are never chosen', () => {
    const one = createClientIpResolver({ hops: 1 });
    assert.equal(one('10.0.0.2', '127.0.0.1, 203.0.113.7'), '203.0.113.7');
    assert.equal(one('10.0.0.2', '203.0.113.7'), '203.0.113.7');
    assert.equal(one('10.0.0.2', null), '10.0.0.2', 'no header: the peer');
    assert.equal(one('10.0.0.2', '203.0.113.7, garbage'), '10.0.0.2', 'an unreadable entry is not trusted');
    const two = createClientIpResolver({ hops: 2 });
    assert.equal(two('10.0.0.3', '127.0.0.1, 198.51.100.1, 10.0.0.2'), '198.51.100.1');
    assert.equal(two('10.0.0.3', '198.51.100.1'), '198.51.100.1', 'fewer hops than configured');
    assert.equal(
      one('', '127.0.0.1, 198.51.100.4, 10.0.0.9'),
      '198.51.100.4',
      'peer unknown: the last entry is it',
    );
  });

  it('takes the right-most address that is not a trusted proxy (IPv4 and IPv6 CIDRs)', () => {
    const resolve = createClientIpResolver(parseTrustProxy('10.0.0.0/8, fd00::/8, 127.0.0.1'));
    assert.equal(resolve('127.0.0.1', '127.0.0.1, 2001:db8::5, fd00::1, 10.1.2.3'), '2001:db8::5');
    assert.equal(resolve('203.0.113.9', '127.0.0.1'), '203.0.113.9', 'an untrusted peer is the client');
    assert.equal(resolve('10.0.0.1', '10.0.0.2'), '10.0.0.2', 'all trusted: the left-most');
    assert.equal(resolve('[fd00::2]', '::ffff:198.51.100.3'), '198.51.100.3');
  });

  it('reads the setting and refuses nonsense', () => {
    assert.equal(parseTrustProxy('false'), null);
    assert.equal(parseTrustProxy('0'), null);
    assert.deepEqual(parseTrustProxy('true'), { hops: 1 });
    assert.deepEqual(parseTrustProxy('3'), { hops: 3 });
    for (const bad of ['10.0.0.0/33', 'fd00::/129', 'proxy.local', '1.2.3.4/8/9', 'yes']) {
      assert.throws(() => parseTrustProxy(bad), TypeError, bad);
    }
  });

  it('knows loopback in every spelling', () => {
    for (const address of ['127.0.0.1', '127.9.9.9', '::1', '::ffff:127.0.0.1', '[::1]']) {
      assert.equal(isLoopback(address), true, address);
    }
    assert.equal(isLoopback('10.0.0.1'), false);
    assert.equal(normalizeIp('FE80::1%eth0'), 'fe80::1');
  });
});

describe('allowed hosts', () => {
  it('defaults to the issuer, plus the loopback names for a loopback issuer', () => {
    assert.deepEqual(defaultAllowedHosts('https://auth.example.com/tenant'), ['auth.example.com']);
    assert.deepEqual(defaultAllowedHosts('http://localhost:4000'), ['localhost', '127.0.0.1', '[::1]']);
  });

  it('matches the Host header by name, and by port when the entry has one', () => {
    const allowed = ['auth.example.com', 'internal:8080', '[::1]'];
    assert.equal(isHostAllowed('AUTH.example.com:443', allowed), true);
    assert.equal(isHostAllowed('internal:8080', allowed), true);
    assert.equal(isHostAllowed('internal:9090', allowed), false);
    assert.equal(isHostAllowed('[::1]:4000', allowed), true);
    assert.equal(isHostAllowed('auth.example.com.evil.test', allowed), false);
    assert.equal(isHostAllowed(null, allowed), false);
    assert.equal(isHostAllowed('', allowed), false);
  });
});
