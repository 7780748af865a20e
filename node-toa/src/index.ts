/**
 * node-toa: the real client address of connections that came through an
 * LVS FullNAT load balancer with TOA, for Node.js.
 *
 * The module is one object (NodeToa): the default configuration (TOA_BACKEND,
 * TOA_PIN_DIR), create() for another, and ToaError. CommonJS gets it as
 * module.exports; the ESM entry's default export is the same object and its
 * named exports are its members.
 */
import type { Middleware as MiddlewareT } from './adapters/express.js';
import type { FastifyLike as FastifyLikeT, FastifyPlugin as FastifyPluginT } from './adapters/fastify.js';
import type { KoaContextLike as KoaContextLikeT, KoaMiddleware as KoaMiddlewareT } from './adapters/koa.js';
import type { NodeToa as NodeToaT, Toa as ToaT, ToaOptions as ToaOptionsT } from './api.js';
import { configure } from './configure.js';
import { ToaError as ToaErrorClass, type ToaErrorCode as ToaErrorCodeT } from './errors.js';
import type { InstallableServer as InstallableServerT } from './install.js';
import type { SocketLike as SocketLikeT } from './socket.js';
import type * as T from './types.js';
import type { ToaFastifyRequest } from './fastify-request.js';

/** The default configuration: TOA_BACKEND (a bad value is an error at import), TOA_PIN_DIR. */
const toa = configure() as NodeToaT;

// The types, as members of the module (import { type Peer } from 'node-toa', or toa.Peer).
declare namespace toa {
  export type Peer = T.Peer;
  export type Endpoint = T.Endpoint;
  export type Dialect = T.Dialect;
  export type BackendName = T.BackendName;
  export type BackendInfo = T.BackendInfo;
  export type SocketAddress = T.SocketAddress;
  export type ToaOptions = ToaOptionsT;
  export type Toa = ToaT;
  export type NodeToa = NodeToaT;
  export type ToaError = ToaErrorClass;
  export type ToaErrorCode = ToaErrorCodeT;
  export type SocketLike = SocketLikeT;
  export type InstallableServer = InstallableServerT;
  export type Middleware = MiddlewareT;
  export type FastifyPlugin = FastifyPluginT;
  export type FastifyLike = FastifyLikeT;
  export type KoaMiddleware = KoaMiddlewareT;
  export type KoaContextLike = KoaContextLikeT;
  /** Fastify's request, which the plugin gives `toa` (its type carries the augmentation). */
  export type FastifyRequest = ToaFastifyRequest;
}

export = toa;
