/**
 * TypeScript side of toa-craft (test/tools/toa-craft.c): TOA option bytes in
 * hex, and one crafted HTTP request from a lab namespace.
 *
 *   import { craft, toaHex } from '../tools/craft.js';
 *   const r = await craft(lab, 'client', '198.51.100.100', 80, { ackOpts: toaHex('v4', '198.51.100.10', 40000) });
 *   r.body.remoteAddress  // what the server's socket reported
 */
import { execFileSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { dialectByName, encodeOption, parseAddress } from '../../node-toa/src/wire.js';

const here = dirname(fileURLToPath(import.meta.url));
/** This folder: its Makefile builds the test tools into build/. */
export const TOOLS = here;
/** The built binary; ensureCraft() builds it when missing. */
export const TOA_CRAFT = join(here, 'build/toa-craft');

/** Builds toa-craft (make is quick when it is up to date). */
export function ensureCraft(): string {
  execFileSync('make', ['-s', '--no-print-directory', '-C', here], { stdio: 'inherit' });
  return TOA_CRAFT;
}

/** Address bytes (4 or 16) of an IPv4 or IPv6 text address, by node-toa's wire module. */
export function addrBytes(addr: string): Buffer {
  const a = parseAddress(addr);
  if (!a) throw new TypeError(`not an IP address: ${addr}`);
  return Buffer.from(a.bytes);
}

/**
 * The TOA option of a dialect for addr:port, as hex for --ack-opts /
 * --data-opts: node-toa's encodeOption(), the one TypeScript encoder. The cdn
 * dialects carry no port, so port is dropped for them.
 */
export function toaHex(dialect: string, addr: string, port = 0): string {
  const d = dialectByName(dialect);
  if (!d) throw new TypeError(`unknown dialect ${dialect}`);
  return Buffer.from(encodeOption(d.name, addr, d.port ? port : 0)).toString('hex');
}

export interface CraftOptions {
  synOpts?: string;
  ackOpts?: string;
  dataOpts?: string;
  noAck?: boolean;
  /** Segments of "\r\n" before the request: its data options come in data segment lead + 1. */
  lead?: number;
  src?: string;
  sport?: number;
  path?: string;
  timeoutMs?: number;
}

export interface CraftResult {
  code: number;
  stderr: string;
  /** The response's status line and headers. */
  head: string;
  /** The body, parsed as JSON when it is JSON. */
  body: any;
  sport: number;
}

/** Anything with the lab's exec(role, argv): runs argv in that namespace. */
export interface Runner {
  exec(role: any, argv: string[], opts?: { timeoutMs?: number }): Promise<{ code: number; stdout: string; stderr: string }>;
}

let nextPort = Math.floor(Math.random() * 12768);

/**
 * A source port in toa-craft's range (20000..32767), known before the option
 * is written. Successive calls never repeat one (until the range wraps): a
 * reused 4-tuple would meet the server's TIME_WAIT and stall the handshake.
 */
export function randomPort(): number {
  nextPort = (nextPort + 1) % 12768;
  return 20000 + nextPort;
}

/** One request with toa-craft from a lab namespace to addr:port. */
export async function craft(lab: Runner, role: string, addr: string, port: number, o: CraftOptions = {}): Promise<CraftResult> {
  const sport = o.sport ?? randomPort();
  const argv = [TOA_CRAFT, '--sport', String(sport), '--timeout', String(o.timeoutMs ?? 5000)];
  if (o.src) argv.push('--src', o.src);
  if (o.synOpts !== undefined) argv.push('--syn-opts', o.synOpts);
  if (o.ackOpts !== undefined) argv.push('--ack-opts', o.ackOpts);
  if (o.dataOpts !== undefined) argv.push('--data-opts', o.dataOpts);
  if (o.noAck) argv.push('--no-ack');
  if (o.lead !== undefined) argv.push('--lead', String(o.lead));
  if (o.path) argv.push('--path', o.path);
  argv.push(addr, String(port));
  const r = await lab.exec(role, argv, { timeoutMs: (o.timeoutMs ?? 5000) + 5000 });
  const split = r.stdout.indexOf('\r\n\r\n');
  const head = split >= 0 ? r.stdout.slice(0, split) : r.stdout;
  const text = split >= 0 ? r.stdout.slice(split + 4) : '';
  let body: any = text;
  try {
    body = JSON.parse(text);
  } catch {
    /* not JSON: keep the text */
  }
  return { code: r.code, stderr: r.stderr, head, body, sport };
}
