/**
 * Fastify's request gets `toa` from the plugin; the augmentation ships with
 * the package's types, as Fastify plugins do, so apps need none of their own.
 * fastify is an optional peer: TypeScript projects without it need
 * skipLibCheck (tsc --init's default) for this file's import.
 */
import type { FastifyRequest } from 'fastify';
import type { Peer } from './types.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** The Peer of the request's connection (node-toa's Fastify plugin); null only before its onRequest hook ran. */
    toa: Peer | null;
  }
}

/** A Fastify request, with `toa` (kept as an export so the types load this file). */
export type ToaFastifyRequest = FastifyRequest;
