/**
 * Makes a socket report its TOA client: remoteAddress, remotePort and
 * remoteFamily show it from then on, whatever was read before (the client
 * goes into Node's own cache of getpeername(), or where Node would not read
 * that, into own properties of the socket). Then req.ip, loggers and
 * framework code all see the client, NAT64 clients included. The first
 * configuration to set a socket's client keeps it.
 */
import type { Server as NetServer, Socket } from 'node:net';
import { Server as TlsServer } from 'node:tls';
import { hasCode, ToaError } from './errors.js';
import type { Reader } from './reader.js';
import { socketOf } from './socket.js';
import type { Peer } from './types.js';

/** Servers install() accepts: net, http, https, http2 (plain and secure) all are net.Server underneath. */
export type InstallableServer = NetServer;

const kApplied = Symbol('toa.applied');

/**
 * Node's cache behind remoteAddress, remotePort and remoteFamily: the
 * getters return it once set (net.js, Socket.prototype._getpeername, the
 * same since Node 0.x), for TLS sockets and after close too.
 */
interface PeernameCache {
  _peername?: { address: string; family: string; port: number; [kApplied]?: true } | null;
}

/** Whether setting _peername is seen by the getters: learnt on the first socket, else own properties are defined. */
let peernameCache: boolean | undefined;

/** Sets what socket x reports; idempotent. Returns the peer. Throws like Reader.peer. */
export function apply(reader: Reader, x: unknown) {
  const s = socketOf(x);
  const p = reader.peer(s);
  if (p.via === 'toa') report(s, p);
  return p;
}

/**
 * One store into Node's own cache: defining own properties instead (the
 * fallback) costs a runtime call and a new hidden class per socket, a few
 * microseconds per connection.
 */
function report(s: Socket, p: Peer): void {
  const family = p.address.includes(':') ? 'IPv6' : 'IPv4';
  if (peernameCache !== false) {
    const c = s as unknown as PeernameCache;
    if (c._peername?.[kApplied]) return; // set already, by this configuration or another
    c._peername = { address: p.address, family, port: p.port, [kApplied]: true };
    peernameCache ??= s.remoteAddress === p.address && s.remotePort === p.port;
    if (peernameCache) return;
  }
  if ((s as unknown as Record<symbol, unknown>)[kApplied]) return;
  Object.defineProperties(s, {
    remoteAddress: { value: p.address, configurable: true, enumerable: true },
    remotePort: { value: p.port, configurable: true, enumerable: true },
    remoteFamily: { value: family, configurable: true, enumerable: true },
    [kApplied]: { value: true },
  });
}

/** For tests: forget what was learnt about Node's cache, or pretend it is not there. */
export function resetPeernameCheck(assume?: boolean): void {
  peernameCache = assume;
}

/**
 * apply() for the adapters and install(): never fails a connection or request
 * for node-toa's sake. A client gone before its address was read (scanners,
 * health checks) is null, silently; other errors are null with one warning
 * per cause, and are thrown only in strict mode.
 */
export function applySafely(reader: Reader, x: unknown, where: string) {
  try {
    return apply(reader, x);
  } catch (err) {
    if (hasCode(err, 'TOA_ESOCKCLOSED')) return null;
    if (reader.strict) throw err;
    const code = (err as { code?: string }).code ?? 'TOA_ESYSCALL';
    reader.warnOnce(code, `node-toa: ${where}: ${(err as Error).message} (warned once; the socket's own address stays in place)`);
    return null;
  }
}

/** Installs on a server: every accepted socket reports its client from then on. Idempotent. */
export function install(reader: Reader, server: InstallableServer): void {
  if (!server || typeof (server as NetServer).prependListener !== 'function' || typeof (server as NetServer).listen !== 'function') {
    throw new ToaError('TOA_EINVAL', 'node-toa: install(server): server must be a net, http, https or http2 server');
  }
  const marks = server as unknown as Record<symbol, boolean>;
  if (marks[reader.kPeer]) return;
  marks[reader.kPeer] = true;
  const onSocket = (socket: Socket) => {
    try {
      applySafely(reader, socket, 'install()');
    } catch (err) {
      // Strict mode: nobody to throw to, and an unknown peer must not be served. Close
      // it (no 'error' event: a net server may have no handler for one) and say why once.
      reader.warnOnce((err as { code?: string }).code ?? 'TOA_ESYSCALL', `node-toa: install(): ${(err as Error).message}; strict mode closes such connections`);
      socket.destroy();
    }
  };
  // First in line, so the socket is set before the server's own listeners run.
  server.prependListener('connection', onSocket);
  // A TLS server hands its handlers a TLSSocket, which reads its peer separately.
  if (server instanceof TlsServer) server.prependListener('secureConnection', onSocket);
}
