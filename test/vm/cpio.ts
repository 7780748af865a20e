// A minimal "newc" cpio writer: enough for an initramfs of a few files, with no
// dependency on a cpio binary.

export interface CpioEntry {
  name: string;
  /** file contents; omit for a directory */
  data?: Buffer;
  /** symlink target */
  link?: string;
  mode?: number;
}

function pad4(n: number): number {
  return (4 - (n % 4)) % 4;
}

function header(ino: number, mode: number, size: number, name: string): Buffer {
  const f = (v: number): string => v.toString(16).padStart(8, '0');
  const fields = [ino, mode, 0, 0, 1, 0, size, 0, 0, 0, 0, Buffer.byteLength(name) + 1, 0];
  const head = Buffer.from('070701' + fields.map(f).join(''), 'ascii');
  const nameBuf = Buffer.concat([Buffer.from(name), Buffer.alloc(1)]);
  return Buffer.concat([head, nameBuf, Buffer.alloc(pad4(head.length + nameBuf.length))]);
}

/** The archive for entries (parents must come before children). */
export function cpio(entries: CpioEntry[]): Buffer {
  const parts: Buffer[] = [];
  let ino = 1;
  for (const e of entries) {
    let mode: number;
    let data: Buffer;
    if (e.link !== undefined) {
      mode = 0o120777;
      data = Buffer.from(e.link);
    } else if (e.data) {
      mode = 0o100000 | (e.mode ?? 0o644);
      data = e.data;
    } else {
      mode = 0o040000 | (e.mode ?? 0o755);
      data = Buffer.alloc(0);
    }
    parts.push(header(ino++, mode, data.length, e.name), data, Buffer.alloc(pad4(data.length)));
  }
  parts.push(header(0, 0, 0, 'TRAILER!!!'));
  return Buffer.concat(parts);
}
