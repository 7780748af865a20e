/**
 * toa: the real client address of connections that came through an LVS
 * FullNAT load balancer with TOA, for Node.js.
 *
 * The exports are bound to one default configuration (TOA_BACKEND,
 * TOA_PIN_DIR); create() makes another.
 */
import { expressMiddleware, type Middleware } from './adapters/express.js';
import { fastifyPlugin, type FastifyPlugin } from './adapters/fastify.js';
import { koaMiddleware, type KoaMiddleware } from './adapters/koa.js';
import { checkBackendName, selectBackend } from './backends/index.js';
import { ToaError } from './errors.js';
import { install as installOn, type InstallableServer } from './install.js';
import { PIN_DIR_DEFAULT, Reader } from './reader.js';
import type { SocketLike } from './socket.js';
import type { BackendInfo, BackendName, Peer, SocketAddress } from './types.js';

export { ToaError } from './errors.js';
export type { ToaErrorCode } from './errors.js';
export type { BackendInfo, BackendName, Dialect, Endpoint, Peer, SocketAddress } from './types.js';
export type { Middleware } from './adapters/express.js';
export type { FastifyPlugin, FastifyLike } from './adapters/fastify.js';
export type { KoaMiddleware, KoaContextLike } from './adapters/koa.js';
export type { SocketLike } from './socket.js';
export type { InstallableServer } from './install.js';

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

/** One configuration of toa: every function of the package, bound to it. */
export interface Toa {
  /**
   * Who is on the other end of a socket, HTTP/1 request, HTTP/2 request or
   * stream: the TOA client when the connection has a record, else the
   * socket's own peer (`via: 'socket'`). One lookup per connection, cached.
   * Throws TOA_ESOCKCLOSED for a closed socket whose peer was never read,
   * TOA_ENOFD for a socket without a kernel fd, TOA_EINVAL for anything else.
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
  fastify: FastifyPlugin;
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
  /** Drops the cached map fd (the next lookup opens the pin again). */
  reset(): void;
}

/** A configuration of toa with its own backend, pin directory and cache. */
export function create(options: ToaOptions = {}): Toa {
  if (typeof options !== 'object' || options === null) {
    throw new ToaError('TOA_EINVAL', `node-toa: create(options): options must be an object, got ${String(options)}`);
  }
  return createWith(options, checkBackendName(options.backend, 'node-toa: create({ backend })'), 'backend option');
}

function createWith(options: ToaOptions, requested: BackendName | undefined, source: string): Toa {
  if (options.pinDir !== undefined && (typeof options.pinDir !== 'string' || options.pinDir === '')) {
    throw new ToaError('TOA_EINVAL', `node-toa: create({ pinDir }): pinDir must be a non-empty string, got ${JSON.stringify(options.pinDir)}`);
  }
  const { backend, info } = selectBackend(requested, source);
  const reader = new Reader({
    backend,
    info,
    pinDir: options.pinDir ?? (process.env.TOA_PIN_DIR || PIN_DIR_DEFAULT),
    strict: options.strict === true,
  });
  return {
    peer: (x) => reader.peer(x),
    install(server) {
      installOn(reader, server);
      return server;
    },
    express: () => expressMiddleware(reader),
    fastify: fastifyPlugin(reader),
    koa: () => koaMiddleware(reader),
    record: (x) => reader.record(x),
    getpeername: (x) => reader.getpeername(x),
    backend: info,
    pinDir: reader.pinDir,
    reset: () => backend.reset(),
  };
}

// TOA_BACKEND picks the default instance's backend; a bad value is an error at import.
const toa = createWith({}, checkBackendName(process.env.TOA_BACKEND, 'TOA_BACKEND'), 'TOA_BACKEND');

export const peer = toa.peer;
export const install = toa.install;
export const express = toa.express;
export const fastify = toa.fastify;
export const koa = toa.koa;
export const record = toa.record;
export const getpeername = toa.getpeername;
export const backend = toa.backend;
export const reset = toa.reset;
export default toa;
