// TOA wire format in TypeScript: the mirror of include/toa/toa_wire.h (option
// dialects and parser) and include/toa/toa_record.h (the per-socket record).
// test/vectors/toa-options.json checks this file and the C code alike; keep
// both in step. No dependencies and no Node-only APIs, so any bundle can use it.

/** Dialect names as DESIGN.md, the CLI and the records spell them. */
export type DialectName = 'v4' | 'v6' | 'v6-ali' | 'v4-253' | 'v4-200' | 'cdn' | 'cdn6';

/** One TOA dialect: how the option is written and what it carries. */
export interface Dialect {
  /** Name, e.g. `v4`. */
  readonly name: DialectName;
  /** enum toa_dialect value, stored in records and counters. */
  readonly id: number;
  /** TCP option kind. */
  readonly kind: number;
  /** Option length including kind and length bytes. */
  readonly length: number;
  /** Client address family. */
  readonly family: 4 | 6;
  /** Whether the option carries the client port (cdn dialects do not: port 0). */
  readonly port: boolean;
  /** Accepted by default; the others are opt-in. */
  readonly default: boolean;
}

/** The dialect table of DESIGN.md, in enum toa_dialect order (ids 1..7). */
export const DIALECT_TABLE: readonly Dialect[] = Object.freeze(
  (
    [
      ['v4', 1, 254, 8, 4, true, true],
      ['v6', 2, 254, 20, 6, true, true],
      ['v6-ali', 3, 253, 20, 6, true, true],
      ['v4-253', 4, 253, 8, 4, true, false],
      ['v4-200', 5, 200, 8, 4, true, false],
      ['cdn', 6, 28, 7, 4, false, false],
      ['cdn6', 7, 28, 19, 6, false, false],
    ] as const
  ).map(([name, id, kind, length, family, port, dflt]) => Object.freeze({ name, id, kind, length, family, port, default: dflt })),
);

/** Parse outcomes, indexed by enum toa_status value. */
export const STATUSES = Object.freeze(['ok', 'absent', 'length', 'truncated', 'short', 'after_eol', 'multiple', 'version', 'port', 'address'] as const);

/** A parse outcome: `ok`, `absent` (no TOA), or why a segment's TOA is not trusted. */
export type Status = (typeof STATUSES)[number];

/** The dialects real servers accept unless configured otherwise. */
export const DEFAULT_ACCEPT: readonly DialectName[] = Object.freeze(DIALECT_TABLE.filter((d) => d.default).map((d) => d.name));

/** Accept mask (TOA_BIT() of each dialect id) of the default dialects: TOA_ACCEPT_DEFAULT. */
export const ACCEPT_DEFAULT_MASK: number = acceptMask(DEFAULT_ACCEPT);

/** Accept mask of every dialect: TOA_ACCEPT_ALL. */
export const ACCEPT_ALL_MASK: number = acceptMask(DIALECT_TABLE.map((d) => d.name));

/** Most bytes a TCP options area can hold (data offset 15 words, minus the fixed 20). */
export const OPTIONS_MAX = 40;

/** The dialect called `name`, or undefined. */
export function dialectByName(name: string): Dialect | undefined {
  for (const d of DIALECT_TABLE) if (d.name === name) return d;
  return undefined;
}

/** The dialect with enum toa_dialect value `id`, or undefined. */
export function dialectById(id: number): Dialect | undefined {
  return DIALECT_TABLE[id - 1];
}

/**
 * Compiles a list of dialect names into the accept mask decodeOptions() takes
 * (the same bits as the C TOA_BIT()). Throws a TypeError with code
 * `TOA_EDIALECT` naming an unknown dialect.
 */
export function acceptMask(names: readonly string[]): number {
  let mask = 0;
  for (const n of names) {
    const d = dialectByName(n);
    if (!d) throw codeError(TypeError, 'TOA_EDIALECT', `unknown TOA dialect ${JSON.stringify(n)} (known: ${DIALECT_TABLE.map((x) => x.name).join(', ')})`);
    mask |= 1 << d.id;
  }
  return mask;
}

/** A TOA option that was found and trusted: the client as the director saw it. */
export interface DecodedOption {
  readonly status: 'ok';
  readonly dialect: DialectName;
  /** The client's family: 4 also for `::ffff:a.b.c.d` in a v6 dialect (an IPv4 client). */
  readonly family: 4 | 6;
  /** Dotted IPv4, or IPv6 in RFC 5952 form. */
  readonly address: string;
  /** Client port, never 0; 0 only for the cdn dialects, which carry none. */
  readonly port: number;
}

