/** Reads tcpdump's pcap files into TCP segments, with their options and checksum verdicts. */
import { readFileSync } from 'node:fs';
import { formatIPv6 } from '../../node-toa/src/wire.js';

export interface TcpSegment {
  /** Seconds since the epoch (microsecond precision). */
  time: number;
  family: 4 | 6;
  src: string;
  dst: string;
  sport: number;
  dport: number;
  seq: number;
  ack: number;
  flags: { syn: boolean; ack: boolean; fin: boolean; rst: boolean; psh: boolean };
  /** Data offset in 32-bit words. */
  doff: number;
  /** The options area: the bytes after the fixed 20-byte TCP header. */
  options: Uint8Array;
  /** MSS option value, if present. */
  mss?: number;
  payloadLength: number;
  /** null when the capture was cut short (snaplen) and the sum cannot be checked. */
  tcpChecksumOk: boolean | null;
  ipChecksumOk: boolean | null;
}

const LINKTYPE_ETHERNET = 1;
const LINKTYPE_LINUX_SLL = 113;

/** Parses a pcap file (microsecond or nanosecond, either byte order) into TCP segments. */
export function readPcap(path: string): TcpSegment[] {
  return parsePcap(readFileSync(path));
}

export function parsePcap(buf: Buffer): TcpSegment[] {
  if (buf.length < 24) return [];
  const magic = buf.readUInt32LE(0);
  let le: boolean;
  let nano = false;
  if (magic === 0xa1b2c3d4 || magic === 0xa1b23c4d) le = true;
  else if (magic === 0xd4c3b2a1 || magic === 0x4d3cb2a1) le = false;
  else throw new Error(`not a pcap file (magic 0x${magic.toString(16)})`);
  if (magic === 0xa1b23c4d || magic === 0x4d3cb2a1) nano = true;
  const u32 = (o: number): number => (le ? buf.readUInt32LE(o) : buf.readUInt32BE(o));
  const linktype = u32(20);
  const out: TcpSegment[] = [];
  let off = 24;
  while (off + 16 <= buf.length) {
    const sec = u32(off);
    const frac = u32(off + 4);
    const incl = u32(off + 8);
    const orig = u32(off + 12);
    const pkt = buf.subarray(off + 16, off + 16 + incl);
    off += 16 + incl;
    let l3 = 0;
    let ethertype = 0;
    if (linktype === LINKTYPE_ETHERNET) {
      if (pkt.length < 14) continue;
      ethertype = pkt.readUInt16BE(12);
      l3 = 14;
    } else if (linktype === LINKTYPE_LINUX_SLL) {
      if (pkt.length < 16) continue;
      ethertype = pkt.readUInt16BE(14);
      l3 = 16;
    } else {
      throw new Error(`unsupported pcap link type ${linktype}`);
    }
    const seg = parseIp(pkt, l3, ethertype, incl === orig);
    if (seg) {
      seg.time = sec + frac / (nano ? 1e9 : 1e6);
      out.push(seg);
    }
  }
  return out;
}

function parseIp(pkt: Buffer, l3: number, ethertype: number, complete: boolean): TcpSegment | null {
  let family: 4 | 6;
  let l4: number;
  let l4len: number;
  let src: string;
  let dst: string;
  let ipChecksumOk: boolean | null = null;
  let pseudo: number;
  if (ethertype === 0x0800) {
    if (pkt.length < l3 + 20) return null;
    const ihl = (pkt[l3] & 0x0f) * 4;
    if (pkt[l3 + 9] !== 6) return null;
    family = 4;
    const total = pkt.readUInt16BE(l3 + 2);
    l4 = l3 + ihl;
    l4len = total - ihl;
    src = Array.from(pkt.subarray(l3 + 12, l3 + 16)).join('.');
    dst = Array.from(pkt.subarray(l3 + 16, l3 + 20)).join('.');
    ipChecksumOk = fold(sum16(pkt, l3, ihl, 0)) === 0xffff;
    pseudo = sum16(pkt, l3 + 12, 8, 0) + 6 + l4len;
  } else if (ethertype === 0x86dd) {
    if (pkt.length < l3 + 40) return null;
    if (pkt[l3 + 6] !== 6) return null; // extension headers do not occur in the lab
    family = 6;
    l4 = l3 + 40;
    l4len = pkt.readUInt16BE(l3 + 4);
    src = formatIPv6(pkt.subarray(l3 + 8, l3 + 24));
    dst = formatIPv6(pkt.subarray(l3 + 24, l3 + 40));
    pseudo = sum16(pkt, l3 + 8, 32, 0) + 6 + (l4len >>> 16) + (l4len & 0xffff);
  } else {
    return null;
  }
  if (pkt.length < l4 + 20) return null;
  const doff = pkt[l4 + 12] >> 4;
  const fl = pkt[l4 + 13];
  const hdrEnd = Math.min(l4 + doff * 4, pkt.length);
  const options = new Uint8Array(pkt.subarray(l4 + 20, hdrEnd));
  const haveAll = complete && pkt.length >= l4 + l4len;
  return {
    time: 0,
    family,
    src,
    dst,
    sport: pkt.readUInt16BE(l4),
    dport: pkt.readUInt16BE(l4 + 2),
    seq: pkt.readUInt32BE(l4 + 4),
    ack: pkt.readUInt32BE(l4 + 8),
    flags: { fin: !!(fl & 1), syn: !!(fl & 2), rst: !!(fl & 4), psh: !!(fl & 8), ack: !!(fl & 16) },
    doff,
    options,
    mss: findMss(options),
    payloadLength: l4len - doff * 4,
    tcpChecksumOk: haveAll ? fold(sum16(pkt, l4, l4len, pseudo)) === 0xffff : null,
    ipChecksumOk,
  };
}

function sum16(b: Buffer, start: number, len: number, acc: number): number {
  let s = acc;
  const end = start + len;
  let i = start;
  for (; i + 1 < end; i += 2) s += (b[i] << 8) | b[i + 1];
  if (i < end) s += b[i] << 8;
  return s;
}

function fold(s: number): number {
  while (s > 0xffff) s = (s & 0xffff) + Math.floor(s / 0x10000);
  return s;
}

/** One TCP option: kind, length byte and body (NOP and EOL are not listed). */
export interface TcpOption {
  kind: number;
  len: number;
  body: Buffer;
}

/** The options of an options area, walked as a receiver walks them: stops at EOL or a malformed length. */
export function tcpOptions(opts: Uint8Array): TcpOption[] {
  const out: TcpOption[] = [];
  for (let i = 0; i < opts.length; ) {
    const kind = opts[i];
    if (kind === 0) break;
    if (kind === 1) {
      i++;
      continue;
    }
    const len = opts[i + 1];
    if (!len || len < 2) break;
    out.push({ kind, len, body: Buffer.from(opts.subarray(i + 2, i + len)) });
    i += len;
  }
  return out;
}

function findMss(opts: Uint8Array): number | undefined {
  const mss = tcpOptions(opts).find((o) => o.kind === 2 && o.len === 4);
  return mss ? mss.body.readUInt16BE(0) : undefined;
}

/** True when the segment belongs to the connection from src:sport (either direction). */
export function sameFlow(s: TcpSegment, addr: string, port: number): boolean {
  return (s.src === addr && s.sport === port) || (s.dst === addr && s.dport === port);
}
