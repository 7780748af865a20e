// The address text of a record must equal what Node prints for the same
// address, or a TOA client and the same client seen directly would differ.
import { SocketAddress } from 'node:net';
import { describe, expect, test } from 'vitest';
import { formatIPv4, formatIPv6 } from '../../src/wire.js';

function bytes(hex: string): Uint8Array {
  return Uint8Array.from(Buffer.from(hex.replace(/\s/g, ''), 'hex'));
}

/** libuv's text for 16 bytes, through Node's own SocketAddress. */
function nodeText(b: Uint8Array): string {
  const full = [...Array(8).keys()].map((i) => ((b[2 * i] << 8) | b[2 * i + 1]).toString(16)).join(':');
  return new SocketAddress({ address: full, family: 'ipv6' }).address;
}

describe('address text', () => {
  test.each([
    ['20010db8010000000000000000000010', '2001:db8:100::10'],
    ['00000000000000000000000000000001', '::1'],
    ['00000000000000000000000000000000', '::'],
    ['00000000000000000000ffffc633640a', '::ffff:198.51.100.10'],
    ['20010db8000000010000000000000001', '2001:db8:0:1::1'],
    ['20010db8000000000001000000000001', '2001:db8::1:0:0:1'],
    ['fe800000000000000000000000000000', 'fe80::'],
    ['0064ff9b0000000000000000c000020a', '64:ff9b::c000:20a'],
  ])('%s -> %s', (hex, text) => {
    expect(formatIPv6(bytes(hex), 0)).toBe(text);
    expect(nodeText(bytes(hex))).toBe(text);
  });

  test('agrees with Node on 5000 random addresses rich in zero groups', () => {
    const b = new Uint8Array(16);
    let seed = 12345;
    const rnd = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff);
    for (let n = 0; n < 5000; n++) {
      for (let i = 0; i < 8; i++) {
        const zero = rnd() % 3 !== 0;
        b[2 * i] = zero ? 0 : rnd() & 0xff;
        b[2 * i + 1] = zero ? 0 : rnd() & 0xff;
      }
      if (n % 7 === 0) b.set([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff], 0);
      expect(formatIPv6(b, 0), Buffer.from(b).toString('hex')).toBe(nodeText(b));
    }
  });

  test('IPv4, and the IPv4-compatible form in dotted text as inet_ntop writes it', () => {
    expect(formatIPv4(bytes('c633640a'), 0)).toBe('198.51.100.10');
    const compat = bytes('00000000000000000000000001020304');
    expect(formatIPv6(compat, 0)).toBe('::1.2.3.4');
    expect(nodeText(compat)).toBe('::1.2.3.4');
  });
});
