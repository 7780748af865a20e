/**
 * Fastify plugin: installs on fastify.server, so request.ip and the request
 * log line show the client from the first byte, and decorates request.toa
 * with the Peer. Not encapsulated, named 'node-toa', for Fastify 4 and 5:
 * the three symbols fastify-plugin would set are set here, so the package
 * needs neither fastify-plugin nor fastify at run time.
 */
import type { Server } from 'node:net';
import { applySafely, install } from '../install.js';
import type { Reader } from '../reader.js';
import type { Peer } from '../types.js';

/** The parts of a Fastify instance used here (no dependency on fastify's types). */
export interface FastifyLike {
  server: unknown;
  decorateRequest(name: string, value: unknown): unknown;
  addHook(name: 'onRequest', hook: (request: { raw: unknown; toa: Peer | null }, reply: unknown, done: (err?: Error) => void) => void): unknown;
}

/** A Fastify plugin (not encapsulated, named 'node-toa'). */
export type FastifyPlugin = ((fastify: FastifyLike, opts: unknown, done: (err?: Error) => void) => void) & {
  default: FastifyPlugin;
};

export function fastifyPlugin(reader: Reader): FastifyPlugin {
  function toa(fastify: FastifyLike, _opts: unknown, done: (err?: Error) => void) {
    const server = fastify.server as Server | undefined;
    if (server && typeof server.prependListener === 'function') install(reader, server);
    fastify.decorateRequest('toa', null);
    fastify.addHook('onRequest', (request, _reply, next) => {
      try {
        request.toa = applySafely(reader, request.raw, 'Fastify plugin');
      } catch (err) {
        return next(err as Error); // strict mode only
      }
      next();
    });
    done();
  }
  const meta = { name: 'node-toa', fastify: '4.x || 5.x' };
  return Object.assign(toa, {
    default: toa as FastifyPlugin,
    [Symbol.for('skip-override')]: true, // decorate the app, not a child context
    [Symbol.for('fastify.display-name')]: meta.name,
    [Symbol.for('plugin-meta')]: meta,
  });
}
