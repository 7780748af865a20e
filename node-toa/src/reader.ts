/**
 * The core every export wraps: one lookup per connection, cached on the
 * socket, turned into a Peer.
 */
import { join } from 'node:path';
import type { Socket } from 'node:net';
import { NO_SOURCE, RECORD_SIZE, type Backend } from './backends/backend.js';
import { fromSyscall, hasCode, ToaError } from './errors.js';
import { peerFromRecord } from './record.js';
import { fdOf, socketOf, type SocketInternals } from './socket.js';
import type { BackendInfo, Peer, SocketAddress } from './types.js';

/** Default pin directory (include/toa/toa_record.h); TOA_PIN_DIR overrides it. */
export const PIN_DIR_DEFAULT = '/sys/fs/bpf/toa';

/** The pin directory of the default configuration: $TOA_PIN_DIR, else the default. */
export function pinDirFromEnv(): string {
  return process.env.TOA_PIN_DIR || PIN_DIR_DEFAULT;
}

export interface ReaderOptions {
  backend: Backend;
  info: BackendInfo;
  pinDir: string;
  /** Throw (TOA_EPERM, TOA_EMAP, TOA_ERECORD, TOA_ENOMAP) instead of falling back to the socket's address. */
  strict: boolean;
}

export class Reader {
  readonly backend: Backend;
  readonly info: BackendInfo;
  readonly pinDir: string;
  readonly mapPath: string;
  readonly strict: boolean;
  /** Per-socket cache; a symbol per reader so two configurations never mix. */
  readonly kPeer = Symbol('toa.peer');
  private readonly buf = new Uint8Array(RECORD_SIZE);
  private warned = new Set<string>();

  constructor(o: ReaderOptions) {
    this.backend = o.backend;
    this.info = o.info;
    this.pinDir = o.pinDir;
    this.strict = o.strict;
    this.mapPath = join(o.pinDir, 'records');
  }

  /** Forgets the cached map. */
  reset(): void {
    this.backend.reset();
  }

  /** The peer of x, looked up once per socket. */
  peer(x: unknown): Peer {
    const s = socketOf(x) as Socket & Record<symbol, Peer | undefined>;
    const cached = s[this.kPeer];
    if (cached !== undefined) return cached;
    // A TLS socket over a raw socket that install() already read.
    const parent = (s as unknown as SocketInternals)._parent as (Socket & Record<symbol, Peer | undefined>) | null | undefined;
    const p = parent?.[this.kPeer] ?? this.resolve(s);
    s[this.kPeer] = p;
    return p;
  }

  /** The raw 44-byte record of x's socket, or null. Errors are thrown, never hidden. */
  record(x: unknown): Uint8Array | null {
    const fd = fdOf(socketOf(x));
    const r = this.lookup(fd);
    return r & 0xff ? this.buf.slice() : null;
  }

  /** getpeername(2) of x's socket, bypassing Node's cache and install(). */
  getpeername(x: unknown): SocketAddress {
    const fd = fdOf(socketOf(x));
    try {
      return this.backend.getpeername(fd);
    } catch (err) {
      throw fromSyscall(err, 'node-toa: getpeername');
    }
  }

  private lookup(fd: number, family = 0): number {
    this.backend.setMapPath(this.mapPath);
    try {
      return this.backend.lookup(fd, this.buf, family);
    } catch (err) {
      throw fromSyscall(err, `node-toa: reading the TOA record (map ${this.mapPath})`);
    }
  }

  private resolve(s: Socket): Peer {
    const fd = fdOf(s);
    let r: number;
    try {
      r = this.lookup(fd, serverFamily(s));
      if (r & 0xff) return peerFromRecord(this.buf, r & 0xff);
    } catch (err) {
      // Config problems must not break every request: warn once, use the socket.
      if (this.strict || !(hasCode(err, 'TOA_EPERM') || hasCode(err, 'TOA_EMAP') || hasCode(err, 'TOA_ERECORD'))) throw err;
      this.warnOnce(err as ToaError);
      r = 0;
    }
    if (r === NO_SOURCE && this.strict && this.info.name !== 'socket') {
      throw new ToaError('TOA_ENOMAP', `node-toa: no TOA records map is pinned at ${this.mapPath} and toa.ko is not loaded`);
    }
    return socketPeer(s);
  }

  private warnOnce(err: ToaError) {
    if (this.warned.has(err.code)) return;
    this.warned.add(err.code);
    process.emitWarning(`${err.message}; reporting socket addresses instead`, { code: err.code });
  }
}

const serverFamilies = new WeakMap<object, number>();

/**
 * An accepted socket has its listener's family: asked once per server
 * (getsockname), it saves a syscall per connection. 0 when unknown.
 */
function serverFamily(s: Socket): number {
  const server = (s as unknown as { server?: { address(): unknown } | null }).server;
  if (!server || typeof server.address !== 'function') return 0;
  let f = serverFamilies.get(server);
  if (f === undefined) {
    const a = server.address() as { family?: string } | null;
    f = a && typeof a === 'object' ? (a.family === 'IPv6' ? 6 : a.family === 'IPv4' ? 4 : 0) : 0;
    if (f) serverFamilies.set(server, f);
  }
  return f;
}

/** The socket's own view (Node's cached getpeername). */
export function socketPeer(s: Socket): Peer {
  const address = s.remoteAddress;
  const port = s.remotePort;
  if (address === undefined || port === undefined) {
    const open = !s.destroyed && (s as unknown as SocketInternals)._handle;
    if (open && !s.connecting) throw new ToaError('TOA_ENOTINET', 'node-toa: the socket is not a TCP/IP socket (e.g. a Unix domain socket), so it has no peer address');
    throw new ToaError('TOA_ESOCKCLOSED', 'node-toa: the socket has no peer address (it is closed or not connected)');
  }
  const family = s.remoteFamily === 'IPv4' || (address.startsWith('::ffff:') && address.includes('.')) ? 4 : 6;
  return { address, port, family, via: 'socket' };
}
