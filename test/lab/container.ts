/**
 * A container-like namespace, as a container runtime makes one for the
 * real-server agent: its own mount and PID namespaces (and /proc), a fresh
 * sysfs at /sys, and, as deploy/ asks for, the host's bpffs and cgroup2
 * bind-mounted at /sys/fs/bpf and /sys/fs/cgroup. Without them it is the
 * container an operator writes first, which toa-bpf must refuse.
 */
import { readFileSync } from 'node:fs';
import { relative } from 'node:path';
import { cgroup2Mount } from './cgroup.js';

export interface ContainerOptions {
  /** Bind-mount the host's /sys/fs/bpf (default true). */
  hostBpffs?: boolean;
  /** Bind-mount the host's cgroup2 hierarchy at /sys/fs/cgroup (default true). */
  hostCgroup?: boolean;
  /** ...read-only, as deploy/kubernetes mounts it (default false). */
  cgroupReadOnly?: boolean;
}

/** Where the container sees a host cgroup2 directory (its cgroup2 is at /sys/fs/cgroup). */
export function containerCgroupPath(hostPath: string): string {
  const mount = cgroup2Mount();
  if (!mount) throw new Error('no cgroup v2 hierarchy is mounted');
  return `/sys/fs/cgroup/${relative(mount, hostPath)}`.replace(/\/$/, '');
}

/** argv that runs argv inside a fresh container-like namespace (which ends with it); argv is its PID 1. */
export function inContainer(argv: string[], opts: ContainerOptions = {}): string[] {
  const cg = cgroup2Mount();
  const bpf = opts.hostBpffs ?? true;
  const cgroup = (opts.hostCgroup ?? true) && cg;
  // /mnt is a scratch tmpfs of this mount namespace only: the host's mounts are held there while sysfs is replaced.
  const script = [
    'mount -t tmpfs tmpfs /mnt',
    bpf ? 'mkdir /mnt/bpf && mount --bind /sys/fs/bpf /mnt/bpf' : '',
    cgroup ? `mkdir /mnt/cg && mount --bind "${cg}" /mnt/cg` : '',
    'umount -l /sys && mount -t sysfs sysfs /sys',
    bpf ? 'mount --move /mnt/bpf /sys/fs/bpf' : '',
    cgroup ? 'mount --move /mnt/cg /sys/fs/cgroup' : '',
    cgroup && opts.cgroupReadOnly ? 'mount -o remount,bind,ro /sys/fs/cgroup' : '',
    'exec "$@"',
  ]
    .filter(Boolean)
    .join('\n');
  // --kill-child: the container ends with the unshare that made it, as a runtime's does.
  return ['unshare', '--mount', '--pid', '--fork', '--kill-child', '--mount-proc', '--propagation', 'private', 'sh', '-ec', script, 'container', ...argv];
}

/** The host's PID of the container's PID 1, given the PID of the unshare (or of an nsenter that exec'd it). */
export function containerInit(unsharePid: number): number {
  const kids = readFileSync(`/proc/${unsharePid}/task/${unsharePid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean);
  if (kids.length !== 1) throw new Error(`unshare ${unsharePid} has children [${kids.join(' ')}], not one`);
  return Number(kids[0]);
}
