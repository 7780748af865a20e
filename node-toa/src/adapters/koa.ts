/** Koa middleware: ctx.ip and ctx.ips see the TOA client (Koa reads the socket lazily). */
import type { IncomingMessage } from 'node:http';
import { applySafely } from '../install.js';
import type { Reader } from '../reader.js';
import type { Peer } from '../types.js';

/** The parts of Koa's context used here. */
export interface KoaContextLike {
  req: IncomingMessage;
  state: Record<string, unknown>;
}

/** A Koa middleware. */
export type KoaMiddleware = (ctx: KoaContextLike, next: () => Promise<unknown>) => Promise<unknown>;

export function koaMiddleware(reader: Reader): KoaMiddleware {
  return function toa(ctx, next) {
    try {
      ctx.state.toa = applySafely(reader, ctx.req, 'koa()') satisfies Peer | null;
    } catch (err) {
      return Promise.reject(err); // strict mode only
    }
    return next();
  };
}
