/**
 * A struct toa_record (include/toa/toa_record.h) as the Peer an application
 * sees. wire.ts decodes and validates the layout; here the addresses are
 * written the way the socket writes them, so they compare equal to
 * socket.remoteAddress (Node's text, and ::ffff:a.b.c.d for an IPv4 client
 * on an IPv6 socket).
 */
import { ToaError } from './errors.js';
import type { Endpoint, Peer } from './types.js';
import { decodeRecord } from './wire.js';

export { RECORD_VERSION, REC_NAT64, REC_REWRITTEN } from './wire.js';

/**
 * The Peer for record b, read on a socket of family sockFamily (4 or 6).
 * Throws TOA_ERECORD for a record it cannot read.
 */
export function peerFromRecord(b: Uint8Array, sockFamily: number): Peer {
  let r;
  try {
    r = decodeRecord(b);
  } catch (err) {
    throw new ToaError('TOA_ERECORD', `node-node-toa: ${(err as Error).message}; node-toa and the kernel side are out of step`, { cause: err });
  }
  const proxy: Endpoint = { address: asSocketShows(r.peerAddress, r.peerFamily, sockFamily), port: r.peerPort };
  return {
    address: asSocketShows(r.address, r.family, sockFamily),
    port: r.port,
    family: r.family,
    via: 'toa',
    proxy,
    dialect: r.dialect,
    nat64: r.nat64 || (r.family === 6 && sockFamily === 4),
  };
}

/** An IPv4 address on an IPv6 (dual-stack) socket shows as ::ffff:a.b.c.d. */
function asSocketShows(address: string, family: 4 | 6, sockFamily: number): string {
  return family === 4 && sockFamily === 6 ? `::ffff:${address}` : address;
}