/** No TOA option (`absent`) or the reason the options are not trusted. */
export interface DecodeFailure {
  readonly status: Exclude<Status, 'ok'>;
}

/** What decodeOptions() returns: switch on `status`. */
export type DecodeResult = DecodedOption | DecodeFailure;

// One frozen object per failure status: failures allocate nothing.
const FAILURES = Object.freeze(
  Object.fromEntries(STATUSES.slice(1).map((s) => [s, Object.freeze({ status: s })])),
) as { readonly [S in Exclude<Status, 'ok'>]: DecodeFailure };

const KIND_EOL = 0;
const KIND_NOP = 1;

/**
 * Parses a TCP options area (the bytes after the fixed 20-byte TCP header)
 * exactly as toa_parse() does: one TOA option of an accepted dialect gives
 * `ok`; none gives `absent`; a TOA kind with a length no accepted dialect has,
 * an option running past the end, a length below 2, non-zero bytes after End
 * of Option List, more than one TOA option, a cdn version other than 1, port 0
 * (`port`), or an address no client can have (`address`: loopback,
 * unspecified, multicast, broadcast) give that reason. `::ffff:a.b.c.d` in a
 * v6 dialect decodes as the IPv4 client it is. `accept` is a list of dialect
 * names or a mask from acceptMask(); the default is DEFAULT_ACCEPT.
 */
export function decodeOptions(bytes: Uint8Array, accept: readonly string[] | number = ACCEPT_DEFAULT_MASK): DecodeResult {
  if (!(bytes instanceof Uint8Array)) throw codeError(TypeError, 'TOA_EARG', 'options must be a Uint8Array');
  const mask = typeof accept === 'number' ? accept : acceptMask(accept);
  const len = bytes.length;
  if (len > OPTIONS_MAX) return FAILURES.truncated;
  let found = 0;
  let at = 0;
  let off = 0;
  while (off < len) {
    const kind = bytes[off]!;
    if (kind === KIND_EOL) {
      for (let j = off + 1; j < len; j++) if (bytes[j] !== 0) return FAILURES.after_eol;
      break;
    }
    if (kind === KIND_NOP) {
      off++;
      continue;
    }
    if (off + 1 >= len) return FAILURES.truncated;
    const olen = bytes[off + 1]!;
    if (olen < 2) return FAILURES.short;
    if (off + olen > len) return FAILURES.truncated;
    const d = dialectOf(kind, olen, mask);
    if (d < 0) return FAILURES.length;
    if (d > 0) {
      if (found) return FAILURES.multiple;
      found = d;
      at = off;
    }
    off += olen;
  }
  if (!found) return FAILURES.absent;
  const dialect = DIALECT_TABLE[found - 1]!;
  let body = at + 2;
  let port = 0;
  if (dialect.port) {
    port = (bytes[body]! << 8) | bytes[body + 1]!;
    if (port === 0) return FAILURES.port;
    body += 2;
  } else {
    if (bytes[body] !== 1) return FAILURES.version;
    body += 1;
  }
  // ::ffff:a.b.c.d in a v6 dialect is an IPv4 client (toa_unmap()).
  const family = dialect.family === 4 || isV4Mapped(bytes, body) ? 4 : 6;
  if (family === 4) body += dialect.family === 6 ? 12 : 0;
  if (family === 4 ? impossibleIPv4(bytes, body) : impossibleIPv6(bytes, body)) return FAILURES.address;
  return {
    status: 'ok',
    dialect: dialect.name,
    family,
    address: family === 4 ? formatIPv4(bytes, body) : formatIPv6(bytes, body),
    port,
  };
}

function isV4Mapped(b: Uint8Array, off: number): boolean {
  for (let i = 0; i < 10; i++) if (b[off + i] !== 0) return false;
  return b[off + 10] === 0xff && b[off + 11] === 0xff;
}

/** What Linux drops as a martian source (toa_v4_impossible()): 0/8, 127/8, 224/4, 255.255.255.255. */
function impossibleIPv4(b: Uint8Array, off: number): boolean {
  const a = b[off]!;
  return a === 0 || a === 127 || (a & 0xf0) === 0xe0 || (a === 255 && b[off + 1] === 255 && b[off + 2] === 255 && b[off + 3] === 255);
}

/** ::, ::1 and ff00::/8 (toa_v6_impossible()). */
function impossibleIPv6(b: Uint8Array, off: number): boolean {
  if (b[off] === 0xff) return true;
  for (let i = 0; i < 15; i++) if (b[off + i] !== 0) return false;
  return b[off + 15]! <= 1;
}

