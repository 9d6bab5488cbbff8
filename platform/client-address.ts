import { BlockList, isIP } from 'node:net';

/** Names for ranges of addresses an operator may trust as proxies, besides addresses and CIDRs. */
const NAMED_RANGES: Record<string, Array<[string, number, 'ipv4' | 'ipv6']>> = {
  loopback: [
    ['127.0.0.0', 8, 'ipv4'],
    ['::1', 128, 'ipv6'],
  ],
  uniquelocal: [
    ['10.0.0.0', 8, 'ipv4'],
    ['172.16.0.0', 12, 'ipv4'],
    ['192.168.0.0', 16, 'ipv4'],
    ['fc00::', 7, 'ipv6'],
  ],
  linklocal: [
    ['169.254.0.0', 16, 'ipv4'],
    ['fe80::', 10, 'ipv6'],
  ],
};

/**
 * Why `entry` cannot name trusted proxies (an address, a CIDR, or `loopback`, `uniquelocal`,
 * `linklocal`), or null when it can.
 */
export function trustedProxyProblem(entry: string): string | null {
  if (Object.hasOwn(NAMED_RANGES, entry) || isIP(entry)) return null;
  const cidr = /^(.+)\/(\d{1,3})$/.exec(entry);
  if (cidr) {
    const family = isIP(cidr[1]!);
    const bits = Number(cidr[2]);
    if (family === 4 && bits <= 32) return null;
    if (family === 6 && bits <= 128) return null;
  }
  return `"${entry}" is not an address, a CIDR range, or one of loopback, uniquelocal, linklocal`;
}

/** An IPv4 address the way Node shows it on a dual-stack socket (`::ffff:10.0.0.1`), unwrapped. */
function plain(address: string): string {
  return /^::ffff:\d+\.\d+\.\d+\.\d+$/i.test(address) ? address.slice(7) : address;
}

/**
 * Who a request comes from, for the limits that count per address. Without trusted proxies it
 * is the connection's own address, whatever the request's headers say. With them, a connection
 * from a trusted proxy is taken for the address that proxy appended last to `X-Forwarded-For`,
 * and so on leftwards while the address reached is itself a trusted proxy: a client can put
 * anything in the header, but only what trusted proxies appended is believed.
 */
export function createClientAddressResolver(
  trustedProxies: string[],
): (remote: string | undefined, forwardedFor: string | string[] | undefined) => string {
  if (trustedProxies.length === 0) return (remote) => remote ?? 'unknown';
  const trusted = new BlockList();
  for (const entry of trustedProxies) {
    const problem = trustedProxyProblem(entry);
    if (problem) throw new Error(`AIWORKER_TRUSTED_PROXIES: ${problem}`);
    const ranges = Object.hasOwn(NAMED_RANGES, entry) ? NAMED_RANGES[entry] : undefined;
    if (ranges) {
      for (const [net, bits, type] of ranges) trusted.addSubnet(net, bits, type);
      continue;
    }
    const [address, bits] = entry.split('/') as [string, string | undefined];
    const type = isIP(address) === 4 ? 'ipv4' : 'ipv6';
    if (bits === undefined) trusted.addAddress(address, type);
    else trusted.addSubnet(address, Number(bits), type);
  }
  const isTrusted = (address: string) => {
    const family = isIP(address);
    return family !== 0 && trusted.check(address, family === 4 ? 'ipv4' : 'ipv6');
  };
  return (remote, forwardedFor) => {
    let address = plain(remote ?? 'unknown');
    const header = Array.isArray(forwardedFor) ? forwardedFor.join(',') : (forwardedFor ?? '');
    const hops = header
      .split(',')
      .map((h) => h.trim())
      .filter((h) => h !== '');
    while (isTrusted(address) && hops.length > 0) {
      const next = plain(hops.pop()!);
      // Not an address: the chain can no longer be followed; the last trusted hop answers.
      if (isIP(next) === 0) break;
      address = next;
    }
    return address;
  };
}
