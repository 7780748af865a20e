/**
 * Makes a socket report its TOA client: remoteAddress, remotePort and
 * remoteFamily become own properties of the socket, set before anything
 * reads them (Node caches the first getpeername()). Then req.ip, loggers and
 * framework code all see the client, NAT64 clients included.
 */
import type { Server as NetServer, Socket } from 'node:net';
import { Server as TlsServer } from 'node:tls';
import { hasCode } from './errors.js';
import type { Reader } from './reader.js';
import { socketOf } from './socket.js';

/** Servers install() accepts: net, http, https, http2 (plain and secure) all are net.Server underneath. */
export type InstallableServer = NetServer;

const kApplied = Symbol('toa.applied');

/** Sets what socket x reports; idempotent. Returns the peer. Throws like Reader.peer. */
export function apply(reader: Reader, x: unknown) {
  const s = socketOf(x);
  const p = reader.peer(s);
  if (p.via === 'toa' && !(s as unknown as Record<symbol, unknown>)[kApplied]) {
    Object.defineProperties(s, {
      remoteAddress: { value: p.address, configurable: true, enumerable: true },
      remotePort: { value: p.port, configurable: true, enumerable: true },
      remoteFamily: { value: p.address.includes(':') ? 'IPv6' : 'IPv4', configurable: true, enumerable: true },
      [kApplied]: { value: true },
    });
  }
  return p;
}

/** Installs on a server: every accepted socket reports its client from then on. Idempotent. */
export function install(reader: Reader, server: InstallableServer): void {
  if (!server || typeof (server as NetServer).prependListener !== 'function' || typeof (server as NetServer).listen !== 'function') {
    throw Object.assign(new TypeError('node-toa: install(server): server must be a net, http, https or http2 server'), { code: 'TOA_EINVAL' });
  }
  const marks = server as unknown as Record<symbol, boolean>;
  if (marks[reader.kPeer]) return;
  marks[reader.kPeer] = true;
  const onSocket = (socket: Socket) => {
    try {
      apply(reader, socket);
    } catch (err) {
      // A client that left before we looked has nothing to report.
      if (hasCode(err, 'TOA_ESOCKCLOSED')) return;
      process.emitWarning(`node-toa: install: ${(err as Error).message}`, { code: (err as { code?: string }).code });
    }
  };
  // First in line, so the socket is set before the server's own listeners run.
  server.prependListener('connection', onSocket);
  // A TLS server hands its handlers a TLSSocket, which reads its peer separately.
  if (server instanceof TlsServer) server.prependListener('secureConnection', onSocket);
}
