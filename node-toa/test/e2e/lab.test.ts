// The examples as the real server's apps in the lab: client -> director
// (nftables FullNAT + the TOA writer) -> real server with the eBPF path
// attached. What the apps answer must be the client's own address and port,
// IPv4 and IPv6, HTTP and HTTPS, on every request of keep-alive connections,
// for each backend; a connection that skips the director reports the LIP.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { ADDR, createLab, labUnavailable, REPO_ROOT, TOA_BPF, type Lab } from '../../../test/lab/index.js';

// One process per app (node --import tsx), so stopping it stops the server.
const TSX_IMPORT = ['--import', 'tsx'];
const TLS = { TLS_KEY: join(__dirname, '../fixtures/tls/key.pem'), TLS_CERT: join(__dirname, '../fixtures/tls/cert.pem') };

function realserverMissing(): string | null {
  if (!existsSync(TOA_BPF)) return 'bpf/build/toa-bpf is not built';
  const r = spawnSync(TOA_BPF, ['realserver', '--help'], { encoding: 'utf8' });
  if (/not (built|available)|no such role|missing/i.test(`${r.stdout}${r.stderr}`) || r.status === 127) return 'toa-bpf has no realserver role yet';
  return null;
}

const why = labUnavailable() ?? realserverMissing();

// App, port on the VIP (the writer serves it), backend.
const apps = [
  { app: 'express', port: 80, backend: 'native', proto: 'http' },
  { app: 'express', port: 8080, backend: 'ffi', proto: 'http' },
  { app: 'fastify', port: 8081, backend: 'native', proto: 'http' },
  { app: 'koa', port: 8082, backend: 'native', proto: 'http' },
  { app: 'https', port: 443, backend: 'native', proto: 'https' },
] as const;

describe.skipIf(why)(`examples behind the director${why ? ` (skipped: ${why})` : ''}`, () => {
  let lab: Lab;

  beforeAll(async () => {
    lab = await createLab();
    await lab.attachWriter({ ports: apps.map((a) => a.port) });
    await lab.attachRealserver();
    for (const a of apps) {
      const p = lab.spawn('realserver', [process.execPath, ...TSX_IMPORT, join(REPO_ROOT, 'examples', `${a.app}.ts`)], {
        cgroup: true,
        env: { PORT: String(a.port), HOST: '::', TOA_BACKEND: a.backend, ...TLS },
      });
      await p.waitFor(/listening /, 60_000);
    }
  });

  afterAll(async () => {
    await lab?.destroy();
  });

  async function get(proto: string, host: string, port: number, count: number, perConnection: number) {
    const url = `${proto}://${host.includes(':') ? `[${host}]` : host}:${port}/`;
    if (proto === 'https') {
      const out = await lab.execOk('client', [process.execPath, ...TSX_IMPORT, join(__dirname, '../fixtures/https-client.mts'), url, String(count)]);
      return JSON.parse(out) as { localAddress: string; localPort: number; body: any }[];
    }
    return lab.httpClient(['--url', url, '--count', String(count), '--per-connection', String(perConnection)]);
  }

  for (const a of apps) {
    for (const fam of [4, 6] as const) {
      test(`${a.app} (${a.backend}), IPv${fam}, keep-alive: req.ip is the client on every request`, async () => {
        const vip = fam === 4 ? ADDR.vip4 : ADDR.vip6;
        const results = await get(a.proto, vip, a.port, 12, 6);
        expect(results.length).toBe(12);
        const ports = new Set<number>();
        for (const r of results) {
          expect(r).not.toHaveProperty('error');
          // A dual-stack listener shows an IPv4 client as ::ffff:a.b.c.d, as Node does.
          const client = fam === 4 ? `::ffff:${ADDR.client4}` : ADDR.client6;
          expect(r.body.ip).toBe(client);
          expect(r.body.peer).toMatchObject({ address: client, port: r.localPort, family: fam, via: 'toa' });
          expect(r.body.peer.proxy.address).toBe(fam === 4 ? `::ffff:${ADDR.lip4}` : ADDR.lip6);
          ports.add(r.localPort!);
        }
        // Keep-alive: several requests per connection.
        expect(ports.size).toBeLessThan(results.length);
      });
    }
  }

  test('a connection that does not pass the director (no TOA) reports the LIP, via socket', async () => {
    const out = await lab.execOk('director', [
      process.execPath, ...TSX_IMPORT, join(REPO_ROOT, 'test/lab/clients/http-client.ts'), '--url', `http://${ADDR.rs4}:80/`, '--count', '2',
    ]);
    for (const r of JSON.parse(out)) {
      expect(r.body.ip).toBe(`::ffff:${ADDR.lip4}`);
      expect(r.body.peer).toMatchObject({ address: `::ffff:${ADDR.lip4}`, port: r.localPort, via: 'socket' });
    }
  });
});