/**
 * Encodes one TOA option of `dialect` for a client, as the director writes it
 * (toa_encode()). The address must be of the dialect's family (an IPv4 client
 * goes into a v6 dialect as `::ffff:a.b.c.d`); cdn dialects carry no port, so
 * theirs must be 0. Throws TypeError/RangeError with a `code` on bad input.
 */
export function encodeOption(dialect: DialectName, address: string, port = 0): Uint8Array {
  const d = dialectByName(dialect);
  if (!d) throw codeError(TypeError, 'TOA_EDIALECT', `unknown TOA dialect ${JSON.stringify(dialect)}`);
  const addr = parseAddress(address);
  if (!addr) throw codeError(TypeError, 'TOA_EADDRESS', `not an IP address: ${JSON.stringify(address)}`);
  if (addr.family !== d.family)
    throw codeError(RangeError, 'TOA_EADDRESS', `dialect ${d.name} carries IPv${d.family} addresses, not ${address}`);
  if (!Number.isInteger(port) || port < 0 || port > 0xffff)
    throw codeError(RangeError, 'TOA_EPORT', `port must be an integer 0..65535, not ${String(port)}`);
  if (!d.port && port !== 0) throw codeError(RangeError, 'TOA_EPORT', `dialect ${d.name} carries no port; got ${port}`);
  const out = new Uint8Array(d.length);
  out[0] = d.kind;
  out[1] = d.length;
  let body = 2;
  if (d.port) {
    out[2] = port >> 8;
    out[3] = port & 0xff;
    body = 4;
  } else {
    out[2] = 1; // cdn version
    body = 3;
  }
  out.set(addr.bytes, body);
  return out;
}

// ---- the per-socket record (struct toa_record) ---------------------------

/** sizeof(struct toa_record). */
export const RECORD_SIZE = 44;
/** TOA_RECORD_VERSION: the only layout this decoder knows. */
export const RECORD_VERSION = 1;
/** TOA_REC_NAT64: IPv6 client on an IPv4 socket; getpeername() keeps the LIP. */
export const REC_NAT64 = 0x1;
/** TOA_REC_REWRITTEN: getpeername() of the socket returns the client. */
export const REC_REWRITTEN = 0x2;

/** A decoded struct toa_record: what the real server learnt about one connection. */
export interface ToaRecord {
  /** Layout version (RECORD_VERSION). */
  version: number;
  /** Client address family. */
  family: 4 | 6;
  /** Dialect the client arrived in. */
  dialect: DialectName;
  /** Client address (dotted IPv4 or RFC 5952 IPv6). */
  address: string;
  /** Client port; 0 for cdn dialects. */
  port: number;
  /** Family of the original peer: the director's LIP. */
  peerFamily: 4 | 6;
  /** Original peer address (the LIP). */
  peerAddress: string;
  /** Original peer port. */
  peerPort: number;
  /** Flag TOA_REC_NAT64. */
  nat64: boolean;
  /** Flag TOA_REC_REWRITTEN. */
  rewritten: boolean;
}

// Field offsets in struct toa_record; test/unit/wire.test.ts checks them against the C compiler's.
const R_VERSION = 0;
const R_FAMILY = 1;
const R_DIALECT = 2;
const R_PEER_FAMILY = 3;
const R_PORT = 4;
const R_PEER_PORT = 6;
const R_ADDR = 8;
const R_PEER_ADDR = 24;
const R_FLAGS = 40;

// flags is a host-order __u32 (the record never leaves the host that wrote it).
const HOST_LE = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/**
 * Decodes a struct toa_record (the bytes from the BPF map or toa.ko's
 * getsockopt). Throws an Error with code `TOA_ERECORD` saying what is wrong
 * when the buffer is short, the version unknown, or a field out of range.
 * Unknown flag bits are ignored (a newer writer may add some).
 */
