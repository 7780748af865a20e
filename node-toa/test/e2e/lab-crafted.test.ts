// The real-server eBPF path fed by test/tools' toa-craft from the director's
// LIP (no writer needed): IPv4 TOA on an IPv4 listener, and NAT64, an IPv6
// client in a TOA on an IPv4 connection, which getpeername() cannot show but
// peer(), the Express middleware and the Fastify plugin must.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { ADDR, createLab, labUnavailable, REPO_ROOT, TOA_BPF, type Lab } from '../../../test/lab/index.js';

// One process per app (node --import tsx), so stopping it stops the server.
const TSX_IMPORT = ['--import', 'tsx'];
const CRAFT = join(REPO_ROOT, 'test/tools/build/toa-craft');
const why =
  labUnavailable() ??
  (!existsSync(TOA_BPF) ? 'bpf/build/toa-bpf is not built' : !existsSync(CRAFT) ? 'test/tools/build/toa-craft is not built' : null);

const apps = [
  { app: 'express', port: 8090, backend: 'native' },
  { app: 'express', port: 8091, backend: 'ffi' },
  { app: 'fastify', port: 8092, backend: 'native' },
] as const;

/** TOA option bytes: v4 is kind 254 len 8, v6 kind 254 len 20; port then address. */
function toaHex(port: number, addr: string): string {
  const p = port.toString(16).padStart(4, '0');
  if (addr.includes(':')) {
    const groups = addr.split('::');
    const head = groups[0] ? groups[0].split(':') : [];
    const tail = groups[1] ? groups[1].split(':') : [];
    const all = [...head, ...Array(8 - head.length - tail.length).fill('0'), ...tail];
    return `fe14${p}${all.map((g) => g.padStart(4, '0')).join('')}`;
  }
  return `fe08${p}${addr.split('.').map((o) => Number(o).toString(16).padStart(2, '0')).join('')}`;
}

describe.skipIf(why)(`crafted TOA from the LIP${why ? ` (skipped: ${why})` : ''}`, () => {
  let lab: Lab;

  beforeAll(async () => {
    lab = await createLab();
    await lab.attachRealserver();
    for (const a of apps) {
      const p = lab.spawn('realserver', [process.execPath, ...TSX_IMPORT, join(REPO_ROOT, 'examples', `${a.app}.ts`)], {
        cgroup: true,
        env: { PORT: String(a.port), HOST: '0.0.0.0', TOA_BACKEND: a.backend },
      });
      await p.waitFor(/listening /, 60_000);
    }
  });

  afterAll(async () => {
    await lab?.destroy();
  });

  async function craft(port: number, opts: string): Promise<any> {
    // stdin closed from the start: toa-craft never reads it.
    const child = spawn('nsenter', [`--net=/run/netns/${lab.ns.director}`, '--', CRAFT, '--ack-opts', opts, '--data-opts', opts, ADDR.rs4, String(port)], {
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: 20_000,
    });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (d) => (out += d));
    child.stderr.setEncoding('utf8').on('data', (d) => (err += d));
    const [code] = await once(child, 'close');
    expect(code, err).toBe(0);
    return JSON.parse(out.slice(out.indexOf('\r\n\r\n') + 4));
  }

  for (const a of apps) {
    test(`${a.app} (${a.backend}): IPv4 TOA on an IPv4 listener`, async () => {
      const got = await craft(a.port, toaHex(40001, ADDR.client4));
      expect(got.ip).toBe(ADDR.client4);
      expect(got.peer).toMatchObject({ address: ADDR.client4, port: 40001, family: 4, via: 'toa', dialect: 'v4', proxy: { address: ADDR.lip4 } });
    });

    test(`${a.app} (${a.backend}): NAT64, an IPv6 client on an IPv4 listener`, async () => {
      const got = await craft(a.port, toaHex(51234, ADDR.client6));
      expect(got.ip).toBe(ADDR.client6);
      expect(got.peer).toMatchObject({ address: ADDR.client6, port: 51234, family: 6, via: 'toa', dialect: 'v6', nat64: true, proxy: { address: ADDR.lip4 } });
    });
  }

  test('no TOA: the LIP, via socket', async () => {
    const got = await craft(apps[0].port, '');
    expect(got.ip).toBe(ADDR.lip4);
    expect(got.peer).toMatchObject({ address: ADDR.lip4, via: 'socket' });
  });
});
