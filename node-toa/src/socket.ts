/**
 * From whatever the caller holds (a net/TLS socket, an HTTP/1 request, an
 * HTTP/2 request or stream) to the socket object and its kernel fd.
 */
import { IncomingMessage } from 'node:http';
import { Socket } from 'node:net';
import { ToaError } from './errors.js';

/** What peer() accepts. */
export type SocketLike =
  | Socket
  | { socket: Socket | null } // http.IncomingMessage, http2.Http2ServerRequest, Koa's ctx.req
  | { session: { socket: Socket } | undefined }; // http2.ServerHttp2Stream

/** Internal fields of net.Socket read here (stable since Node 0.x). */
export interface SocketInternals {
  _handle?: { fd?: number } | null;
  _parent?: Socket | null; // a TLS socket's raw socket
  destroyed: boolean;
}

/**
 * The socket object behind x. HTTP/2 hands out a Proxy as req.socket; the
 * real socket is taken from the session so properties can be defined on it.
 * Throws TOA_EINVAL for anything that is not a socket or request.
 */
export function socketOf(x: unknown): Socket {
  if (x instanceof Socket) return x;
  // An HTTP/1 request first: its own `session` (express-session's) is no HTTP/2 session.
  if (x instanceof IncomingMessage) {
    if (x.socket instanceof Socket) return x.socket;
    throw new ToaError('TOA_ESOCKCLOSED', 'node-toa: the request no longer has a socket (the connection is closed)');
  }
  if (typeof x === 'object' && x !== null) {
    const o = x as { socket?: unknown; stream?: { session?: object }; session?: object };
    const session = o.stream?.session ?? o.session;
    if (session) {
      const real = sessionSocket(session);
      if (real) return real;
    }
    if (o.socket instanceof Socket) return o.socket;
    if ('socket' in o || 'session' in o || 'stream' in o) {
      throw new ToaError('TOA_ESOCKCLOSED', 'node-toa: the request or stream no longer has a socket (the connection is closed)');
    }
  }
  throw new ToaError(
    'TOA_EINVAL',
    `node-toa: expected a net.Socket, tls.TLSSocket, HTTP request or HTTP/2 stream, got ${describe(x)}`,
  );
}

let kSessionSocket: symbol | undefined;

// Http2Session keeps its socket under a symbol described 'socket' (Node 10+).
function sessionSocket(session: object): Socket | undefined {
  const sess = session as Record<symbol, unknown> & { socket?: unknown };
  kSessionSocket ??= Object.getOwnPropertySymbols(session).find((k) => k.description === 'socket');
  const s = kSessionSocket ? sess[kSessionSocket] : undefined;
  if (s instanceof Socket) return s;
  return sess.socket instanceof Socket ? sess.socket : undefined;
}

/** The fd of an open socket. Throws TOA_ESOCKCLOSED or TOA_ENOFD. */
export function fdOf(s: Socket): number {
  const i = s as unknown as SocketInternals;
  const h = i._handle;
  if (!h || i.destroyed) throw new ToaError('TOA_ESOCKCLOSED', 'node-toa: the socket is closed, so its peer can no longer be read');
  const fd = h.fd;
  if (typeof fd !== 'number' || fd < 0) {
    throw new ToaError('TOA_ENOFD', 'node-toa: the socket has no file descriptor (it is not a kernel TCP socket, e.g. a stream wrapped in JavaScript)');
  }
  return fd;
}

function describe(x: unknown): string {
  if (x === null) return 'null';
  if (x === undefined) return 'undefined';
  if (typeof x === 'object') return `an object of class ${(x as object).constructor?.name ?? 'Object'}`;
  return `${typeof x} ${JSON.stringify(x)}`;
}