export function decodeRecord(buf: Uint8Array): ToaRecord {
  if (!(buf instanceof Uint8Array)) throw codeError(TypeError, 'TOA_EARG', 'record must be a Uint8Array');
  if (buf.length < RECORD_SIZE) throw recordError(`is ${buf.length} bytes, expected ${RECORD_SIZE}`);
  const version = buf[R_VERSION]!;
  if (version !== RECORD_VERSION) throw recordError(`has version ${version}, this decoder knows ${RECORD_VERSION}`);
  const family = buf[R_FAMILY]!;
  const peerFamily = buf[R_PEER_FAMILY]!;
  if (family !== 4 && family !== 6) throw recordError(`has client family ${family}`);
  if (peerFamily !== 4 && peerFamily !== 6) throw recordError(`has peer family ${peerFamily}`);
  const dialect = dialectById(buf[R_DIALECT]!);
  if (!dialect) throw recordError(`has unknown dialect ${buf[R_DIALECT]}`);
  const flags = readU32(buf, R_FLAGS);
  return {
    version,
    family,
    dialect: dialect.name,
    address: family === 4 ? formatIPv4(buf, R_ADDR) : formatIPv6(buf, R_ADDR),
    port: (buf[R_PORT]! << 8) | buf[R_PORT + 1]!,
    peerFamily,
    peerAddress: peerFamily === 4 ? formatIPv4(buf, R_PEER_ADDR) : formatIPv6(buf, R_PEER_ADDR),
    peerPort: (buf[R_PEER_PORT]! << 8) | buf[R_PEER_PORT + 1]!,
    nat64: (flags & REC_NAT64) !== 0,
    rewritten: (flags & REC_REWRITTEN) !== 0,
  };
}

/**
 * Encodes a record as struct toa_record bytes (for tests and tools that
 * fake what the kernel side writes). Throws TypeError/RangeError with a code
 * on a field the C struct cannot hold.
 */
export function encodeRecord(rec: ToaRecord): Uint8Array {
  const d = dialectByName(rec.dialect);
  if (!d) throw codeError(TypeError, 'TOA_EDIALECT', `unknown TOA dialect ${JSON.stringify(rec.dialect)}`);
  const out = new Uint8Array(RECORD_SIZE);
  out[R_VERSION] = checkU8(rec.version, 'version');
  out[R_FAMILY] = rec.family;
  out[R_DIALECT] = d.id;
  out[R_PEER_FAMILY] = rec.peerFamily;
  writePort(out, R_PORT, rec.port, 'port');
  writePort(out, R_PEER_PORT, rec.peerPort, 'peerPort');
  out.set(addressBytes(rec.address, rec.family, 'address'), R_ADDR);
  out.set(addressBytes(rec.peerAddress, rec.peerFamily, 'peerAddress'), R_PEER_ADDR);
  const flags = (rec.nat64 ? REC_NAT64 : 0) | (rec.rewritten ? REC_REWRITTEN : 0);
  for (let i = 0; i < 4; i++) out[R_FLAGS + (HOST_LE ? i : 3 - i)] = (flags >>> (8 * i)) & 0xff;
  return out;
}

// ---- addresses -------------------------------------------------------------

/** Dotted-quad text of the 4 bytes at buf[off]. */
export function formatIPv4(buf: Uint8Array, off = 0): string {
  return `${buf[off]}.${buf[off + 1]}.${buf[off + 2]}.${buf[off + 3]}`;
}

/**
 * Text of the 16 bytes at buf[off], exactly as inet_ntop (and so Node's
 * socket.remoteAddress and the C tools) writes it: RFC 5952 (lowercase hex
 * without leading zeros, the longest run (the first on a tie) of two or more
 * zero groups as `::`), with the embedded IPv4 forms `::ffff:a.b.c.d` and
 * the deprecated IPv4-compatible `::a.b.c.d`.
 */
export function formatIPv6(buf: Uint8Array, off = 0): string {
  let best = -1;
  let bestLen = 0;
  for (let i = 0, cur = -1; i < 8; i++) {
    if (word(buf, off, i) === 0) {
      if (cur < 0) cur = i;
      if (i - cur + 1 > bestLen) {
        bestLen = i - cur + 1;
        best = cur;
      }
    } else cur = -1;
  }
  if (bestLen < 2) best = -1;
  let s = '';
  for (let i = 0; i < 8; i++) {
    if (best >= 0 && i >= best && i < best + bestLen) {
      if (i === best) s += ':';
      continue;
    }
    if (i !== 0) s += ':';
    // Embedded IPv4 (inet_ntop's rule): ::a.b.c.d (but not ::1-like), ::ffff:a.b.c.d.
    if (i === 6 && best === 0 && (bestLen === 6 || (bestLen === 5 && word(buf, off, 5) === 0xffff) || (bestLen === 7 && word(buf, off, 7) !== 1))) {
      return s + formatIPv4(buf, off + 12);
    }
    s += word(buf, off, i).toString(16);
  }
  if (best >= 0 && best + bestLen === 8) s += ':';
  return s;
}

function word(buf: Uint8Array, off: number, i: number): number {
  return (buf[off + 2 * i]! << 8) | buf[off + 2 * i + 1]!;
}

