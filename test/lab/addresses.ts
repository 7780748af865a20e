/**
 * The lab's address plan (DESIGN.md): documentation ranges only.
 *
 *  client ---- director (VIP, nftables FullNAT, tc TOA writer) ---- realserver ---- stranger
 */
export const ADDR = {
  client4: '198.51.100.10',
  client6: '2001:db8:100::10',
  dirClient4: '198.51.100.1',
  dirClient6: '2001:db8:100::1',
  vip4: '198.51.100.100',
  vip6: '2001:db8:100::100',
  lip4: '192.0.2.1',
  lip6: '2001:db8:200::1',
  rs4: '192.0.2.10',
  rs6: '2001:db8:200::10',
  rsStranger4: '203.0.113.1',
  rsStranger6: '2001:db8:300::1',
  stranger4: '203.0.113.66',
  stranger6: '2001:db8:300::66',
} as const;

/**
 * The director's LIP pool: SNAT to a range of LIPs gives each real server
 * port 65,536 source ports per LIP instead of per director. lip4 / lip6 are
 * the first; `trust` covers the pool and nothing else of the lab.
 */
export const LIP_POOL = {
  v4: ['192.0.2.1', '192.0.2.2', '192.0.2.3', '192.0.2.4'],
  v6: ['2001:db8:200::1', '2001:db8:200::2', '2001:db8:200::3', '2001:db8:200::4'],
  // Exactly the pool (.1, .2-.3, .4): a wider prefix would trust neighbours on the real servers' link.
  trust: ['192.0.2.1/32', '192.0.2.2/31', '192.0.2.4/32', '2001:db8:200::1/128', '2001:db8:200::2/127', '2001:db8:200::4/128'],
} as const;

/** Prefix lengths of the three links. */
export const PREFIX = { client4: 24, client6: 64, rs4: 24, rs6: 64, stranger4: 24, stranger6: 64 } as const;

/** Extra client addresses for many-client tests: 198.51.100.101 .. 198.51.100.254 (above the VIP). */
export function extraClient4(i: number): string {
  if (!Number.isInteger(i) || i < 0 || i > 153) throw new RangeError(`extra client index ${i} outside 0..153`);
  return `198.51.100.${101 + i}`;
}

/** Extra IPv6 client addresses: 2001:db8:100::1:<i>. */
export function extraClient6(i: number): string {
  return `2001:db8:100::1:${i.toString(16)}`;
}

/** `[v6]:port` or `v4:port`, as toa-bpf and URLs write endpoints. */
export function endpoint(address: string, port: number): string {
  return address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`;
}
