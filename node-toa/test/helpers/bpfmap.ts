/**
 * A real records map for tests: compiles fixtures/records-map.bpf.c, pins its
 * map in a unique bpffs directory, and writes records into it from user space
 * (BPF_MAP_UPDATE_ELEM with a socket fd as key, as the kernel allows for
 * socket storage). Needs root, clang and bpftool; why() says what is missing.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

const here = dirname(__filename);
const repo = join(here, '../../..');
let ffi: typeof import('ffi-rs') | undefined;

/** Why real maps cannot be made here, or null. */
export function bpfUnavailable(): string | null {
  if (process.getuid?.() !== 0) return 'needs root (bpf syscall, bpffs)';
  if (!bpffsMounted()) return 'bpffs is not mounted at /sys/fs/bpf (npm test mounts it)';
  for (const tool of ['clang', 'bpftool']) {
    if (spawnSync(tool, ['--version'], { stdio: 'ignore' }).status !== 0) return `${tool} is not installed`;
  }
  return null;
}

function bpffsMounted(): boolean {
  return readFileSync('/proc/self/mounts', 'utf8')
    .split('\n')
    .some((l) => l.split(' ')[1] === '/sys/fs/bpf' && l.split(' ')[2] === 'bpf');
}

let objPath: string | undefined;

function compile(): string {
  if (objPath && existsSync(objPath)) return objPath;
  const dir = mkdtempSync(join(tmpdir(), 'toa-node-map-'));
  objPath = join(dir, 'records-map.bpf.o');
  execFileSync('clang', [
    '-O2', '-g', '-target', 'bpf',
    `-I${join(repo, 'include')}`,
    `-I/usr/include/${process.arch === 'arm64' ? 'aarch64' : 'x86_64'}-linux-gnu`,
    '-c', join(here, '../fixtures/records-map.bpf.c'), '-o', objPath,
  ]);
  process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  return objPath;
}

/** A pinned records map in /sys/fs/bpf/<unique>/records. */
export class TestMap {
  readonly pinDir: string;
  readonly path: string;

  constructor(tag: string) {
    this.pinDir = `/sys/fs/bpf/toanode${process.pid}${tag}${Math.random().toString(36).slice(2, 8)}`;
    this.path = join(this.pinDir, 'records');
    mkdirSync(this.pinDir);
    this.load();
  }

  /** (Re)creates the map: a new map object under the same pin name. */
  load(): void {
    for (const pin of ['records', 'fill_record']) rmSync(join(this.pinDir, pin), { force: true });
    rmSync(join(this.pinDir, 'progs'), { recursive: true, force: true });
    execFileSync('bpftool', ['prog', 'loadall', compile(), join(this.pinDir, 'progs'), 'pinmaps', this.pinDir]);
  }

  /** Stores record (44 bytes) for the socket with this fd (of this process). */
  put(fd: number, record: Uint8Array): void {
    update(this.path, fd, record);
  }

  /**
   * From now on the kernel stores record for every connection this process
   * accepts on a listener made after the call, as the real server's programs
   * do: the process moves into a cgroup of its own (at the hierarchy's top,
   * so outside its own cgroup's limits meanwhile), with the fixture's sockops
   * program attached. For benchmarks, which run nothing else in the process.
   * Returns the undo: back to its own cgroup, the program detached, the
   * cgroup removed. Cgroups left by a process that died before its undo are
   * removed on the next call.
   */
  fillOnAccept(record: Uint8Array): () => void {
    const mount = readFileSync('/proc/self/mounts', 'utf8').split('\n').map((l) => l.split(' ')).find((f) => f[2] === 'cgroup2')?.[1];
    if (!mount) throw new Error('no cgroup v2 hierarchy is mounted');
    const own = /^0::(.*)$/m.exec(readFileSync('/proc/self/cgroup', 'utf8'))?.[1];
    if (own === undefined) throw new Error('this process is in no cgroup v2 cgroup');
    removeStaleFillCgroups(mount);
    const cg = join(mount, `toanode-fill-${process.pid}-${Math.random().toString(36).slice(2, 8)}`);
    const hex = (b: Uint8Array) => [...b].map((x) => x.toString(16).padStart(2, '0'));
    execFileSync('bpftool', ['map', 'update', 'pinned', join(this.pinDir, 'fill_record'), 'key', 'hex', '00', '00', '00', '00', 'value', 'hex', ...hex(record)]);
    const prog = join(this.pinDir, 'progs', 'fill');
    mkdirSync(cg);
    let attached = false;
    const undo = () => {
      const steps = [
        () => {
          // Its own cgroup may be gone meanwhile (a unit's, emptied by the move): then the top.
          const back = existsSync(join(mount, own, 'cgroup.procs')) ? join(mount, own) : mount;
          if (readFileSync(join(cg, 'cgroup.procs'), 'utf8').split('\n').includes(String(process.pid))) writeFileSync(join(back, 'cgroup.procs'), String(process.pid));
        },
        () => attached && execFileSync('bpftool', ['cgroup', 'detach', cg, 'sock_ops', 'pinned', prog]),
        () => rmdirSync(cg),
      ];
      let first: unknown;
      for (const step of steps) {
        try {
          step();
        } catch (e) {
          first ??= e;
        }
      }
      if (first) throw first;
    };
    try {
      execFileSync('bpftool', ['cgroup', 'attach', cg, 'sock_ops', 'pinned', prog]);
      attached = true;
      writeFileSync(join(cg, 'cgroup.procs'), String(process.pid));
    } catch (e) {
      undo();
      throw e;
    }
    return undo;
  }

