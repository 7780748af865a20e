/** The shapes of the package's public objects (the types of src/index.ts). */
import type { Middleware } from './adapters/express.js';
import type { FastifyPlugin } from './adapters/fastify.js';
import type { KoaMiddleware } from './adapters/koa.js';
import type { ToaError } from './errors.js';
import type { InstallableServer } from './install.js';
import type { SocketLike } from './socket.js';
import type { BackendInfo, BackendName, Peer, SocketAddress } from './types.js';

/** Options for create(). */
export interface ToaOptions {
  /** Force a backend; default: native, else ffi, else socket. */
  backend?: BackendName;
  /** Where the real-server eBPF path pins its state; default $TOA_PIN_DIR or /sys/fs/bpf/toa. */
  pinDir?: string;
  /**
   * Throw TOA_EPERM / TOA_EMAP / TOA_ERECORD / TOA_ENOMAP instead of falling
   * back (with a one-time process warning) to the socket's own address.
   */
  strict?: boolean;
}

/** One configuration of node-toa: every function of the package, bound to it. */
export interface Toa {
  /**
   * Who is on the other end of a socket, HTTP/1 request, HTTP/2 request or
   * stream: the TOA client when the connection has a record, else the
   * socket's own peer (`via: 'socket'`). One lookup per connection, cached.
   * Throws TOA_ESOCKCLOSED for a socket that closed before its peer was ever
   * read, TOA_ENOFD for a socket without a kernel fd, TOA_EINVAL for anything else.
   */
  peer(x: SocketLike): Peer;
  /**
   * Makes every socket a net, http, https or http2 server accepts report its
   * TOA client as remoteAddress/remotePort/remoteFamily, before any of the
   * server's handlers run. Idempotent. Returns the server.
   */
  install<S extends InstallableServer>(server: S): S;
  /** Express/Connect middleware: req.ip and req.ips start from the real client. */
  express(): Middleware;
  /** Fastify plugin: installs on fastify.server and decorates request.toa with the Peer. */
  readonly fastify: FastifyPlugin;
  /** Koa middleware: ctx.ip starts from the real client; ctx.state.toa is the Peer. */
  koa(): KoaMiddleware;
  /** The raw struct toa_record (44 bytes) of a socket, or null. Never falls back: every error throws. */
  record(x: SocketLike): Uint8Array | null;
  /** getpeername(2) of a socket, straight from the kernel (not Node's cache). */
  getpeername(x: SocketLike): SocketAddress;
  /** Which backend reads records, and why that one. */
  readonly backend: BackendInfo;
  /** Where records are looked up. */
  readonly pinDir: string;
  /** Drops the cached map fd and what is remembered as absent (the next lookup opens the pin again). */
  reset(): void;
}

/**
 * The module itself: the default configuration plus create() and ToaError.
 * `require('node-toa')`, `import toa from 'node-toa'` and the ESM named
 * exports are this one object and its members.
 */
export interface NodeToa extends Toa {
  /** A configuration with its own backend, pin directory and cache. */
  create(options?: ToaOptions): Toa;
  /** The class of every error node-toa throws. */
  readonly ToaError: typeof ToaError;
  /** The module itself, for code compiled to read `.default`. */
  readonly default: NodeToa;
}
