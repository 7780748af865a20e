/**
 * Helpers shared by the in-guest scenario runners: loading toa.ko, reading
 * its counters, and hand-made TOA connections through toa-send.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import type { Lab } from '../../lab/index.js';

export const KO = process.env.TOA_KO ?? '';
export const SEND = process.env.TOA_SEND ?? '';

export function sh(argv: string[]): { code: number; out: string } {
  const r = spawnSync(argv[0], argv.slice(1), { encoding: 'utf8' });
  return { code: r.status ?? 1, out: `${r.stdout ?? ''}${r.stderr ?? ''}` };
}

export function loaded(): boolean {
  return readFileSync('/proc/modules', 'utf8').split('\n').some((l) => l.startsWith('toa '));
}

/** busybox's insmod: the host userland has no kmod. */
export function insmod(...params: string[]): { code: number; out: string } {
  return insmodKo(KO, ...params);
}

/** The same with another build of the module (a bench's earlier revision). */
export function insmodKo(ko: string, ...params: string[]): { code: number; out: string } {
  return sh(['busybox', 'insmod', ko, ...params]);
}

export function rmmod(): void {
  const r = sh(['busybox', 'rmmod', 'toa']);
  assert.equal(r.code, 0, `rmmod toa: ${r.out}`);
}

export function dmesgTail(lines = 20): string {
  return sh(['dmesg']).out.trim().split('\n').slice(-lines).join('\n');
}

/** /proc/net/toa_stats as seen from the real server's namespace: the numeric lines. */
export async function stats(lab: Lab): Promise<Record<string, number>> {
  const out = await lab.execOk('realserver', ['cat', '/proc/net/toa_stats']);
  const s: Record<string, number> = {};
  for (const line of out.trim().split('\n')) {
    const [k, v] = line.split(' ');
    if (/^\d+$/.test(v ?? '')) s[k] = Number(v);
  }
  return s;
}

/** Counters that changed from a to b. */
export function delta(a: Record<string, number>, b: Record<string, number>): Record<string, number> {
  const d: Record<string, number> = {};
  for (const k of Object.keys(b)) if (b[k] !== a[k]) d[k] = b[k] - (a[k] ?? 0);
  return d;
}

/** 2001:db8:100::10 -> 2001:0db8:0100:0000:0000:0000:0000:0010 */
export function v6Full(a: string): string {
  const [h, t] = a.split('::');
  const hs = h ? h.split(':') : [];
  const ts = t ? t.split(':') : [];
  return [...hs, ...Array(8 - hs.length - ts.length).fill('0'), ...ts].map((x) => x.padStart(4, '0')).join(':');
}

/** Hex of a TOA option: kind, length, port, address (v4 dotted or v6). */
export function toaHex(kind: number, port: number, addr: string): string {
  const a = addr.includes(':') ? v6Full(addr).replace(/:/g, '') : Buffer.from(addr.split('.').map(Number)).toString('hex');
  return Buffer.from([kind, 4 + a.length / 2, port >> 8, port & 255]).toString('hex') + a;
}

/** The kernel's RSTs for toa-send's connections (it knows no such socket) are dropped; toa-send's own carry mark 0x544f. */
export async function dropKernelRsts(lab: Lab, role: 'client' | 'stranger'): Promise<void> {
  await lab.execOk(role, ['nft', '-f', '-'], {
    input: 'table inet toa_send {\n chain out {\n  type filter hook output priority 0;\n  meta mark != 0x544f tcp flags & rst == rst drop\n }\n}\n',
  });
}

/** One hand-made connection: the answer's JSON (an HTTP body, or a server's one line). */
export async function send(lab: Lab, role: 'client' | 'stranger', src: string, dst: string, port: number, opt: string, where = 'ack', extra: string[] = []): Promise<any> {
  const args = [SEND, '-s', src, '-d', dst, '-p', String(port), '-w', where, ...(opt ? ['-o', opt] : []), ...extra];
  const r = await lab.exec(role, args, { timeoutMs: 60_000 });
  assert.equal(r.code, 0, `toa-send ${args.slice(1).join(' ')}: ${r.stderr}`);
  const head = r.stdout.indexOf('\r\n\r\n');
  return JSON.parse(head < 0 ? r.stdout : r.stdout.slice(head + 4));
}

/** struct toa_record (include/toa/toa_record.h), from hex. */
export function decodeRecord(hex: string): Record<string, number | string> {
  const b = Buffer.from(hex, 'hex');
  const addr = (fam: number, at: number): string =>
    fam === 4 ? [...b.subarray(at, at + 4)].join('.') : (b.subarray(at, at + 16).toString('hex').match(/..../g) ?? []).join(':');
  return {
    length: b.length,
    version: b[0],
    family: b[1],
    dialect: b[2],
    peerFamily: b[3],
    port: b.readUInt16BE(4),
    peerPort: b.readUInt16BE(6),
    addr: addr(b[1], 8),
    peerAddr: addr(b[3], 24),
    flags: b.readUInt32LE(40),
  };
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}
