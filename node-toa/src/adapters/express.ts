/**
 * Express (and Connect) middleware: sets the socket's address to the TOA
 * client before Express reads it, so req.ip and req.ips follow the app's
 * `trust proxy` setting with the real client as the first hop.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { applySafely } from '../install.js';
import type { Reader } from '../reader.js';

/** A Connect/Express middleware. */
export type Middleware = (req: IncomingMessage, res: ServerResponse, next: (err?: unknown) => void) => void;

export function expressMiddleware(reader: Reader): Middleware {
  return function toa(req, _res, next) {
    try {
      applySafely(reader, req, 'express()');
    } catch (err) {
      return next(err); // strict mode only
    }
    next();
  };
}
