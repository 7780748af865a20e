/**
 * Address text exactly as Node (libuv's inet_ntop) writes it, so a TOA
 * address compares equal to socket.remoteAddress for the same client.
 */

/** Dotted quad of 4 bytes at off. */
export function formatV4(b: Uint8Array, off: number): string {
  return `${b[off]}.${b[off + 1]}.${b[off + 2]}.${b[off + 3]}`;
}

/**
 * RFC 5952 text of 16 bytes at off: lower-case hex, the longest run (>= 2) of
 * zero groups as '::', and the embedded-IPv4 forms (::ffff:a.b.c.d, ::a.b.c.d)
 * that inet_ntop uses.
 */
export function formatV6(b: Uint8Array, off: number): string {
  let bestBase = -1;
  let bestLen = 0;
  let curBase = -1;
  for (let i = 0; i < 8; i++) {
    const zero = b[off + 2 * i] === 0 && b[off + 2 * i + 1] === 0;
    if (zero) {
      if (curBase < 0) curBase = i;
      if (i - curBase + 1 > bestLen) {
        bestLen = i - curBase + 1;
        bestBase = curBase;
      }
    } else curBase = -1;
  }
  if (bestLen < 2) bestBase = -1;
  let s = '';
  for (let i = 0; i < 8; i++) {
    if (bestBase >= 0 && i >= bestBase && i < bestBase + bestLen) {
      if (i === bestBase) s += ':';
      continue;
    }
    if (i !== 0) s += ':';
    // Embedded IPv4: ::a.b.c.d (not ::1 style) and ::ffff:a.b.c.d.
    if (i === 6 && bestBase === 0 && (bestLen === 6 || (bestLen === 5 && word(b, off, 5) === 0xffff) || (bestLen === 7 && word(b, off, 7) !== 1))) {
      s += formatV4(b, off + 12);
      return s;
    }
    s += word(b, off, i).toString(16);
  }
  if (bestBase >= 0 && bestBase + bestLen === 8) s += ':';
  return s;
}

function word(b: Uint8Array, off: number, i: number): number {
  return (b[off + 2 * i] << 8) | b[off + 2 * i + 1];
}

/** `::ffff:` + the dotted quad: how an IPv6 socket shows an IPv4 peer. */
export function mappedV4(b: Uint8Array, off: number): string {
  return `::ffff:${formatV4(b, off)}`;
}
