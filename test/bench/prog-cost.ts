/**
 * What the real server's BPF programs cost per connection, by the kernel's
 * own accounting (bpf_stats: run_time_ns and run_cnt of each program), net of
 * programs that do nothing (build/empty.bpf.o) attached beside them to the
 * same cgroup: those see the same calls, so their time is what being called
 * costs at all; the difference is the programs' own work.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT, run, type Lab } from '../lab/index.js';
import { wrkConnections } from './conn-rate.js';

const EMPTY = join(REPO_ROOT, 'test/bench/build/empty.bpf.o');
const TYPES: [string, string][] = [
  ['sockops', 'sock_ops'],
  ['getpeername4', 'getpeername4'],
  ['getpeername6', 'getpeername6'],
];

export interface ProgCost {
  /** Connections made while measuring. */
  connections: number;
  /** Nanoseconds per connection: toa-bpf's programs, and the empty ones, summed over the three types. */
  toa: number;
  empty: number;
  /** Calls of the sockops program per connection. */
  sockopsCalls: number;
}

async function bpftool(args: string[]): Promise<unknown> {
  const r = await run(['bpftool', '-j', ...args]);
  if (r.code !== 0) throw new Error(`bpftool ${args.join(' ')}: ${r.stderr}`);
  return JSON.parse(r.stdout.trim() || 'null');
}

/** run_time_ns and run_cnt of every program attached to the cgroup, by name. */
async function stats(lab: Lab): Promise<Map<string, { ns: number; cnt: number }>> {
  const attached = (await bpftool(['cgroup', 'show', lab.cgroup.path])) as { id: number }[];
  const ids = new Set(attached.map((a) => a.id));
  const progs = (await bpftool(['prog', 'show'])) as { id: number; name: string; run_time_ns?: number; run_cnt?: number }[];
  const out = new Map<string, { ns: number; cnt: number }>();
  for (const p of progs.filter((q) => ids.has(q.id))) out.set(p.name, { ns: p.run_time_ns ?? 0, cnt: p.run_cnt ?? 0 });
  return out;
}

/**
 * Measures for `seconds` of wrk connections to port, with the real server
 * attached (the caller's job) and the empty programs attached here beside it.
 */
export async function progCost(lab: Lab, port: number, seconds: number): Promise<ProgCost> {
  if (!existsSync(EMPTY)) execFileSync('make', ['-s', '-C', join(REPO_ROOT, 'test/bench')], { stdio: 'inherit' });
  const pins = join('/sys/fs/bpf', `${lab.id}-empty`);
  const was = (await run(['sysctl', '-n', 'kernel.bpf_stats_enabled'])).stdout.trim() || '0';
  await bpftool(['prog', 'loadall', EMPTY, pins]);
  try {
    for (const [name, type] of TYPES) await bpftool(['cgroup', 'attach', lab.cgroup.path, type, 'pinned', join(pins, `empty_${name}`), 'multi']);
    await run(['sysctl', '-qw', 'kernel.bpf_stats_enabled=1']);
    const before = await stats(lab);
    const { total } = await wrkConnections(lab, port, seconds);
    const after = await stats(lab);
    const ns = (prefix: string): number =>
      TYPES.reduce((sum, [name]) => sum + (after.get(`${prefix}_${name}`)?.ns ?? 0) - (before.get(`${prefix}_${name}`)?.ns ?? 0), 0);
    const calls = (after.get('toa_sockops')?.cnt ?? 0) - (before.get('toa_sockops')?.cnt ?? 0);
    return { connections: total, toa: ns('toa') / total, empty: ns('empty') / total, sockopsCalls: calls / total };
  } finally {
    await run(['sysctl', '-qw', `kernel.bpf_stats_enabled=${was}`]);
    for (const [name, type] of TYPES) await run(['bpftool', 'cgroup', 'detach', lab.cgroup.path, type, 'pinned', join(pins, `empty_${name}`)]);
    rmSync(pins, { recursive: true, force: true });
  }
}
