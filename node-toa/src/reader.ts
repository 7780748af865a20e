/**
 * The core every export wraps: one lookup per connection, cached on the
 * socket, turned into a Peer.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Socket } from 'node:net';
import { NO_SOURCE, RECORD_SIZE, type Backend, type MapReader } from './backends/backend.js';
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

/**
 * How long "nothing to read records from" (no map pinned, toa.ko not
 * loaded) is believed before asking the kernel again: new connections in
 * that time cost nothing beyond the socket's own address, and an attach is
 * noticed within it.
 */
export const ABSENCE_MS = 1000;

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
  readonly kPeer = Symbol('node-toa.peer');
  private readonly map: MapReader;
  private readonly buf = new Uint8Array(RECORD_SIZE);
  private readonly warned = new Set<string>();
  /** Nothing to read records from, as of less than ABSENCE_MS ago. */
  private absent = false;
  private absentTimer: NodeJS.Timeout | undefined;

  constructor(o: ReaderOptions) {
    this.backend = o.backend;
    this.info = o.info;
    this.pinDir = o.pinDir;
    this.strict = o.strict;
    this.mapPath = join(o.pinDir, 'records');
    this.map = o.backend.open(this.mapPath);
  }

  /** Forgets the map fd and any remembered absence. */
  reset(): void {
    this.map.reset();
    this.forgetAbsence();
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
      throw fromSyscall(err, 'node-toa');
    }
  }

  /** Warns once per reader and code. */
  warnOnce(code: string, message: string): void {
    if (this.warned.has(code)) return;
    this.warned.add(code);
    process.emitWarning(message, { code });
  }

  private lookup(fd: number, family = 0): number {
    try {
      return this.map.lookup(fd, this.buf, family);
    } catch (err) {
      throw fromSyscall(err, `node-toa: reading the TOA record (map ${this.mapPath})`);
    }
  }

  private resolve(s: Socket): Peer {
    if (this.absent) return this.noSource(s);
    const fd = socketFd(s);
    // Closed before anyone looked: Node's cached address, if it has one, is all there is.
    if (fd < 0) return socketPeer(s);
    let r: number;
    try {
      r = this.lookup(fd, serverFamily(s));
      if (r & 0xff) return peerFromRecord(this.buf, r & 0xff);
    } catch (err) {
      // Config problems must not break every request: warn once, use the socket.
      if (this.strict || !(hasCode(err, 'TOA_EPERM') || hasCode(err, 'TOA_EMAP') || hasCode(err, 'TOA_ERECORD'))) throw err;
      this.warnOnce((err as ToaError).code, `${(err as Error).message}; reporting socket addresses instead`);
      r = 0;
    }
    if (r === NO_SOURCE) {
      this.rememberAbsence();
      return this.noSource(s);
    }
    return socketPeer(s);
  }

  private noSource(s: Socket): Peer {
    if (this.strict && this.info.name !== 'socket') {
      throw new ToaError('TOA_ENOMAP', `node-toa: no TOA records map is pinned at ${this.mapPath} and toa.ko is not loaded`);
    }
    return socketPeer(s);
  }

  private rememberAbsence(): void {
    if (this.info.name === 'socket') {
      this.absent = true; // nothing will ever appear for this backend
      return;
    }
    if (process.env.TOA_PIN_DIR && this.pinDir === process.env.TOA_PIN_DIR && !existsSync(this.pinDir)) {
      this.warnOnce('TOA_ENOPINDIR', `node-toa: TOA_PIN_DIR=${this.pinDir} does not exist; until something is pinned there, socket addresses are reported`);
    }
    this.absent = true;
    // A timer, not a clock read per connection: absence then costs nothing.
    this.absentTimer = setTimeout(() => this.forgetAbsence(), ABSENCE_MS);
    this.absentTimer.unref();
  }

  private forgetAbsence(): void {
    if (this.absentTimer) clearTimeout(this.absentTimer);
    this.absentTimer = undefined;
    this.absent = false;
  }
}

/** The fd of a socket, -1 once it is closed. Throws TOA_ENOFD like fdOf for sockets without one. */
function socketFd(s: Socket): number {
  const i = s as unknown as SocketInternals;
  if (!i._handle || i.destroyed) return -1;
  return fdOf(s);
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

/**
 * The socket's own view (Node's cached getpeername). A TCP socket whose
 * client is already gone (reset before anyone read its address) has none:
 * TOA_ESOCKCLOSED, which the adapters and install() let pass.
 */
export function socketPeer(s: Socket): Peer {
  const address = s.remoteAddress;
  const port = s.remotePort;
  if (address === undefined || port === undefined) {
    const handle = (s as unknown as SocketInternals)._handle as { constructor?: { name?: string } } | null | undefined;
    if (handle && !s.destroyed && handle.constructor?.name === 'Pipe') {
      throw new ToaError('TOA_ENOTINET', 'node-toa: the socket is not a TCP/IP socket (e.g. a Unix domain socket), so it has no peer address');
    }
    throw new ToaError('TOA_ESOCKCLOSED', 'node-toa: the socket has no peer address: the client closed or reset the connection before its address was read');
  }
  const family = s.remoteFamily === 'IPv4' || (address.startsWith('::ffff:') && address.includes('.')) ? 4 : 6;
  return { address, port, family, via: 'socket' };
}
