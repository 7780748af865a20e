// Every example starts and answers with the peer address. Here nothing is
// attached, so that is the loopback client, via 'socket'; the lab tests run
// the same examples behind the real director with TOA.
import { once } from 'node:events';
import net from 'node:net';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { startExample } from '../helpers/example.js';
import { getMany } from '../helpers/servers.js';

const tlsEnv = {
  TLS_KEY: join(__dirname, '../fixtures/tls/key.pem'),
  TLS_CERT: join(__dirname, '../fixtures/tls/cert.pem'),
};

describe('examples/', () => {
  test.each(['express', 'fastify', 'koa', 'https'] as const)('%s.ts answers with the client address', async (name) => {
    const ex = await startExample(name, { ...tlsEnv, TOA_PIN_DIR: `/sys/fs/bpf/toanode-none-${process.pid}` });
    try {
      const got = await getMany(name === 'https' ? 'https' : 'http', '127.0.0.1', ex.port, 2);
      for (const g of got) expect(g).toMatchObject({ ip: '127.0.0.1', peer: { address: '127.0.0.1', family: 4, via: 'socket' } });
    } finally {
      await ex.stop();
    }
  }, 60_000);

  test('net.ts writes the client address', async () => {
    const ex = await startExample('net');
    try {
      const c = net.connect(ex.port, '127.0.0.1');
      let line = '';
      c.setEncoding('utf8').on('data', (d) => (line += d));
      await once(c, 'end');
      expect(JSON.parse(line)).toEqual({ ip: '127.0.0.1', port: c.localPort, via: 'socket' });
    } finally {
      await ex.stop();
    }
  }, 60_000);
});