  /** Removes the pin (the map dies with its last fd). */
  unpin(): void {
    rmSync(this.pinDir, { recursive: true, force: true });
    mkdirSync(this.pinDir);
  }

  destroy(): void {
    rmSync(this.pinDir, { recursive: true, force: true });
  }
}

/** A plain hash map pinned as `records`: the wrong kind of map. */
export function pinWrongMap(pinDir: string): void {
  execFileSync('bpftool', ['map', 'create', join(pinDir, 'records'), 'type', 'hash', 'key', '4', 'value', '44', 'entries', '4', 'name', 'notrecords']);
}

/** fillOnAccept's cgroups whose process is gone (killed before its undo): empty, so removable with what is attached. */
function removeStaleFillCgroups(mount: string): void {
  for (const name of readdirSync(mount)) {
    const pid = Number(/^toanode-fill-(\d+)-/.exec(name)?.[1]);
    if (!pid || pid === process.pid) continue;
    try {
      process.kill(pid, 0);
      continue; // alive: its own
    } catch {
      /* gone */
    }
    try {
      rmdirSync(join(mount, name));
    } catch {
      /* still busy: left for a later call */
    }
  }
}

/** libc through ffi-rs and one 1 KiB buffer for bpf(2)'s attributes, made on first use (a bench puts a record per connection). */
let sysctx: { sys: (cmd: number, size: number) => { value: number; errnoMessage: string }; close: (fd: number) => void; mem: Buffer; base: number } | undefined;

function bpfSyscalls(): NonNullable<typeof sysctx> {
  if (sysctx) return sysctx;
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  ffi ??= require('ffi-rs') as typeof import('ffi-rs');
  const { DataType: T } = ffi;
  ffi.open({ library: 'libc-test', path: 'libc.so.6' });
  const libc = ffi.define({
    malloc: { library: 'libc-test', retType: T.External, paramsType: [T.I64] },
    memcpy: { library: 'libc-test', retType: T.I64, paramsType: [T.External, T.External, T.I64] },
    syscall: { library: 'libc-test', retType: T.I64, paramsType: [T.I64, T.I64, T.I64, T.I64], errno: true },
    close: { library: 'libc-test', retType: T.I32, paramsType: [T.I32] },
  });
  const ext = libc.malloc([1024]);
  const base = libc.memcpy([ext, ext, 0]) as number;
  const mem = ffi.createExternalBuffer(ext as never, 1024);
  const nr = process.arch === 'arm64' ? 280 : 321;
  sysctx = {
    sys: (cmd, size) => libc.syscall([nr, cmd, base, size]) as unknown as { value: number; errnoMessage: string },
    close: (fd) => void libc.close([fd]),
    mem,
    base,
  };
  return sysctx;
}

function update(path: string, fd: number, record: Uint8Array): void {
  const { sys, close, mem, base } = bpfSyscalls();
  mem.fill(0);
  Buffer.from(path + '\0').copy(mem, 512);
  mem.writeBigUInt64LE(BigInt(base + 512), 0);
  // The pin is opened per call, not kept: tests unpin and replace maps, and a held fd would keep an old map alive.
  const get = sys(7 /* BPF_OBJ_GET */, 16);
  if (get.value < 0) throw new Error(`BPF_OBJ_GET ${path}: ${get.errnoMessage}`);
  mem.fill(0, 0, 64);
  mem.writeUInt32LE(get.value, 0); // map_fd
  mem.writeInt32LE(fd, 128);
  Buffer.from(record).copy(mem, 192);
  mem.writeBigUInt64LE(BigInt(base + 128), 8); // key
  mem.writeBigUInt64LE(BigInt(base + 192), 16); // value
  const up = sys(2 /* BPF_MAP_UPDATE_ELEM */, 32);
  close(get.value);
  if (up.value < 0) throw new Error(`BPF_MAP_UPDATE_ELEM fd ${fd}: ${up.errnoMessage}`);
}

/** Builds a struct toa_record. */
export function makeRecord(r: {
  family: 4 | 6;
  dialect: number;
  address: number[];
  port: number;
  peerFamily: 4 | 6;
  peerAddress: number[];
  peerPort: number;
  flags?: number;
  version?: number;
}): Uint8Array {
  const b = Buffer.alloc(44);
  b[0] = r.version ?? 1;
  b[1] = r.family;
  b[2] = r.dialect;
  b[3] = r.peerFamily;
  b.writeUInt16BE(r.port, 4);
  b.writeUInt16BE(r.peerPort, 6);
  Buffer.from(r.address).copy(b, 8);
  Buffer.from(r.peerAddress).copy(b, 24);
  b.writeUInt32LE(r.flags ?? 0, 40);
  return b;
}
