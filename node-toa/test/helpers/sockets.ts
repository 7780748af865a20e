/** Real loopback connections for tests: server-side socket plus the client's view. */
import { once } from 'node:events';
import net from 'node:net';

export interface Pair {
  /** The accepted socket, on the server. */
  server: net.Socket;
  /** The connecting socket. */
  client: net.Socket;
  close(): Promise<void>;
}

/** Connects to a fresh server listening on listenHost, from connectHost. */
export async function pair(listenHost: string, connectHost: string, onConnection?: (s: net.Socket) => void): Promise<Pair> {
  const srv = net.createServer();
  if (onConnection) srv.prependListener('connection', onConnection);
  srv.listen(0, listenHost);
  await once(srv, 'listening');
  const accepted = once(srv, 'connection');
  const client = net.connect((srv.address() as net.AddressInfo).port, connectHost);
  await once(client, 'connect');
  const [server] = (await accepted) as [net.Socket];
  return {
    server,
    client,
    async close() {
      client.destroy();
      server.destroy();
      srv.close();
      await once(srv, 'close');
    },
  };
}

/** The accepted socket's kernel fd. */
export function fdOf(s: net.Socket): number {
  return (s as unknown as { _handle: { fd: number } })._handle.fd;
}
