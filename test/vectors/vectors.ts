// Typed access to toa-options.json for the tests that check a parser against it.
import { readFileSync } from 'node:fs';
import type { DialectName, ToaRecord } from '../../node-toa/src/wire.js';

export type { DialectName };

export interface VectorDialect {
  name: DialectName;
  id: number;
  kind: number;
  length: number;
  family: 4 | 6;
  port: boolean;
  default: boolean;
}

export type VectorExpect =
  | { status: 'ok'; dialect: DialectName; family: 4 | 6; address: string; port: number }
  | { status: 'absent' | 'length' | 'truncated' | 'short' | 'after_eol' | 'multiple' | 'version' | 'port' | 'address' };

export interface ParseVector {
  name: string;
  hex: string;
  accept?: DialectName[];
  expect: VectorExpect;
}

export interface EncodeVector {
  dialect: DialectName;
  address: string;
  port: number;
  hex: string;
}

export interface RecordVector {
  name: string;
  hex: string;
  /** The record decoded (the shape node-toa's decodeRecord returns). */
  record: ToaRecord;
}

export interface Vectors {
  dialects: VectorDialect[];
  statuses: string[];
  parse: ParseVector[];
  encode: EncodeVector[];
  record: RecordVector[];
}

/** Path of the vector file, for tools that read it themselves. */
export const VECTORS_PATH = new URL('./toa-options.json', import.meta.url);

/** The vector file, parsed. */
export function loadVectors(): Vectors {
  return JSON.parse(readFileSync(VECTORS_PATH, 'utf8')) as Vectors;
}

/** Bytes of a vector hex string (whitespace ignored). */
export function hexBytes(hex: string): Uint8Array {
  const h = hex.replace(/\s+/g, '');
  if (!/^([0-9a-f]{2})*$/i.test(h)) throw new Error(`not hex: ${hex}`);
  return Uint8Array.from(h.match(/../g) ?? [], (b) => parseInt(b, 16));
}

/** The dialects a parse vector accepts: its own list, or the default ones. */
export function acceptOf(v: Vectors, c: ParseVector): DialectName[] {
  return c.accept ?? v.dialects.filter((d) => d.default).map((d) => d.name);
}

/** TOA_BIT() mask of a list of dialect names. */
export function maskOf(v: Vectors, names: readonly DialectName[]): number {
  let m = 0;
  for (const n of names) {
    const d = v.dialects.find((x) => x.name === n);
    if (!d) throw new Error(`unknown dialect ${n}`);
    m |= 1 << d.id;
  }
  return m;
}
