/** Deterministic bytes both ends can produce and check without a copy: byte i is (i * 7) % 251. */
export function pattern(start: number, len: number): Buffer {
  const b = Buffer.allocUnsafe(len);
  for (let i = 0; i < len; i++) b[i] = ((start + i) * 7) % 251;
  return b;
}

/** Offset of the first byte of buf that differs from the pattern at start, or -1. */
export function patternMismatch(buf: Buffer, start: number): number {
  for (let i = 0; i < buf.length; i++) if (buf[i] !== ((start + i) * 7) % 251) return i;
  return -1;
}
