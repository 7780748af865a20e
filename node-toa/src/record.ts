/**
 * A struct toa_record (include/toa/toa_record.h) as the Peer an application
 * sees. Reads straight from the lookup buffer: the only allocation is the
 * result.
 */
import { formatV4, formatV6, mappedV4 } from './address.js';
import { ToaError } from './errors.js';
import type { Dialect, Endpoint, Peer } from './types.js';

export const RECORD_VERSION = 1;
export const REC_NAT64 = 0x1;
export const REC_REWRITTEN = 0x2;

/** enum toa_dialect values, in order (0 is TOA_D_NONE). */
export const DIALECTS: readonly (Dialect | undefined)[] = [undefined, 'v4', 'v6', 'v6-ali', 'v4-253', 'v4-200', 'cdn', 'cdn6'];

const littleEndian = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** flags, a host-order __u32 at offset 40. */
export function recordFlags(b: Uint8Array): number {
  return littleEndian
    ? (b[40] | (b[41] << 8) | (b[42] << 16) | (b[43] << 24)) >>> 0
    : ((b[40] << 24) | (b[41] << 16) | (b[42] << 8) | b[43]) >>> 0;
}

/**
 * The Peer for record b, read on a socket of family sockFamily (4 or 6):
 * addresses are written as that socket writes them (an IPv4 client on an
 * IPv6 socket as ::ffff:a.b.c.d). Throws TOA_ERECORD for a record it cannot read.
 */
export function peerFromRecord(b: Uint8Array, sockFamily: number): Peer {
  if (b[0] !== RECORD_VERSION) {
    throw new ToaError('TOA_ERECORD', `toa: record version ${b[0]} is not supported (this toa reads version ${RECORD_VERSION}); update toa`);
  }
  const family = b[1];
  if (family !== 4 && family !== 6) throw new ToaError('TOA_ERECORD', `toa: record has client family ${family}, expected 4 or 6`);
  const peer: Peer = {
    address: addressText(b, 8, family, sockFamily),
    port: (b[4] << 8) | b[5],
    family,
    via: 'toa',
    proxy: proxyOf(b, sockFamily),
    dialect: DIALECTS[b[2]],
    nat64: (recordFlags(b) & REC_NAT64) !== 0 || (family === 6 && sockFamily === 4),
  };
  if (peer.dialect === undefined) delete peer.dialect;
  if (peer.proxy === undefined) delete peer.proxy;
  return peer;
}

function proxyOf(b: Uint8Array, sockFamily: number): Endpoint | undefined {
  const fam = b[3];
  if (fam !== 4 && fam !== 6) return undefined;
  return { address: addressText(b, 24, fam, sockFamily), port: (b[6] << 8) | b[7] };
}

function addressText(b: Uint8Array, off: number, family: number, sockFamily: number): string {
  if (family === 6) return formatV6(b, off);
  return sockFamily === 6 ? mappedV4(b, off) : formatV4(b, off);
}