/** An IP address as its family and 4 or 16 network-order bytes. */
export interface ParsedAddress {
  family: 4 | 6;
  bytes: Uint8Array;
}

const V4_OCTET = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/;
const V6_GROUP = /^[0-9a-fA-F]{1,4}$/;

/**
 * Parses dotted IPv4 or IPv6 text (with `::` and an optional dotted IPv4
 * tail; no zone, no brackets). Returns null for anything else.
 */
export function parseAddress(text: string): ParsedAddress | null {
  if (typeof text !== 'string') return null;
  if (!text.includes(':')) {
    const b = parseIPv4(text);
    return b ? { family: 4, bytes: b } : null;
  }
  const b = parseIPv6(text);
  return b ? { family: 6, bytes: b } : null;
}

function parseIPv4(text: string): Uint8Array | null {
  const parts = text.split('.');
  if (parts.length !== 4 || !parts.every((p) => V4_OCTET.test(p))) return null;
  return Uint8Array.from(parts, Number);
}

function parseIPv6(text: string): Uint8Array | null {
  const out = new Uint8Array(16);
  let s = text;
  let tail: Uint8Array | null = null;
  const lastColon = s.lastIndexOf(':');
  if (s.indexOf('.', lastColon) >= 0) {
    tail = parseIPv4(s.slice(lastColon + 1));
    if (!tail) return null;
    s = `${s.slice(0, lastColon + 1)}0:0`;
  }
  const halves = s.split('::');
  if (halves.length > 2) return null;
  const groups = (h: string) => (h === '' ? [] : h.split(':'));
  const head = groups(halves[0]!);
  const rest = halves.length === 2 ? groups(halves[1]!) : [];
  const n = head.length + rest.length;
  if (halves.length === 2 ? n > 7 : n !== 8) return null;
  if (![...head, ...rest].every((g) => V6_GROUP.test(g))) return null;
  head.forEach((g, i) => writeGroup(out, i, g));
  rest.forEach((g, i) => writeGroup(out, 8 - rest.length + i, g));
  if (tail) out.set(tail, 12);
  return out;
}

function writeGroup(out: Uint8Array, i: number, g: string): void {
  const w = parseInt(g, 16);
  out[2 * i] = w >> 8;
  out[2 * i + 1] = w & 0xff;
}

// ---- helpers ---------------------------------------------------------------

function readU32(buf: Uint8Array, off: number): number {
  let v = 0;
  for (let i = 0; i < 4; i++) v |= buf[off + (HOST_LE ? i : 3 - i)]! << (8 * i);
  return v >>> 0;
}

function writePort(out: Uint8Array, off: number, port: number, what: string): void {
  if (!Number.isInteger(port) || port < 0 || port > 0xffff)
    throw codeError(RangeError, 'TOA_EPORT', `${what} must be an integer 0..65535, not ${String(port)}`);
  out[off] = port >> 8;
  out[off + 1] = port & 0xff;
}

function checkU8(v: number, what: string): number {
  if (!Number.isInteger(v) || v < 0 || v > 0xff) throw codeError(RangeError, 'TOA_ERECORD', `${what} must be 0..255, not ${String(v)}`);
  return v;
}

function addressBytes(text: string, family: number, what: string): Uint8Array {
  if (family !== 4 && family !== 6) throw codeError(RangeError, 'TOA_ERECORD', `${what} family must be 4 or 6, not ${String(family)}`);
  const a = parseAddress(text);
  if (!a || a.family !== family) throw codeError(TypeError, 'TOA_EADDRESS', `${what} is not an IPv${family} address: ${JSON.stringify(text)}`);
  return a.bytes;
}

/**
 * Which dialect (kind, len) is under the accept mask: its id, 0 for an option
 * that is not TOA under this mask, -1 for a TOA kind with a length no accepted
 * dialect of that kind has. Mirrors toa_dialect_of(); 28/4 is User Timeout.
 */
function dialectOf(kind: number, len: number, mask: number): number {
  if (kind === 28 && len === 4) return 0;
  let kindAccepted = false;
  for (const d of DIALECT_TABLE) {
    if (d.kind !== kind) continue;
    const accepted = (mask & (1 << d.id)) !== 0;
    if (d.length === len) return accepted ? d.id : 0;
    if (accepted) kindAccepted = true;
  }
  return kindAccepted ? -1 : 0;
}

function recordError(what: string): Error {
  return codeError(Error, 'TOA_ERECORD', `TOA record ${what}`);
}

function codeError<E extends Error>(Ctor: new (message: string) => E, code: string, message: string): E & { code: string } {
  return Object.assign(new Ctor(message), { code });
}
