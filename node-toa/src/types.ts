/** Public types. */

/** Wire dialects, named as in DESIGN.md. */
export type Dialect = 'v4' | 'v6' | 'v6-ali' | 'v4-253' | 'v4-200' | 'cdn' | 'cdn6';

/** An address and port. */
export interface Endpoint {
  address: string;
  port: number;
}

/**
 * Who is on the other end of a connection.
 *
 * `address` is written the way the socket itself writes addresses: an IPv4
 * client on a dual-stack (IPv6) socket is `'::ffff:a.b.c.d'`, like
 * `socket.remoteAddress`. `family` is the client's IP version (4 for that
 * client too).
 */
export interface Peer {
  /** The client's address. */
  address: string;
  /** The client's port (0 for the cdn dialects, which carry none). */
  port: number;
  /** The client's IP version. */
  family: 4 | 6;
  /** 'toa': from a TOA record; 'socket': the socket's own peer address. */
  via: 'toa' | 'socket';
  /** With via 'toa': the load balancer's side of the connection (its LIP and port). */
  proxy?: Endpoint;
  /** With via 'toa': the dialect the option came in. */
  dialect?: Dialect;
  /** With via 'toa': an IPv6 client on an IPv4 socket (getpeername() cannot show it). */
  nat64?: boolean;
}

/** Names of the ways toa can read records. */
export type BackendName = 'native' | 'ffi' | 'socket';

/** Which backend is in use and why. */
export interface BackendInfo {
  name: BackendName;
  reason: string;
}

/** The kernel's view of a socket's peer (getpeername(2)). */
export interface SocketAddress extends Endpoint {
  family: 4 | 6;
}
