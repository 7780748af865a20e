/** Servers of every kind Node has, and clients that make several requests on one connection. */
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import http2 from 'node:http2';
import https from 'node:https';
import type { AddressInfo, Server } from 'node:net';
import { join } from 'node:path';

export const tls = {
  key: readFileSync(join(__dirname, '../fixtures/tls/key.pem')),
  cert: readFileSync(join(__dirname, '../fixtures/tls/cert.pem')),
};

export async function listen(server: Server, host: string): Promise<number> {
  server.listen(0, host);
  await once(server, 'listening');
  return (server.address() as AddressInfo).port;
}

export async function closeServer(server: Server): Promise<void> {
  (server as http.Server).closeAllConnections?.();
  server.close();
  await once(server, 'close').catch(() => {});
}

/** n GET requests over one keep-alive connection; returns the bodies parsed as JSON. */
export async function getMany(
  proto: 'http' | 'https',
  host: string,
  port: number,
  n: number,
  headers: Record<string, string> = {},
): Promise<any[]> {
  const mod = proto === 'https' ? https : http;
  const agent = new mod.Agent({ keepAlive: true, maxSockets: 1, ...(proto === 'https' ? { rejectUnauthorized: false } : {}) });
  const out: any[] = [];
  const sockets = new Set<unknown>();
  try {
    for (let i = 0; i < n; i++) {
      const body = await new Promise<string>((resolve, reject) => {
        const req = mod.request({ host, port, path: `/?n=${i}`, agent, headers }, (res) => {
          sockets.add(res.socket);
          let b = '';
          res.setEncoding('utf8').on('data', (d) => (b += d)).on('end', () => resolve(b));
        });
        req.on('error', reject);
        req.end();
      });
      out.push(JSON.parse(body));
    }
  } finally {
    agent.destroy();
  }
  if (sockets.size !== 1) throw new Error(`expected one connection, used ${sockets.size}`);
  return out;
}

/** n HTTP/2 requests on one session. */
export async function getManyH2(secure: boolean, host: string, port: number, n: number): Promise<any[]> {
  const authority = `${secure ? 'https' : 'http'}://${host.includes(':') ? `[${host}]` : host}:${port}`;
  const session = http2.connect(authority, secure ? { rejectUnauthorized: false } : {});
  const out: any[] = [];
  try {
    for (let i = 0; i < n; i++) {
      const body = await new Promise<string>((resolve, reject) => {
        const req = session.request({ ':path': `/?n=${i}` });
        let b = '';
        req.setEncoding('utf8').on('data', (d) => (b += d)).on('end', () => resolve(b)).on('error', reject);
        req.end();
      });
      out.push(JSON.parse(body));
    }
  } finally {
    session.close();
  }
  return out;
}
