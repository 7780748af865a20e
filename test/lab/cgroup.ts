/** The cgroup v2 hierarchy: found from the mounts, never assumed. */
import { existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** Where cgroup2 is mounted (e.g. /sys/fs/cgroup or /sys/fs/cgroup/unified), or null. */
export function cgroup2Mount(): string | null {
  for (const line of readFileSync('/proc/self/mounts', 'utf8').split('\n')) {
    const [, mountPoint, type] = line.split(' ');
    if (type === 'cgroup2') return mountPoint.replace(/\\040/g, ' ');
  }
  return null;
}

/** A child cgroup made for one lab; remove() kills what is left in it and deletes it. */
export class Cgroup {
  readonly path: string;

  constructor(name: string) {
    const mount = cgroup2Mount();
    if (!mount) throw new Error('no cgroup v2 hierarchy is mounted (looked for a cgroup2 line in /proc/self/mounts)');
    this.path = join(mount, name);
    mkdirSync(this.path, { recursive: true });
  }

  pids(): number[] {
    if (!existsSync(this.path)) return [];
    return readFileSync(join(this.path, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean).map(Number);
  }

  remove(): void {
    if (!existsSync(this.path)) return;
    // cgroup.kill exists from 5.14; older kernels get a signal per pid.
    try {
      writeFileSync(join(this.path, 'cgroup.kill'), '1');
    } catch {
      for (const pid of this.pids()) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          /* already gone */
        }
      }
    }
    for (let i = 0; i < 100; i++) {
      try {
        rmdirSync(this.path);
        return;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EBUSY') throw e;
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20);
      }
    }
    throw new Error(`cgroup ${this.path} still busy after its processes were killed`);
  }
}

/** argv that runs the command inside the cgroup (the shell moves itself in, then execs). */
export function inCgroup(path: string | null, argv: string[]): string[] {
  return path ? ['sh', '-c', 'echo $$ > "$0/cgroup.procs" && exec "$@"', path, ...argv] : argv;
}
