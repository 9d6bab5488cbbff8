import { createClientAddressResolver, trustedProxyProblem } from './client-address';

describe('who a request comes from', () => {
  it('is the connection’s address when no proxy is trusted, whatever the headers say', () => {
    const resolve = createClientAddressResolver([]);
    expect(resolve('10.1.2.3', '198.51.100.7')).toBe('10.1.2.3');
    expect(resolve('::ffff:10.1.2.3', undefined)).toBe('::ffff:10.1.2.3');
    expect(resolve(undefined, undefined)).toBe('unknown');
  });

  it('follows X-Forwarded-For only through trusted proxies, from the right', () => {
    const resolve = createClientAddressResolver(['uniquelocal', '203.0.113.9']);
    // The ingress (10.0.0.5) appended the client it saw.
    expect(resolve('10.0.0.5', '198.51.100.7')).toBe('198.51.100.7');
    expect(resolve('::ffff:10.0.0.5', '198.51.100.7')).toBe('198.51.100.7');
    // A client's own entries, left of what a trusted proxy appended, are not believed.
    expect(resolve('10.0.0.5', '1.2.3.4, 198.51.100.7')).toBe('198.51.100.7');
    // Two trusted hops: a load balancer, then the ingress.
    expect(resolve('10.0.0.5', '198.51.100.7, 203.0.113.9')).toBe('198.51.100.7');
    expect(resolve('10.0.0.5', ['198.51.100.7', '192.168.1.1'])).toBe('198.51.100.7');
    // A connection from anywhere else is that address, header or not.
    expect(resolve('198.51.100.20', '1.2.3.4')).toBe('198.51.100.20');
    // Something that is not an address stops the walk at the last trusted hop.
    expect(resolve('10.0.0.5', 'unknown')).toBe('10.0.0.5');
    expect(resolve('10.0.0.5', '')).toBe('10.0.0.5');
    expect(createClientAddressResolver(['loopback'])('::1', '2001:db8::1')).toBe('2001:db8::1');
  });

  it('accepts addresses, CIDRs and three names, and nothing else', () => {
    for (const ok of ['10.0.0.1', '10.0.0.0/8', 'fd00::/8', '::1', 'loopback', 'linklocal']) {
      expect(trustedProxyProblem(ok)).toBeNull();
    }
    for (const bad of [
      'true',
      '*',
      '10.0.0.0/33',
      'proxy.example.com',
      '1',
      '::/129',
      'constructor',
      '__proto__',
    ]) {
      expect(trustedProxyProblem(bad)).toMatch(/is not an address, a CIDR range/);
    }
    expect(() => createClientAddressResolver(['everyone'])).toThrow(/AIWORKER_TRUSTED_PROXIES/);
  });
});
