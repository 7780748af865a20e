/**
 * status --format prometheus for both roles and for toa.ko's counters, read
 * by an independent parser (Debian's python3-prometheus-client): every
 * family has HELP and TYPE, counters are toa_<role>_..._total with labels,
 * and every counter of status --json is there exactly once with its value.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADDR, createLab, labUnavailable, TOA_BPF, type Lab } from '../lab/index.js';
import { parseProm, promParserUnavailable, promValue, type PromFamily } from '../lab/prometheus.js';

const why = labUnavailable() ?? promParserUnavailable();
const noParser = promParserUnavailable();

/** The shape every exposition must have. */
function checkShape(fams: PromFamily[], role: string): void {
  expect(fams.length).toBeGreaterThan(0);
  for (const f of fams) {
    expect(f.name.startsWith(`toa_${role}_`), f.name).toBe(true);
    expect(f.help.length, `${f.name} has HELP`).toBeGreaterThan(10);
    expect(['counter', 'gauge']).toContain(f.type);
    for (const s of f.samples) expect(s.name).toBe(f.type === 'counter' ? `${f.name}_total` : f.name);
  }
}

/** Sum of every counter sample: equal to the sum of status --json's counters when none is lost or doubled. */
const counterSum = (fams: PromFamily[]): number =>
  fams.filter((f) => f.type === 'counter').flatMap((f) => f.samples).reduce((a, s) => a + s.value, 0);
const jsonSum = (c: Record<string, number>): number => Object.values(c).reduce((a, v) => a + v, 0);
const counterSamples = (fams: PromFamily[]): number => fams.filter((f) => f.type === 'counter').flatMap((f) => f.samples).length;

describe.skipIf(why)(`status --format prometheus${why ? ` (skipped: ${why})` : ''}`, () => {
  let lab: Lab;
  const prom = async (role: 'director' | 'realserver'): Promise<PromFamily[]> => {
    const r = await lab.toaBpf([role, 'status', '--format', 'prometheus'], role);
    expect(r.code, r.stderr).toBe(0);
    return parseProm(r.stdout);
  };

  /** The exposition and status --json read with no segment counted in between (closing segments may still be in flight). */
  async function both(role: 'director' | 'realserver'): Promise<[PromFamily[], any]> {
    const json = () => (role === 'director' ? lab.writerStatus() : lab.realserverStatus());
    for (let i = 0; ; i++) {
      const before = await json();
      const fams = await prom(role);
      const after = await json();
      if (JSON.stringify(before.counters) === JSON.stringify(after.counters) || i === 10) return [fams, after];
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  beforeAll(async () => {
    lab = await createLab();
    await lab.startPeerEcho({ host: '::', port: 80 });
  });

  afterAll(async () => {
    await lab?.destroy();
  });

  it('not attached: toa_<role>_attached 0 and nothing else', async () => {
    for (const role of ['director', 'realserver'] as const) {
      const fams = await prom(role);
      checkShape(fams, role);
      expect(fams.map((f) => f.name)).toEqual([`toa_${role}_attached`]);
      expect(promValue(fams, `toa_${role}_attached`)).toBe(0);
    }
  });

  it('attached, after clients of both families: values match status --json, labelled by reason', async () => {
    await lab.attachWriter({ ports: [80] });
    await lab.attachRealserver();
    await lab.httpClient(['--url', `http://${ADDR.vip4}:80/`, '--count', '3']);
    await lab.httpClient(['--url', `http://[${ADDR.vip6}]:80/`, '--count', '2']);

    const [d, dj] = await both('director');
    checkShape(d, 'director');
    expect(promValue(d, 'toa_director_attached')).toBe(1);
    expect(promValue(d, 'toa_director_toa_written_total', { family: 'ipv4' })).toBe(dj.counters.written_v4);
    expect(promValue(d, 'toa_director_toa_written_total', { family: 'ipv6' })).toBe(dj.counters.written_v6);
    expect(dj.counters.written_v4).toBeGreaterThanOrEqual(3);
    expect(promValue(d, 'toa_director_passed_total', { reason: 'not_vip' })).toBe(dj.counters.not_vip);
    expect(promValue(d, 'toa_director_flows_total', { event: 'new' })).toBe(dj.counters.flow_new);
    expect(promValue(d, 'toa_director_hook_present', { direction: 'ingress', device: 'cli0' })).toBe(1);
    expect(promValue(d, 'toa_director_vips')).toBe(2);
    expect(promValue(d, 'toa_director_flows_max')).toBe(dj.flows.max);
    expect(counterSamples(d)).toBe(Object.keys(dj.counters).length);
    expect(counterSum(d)).toBe(jsonSum(dj.counters));
    // No family carries one name per reason: the reasons are labels.
    expect(d.filter((f) => f.type === 'counter').length).toBeLessThan(Object.keys(dj.counters).length);

    const [rs, rj] = await both('realserver');
    checkShape(rs, 'realserver');
    expect(promValue(rs, 'toa_realserver_getpeername_rewritten_total', { family: 'ipv6' })).toBe(rj.counters.rewritten6);
    expect(rj.counters.rewritten6).toBeGreaterThanOrEqual(5);
    expect(promValue(rs, 'toa_realserver_segment_results_total', { result: 'found' })).toBe(rj.counters.found);
    expect(promValue(rs, 'toa_realserver_trusted_prefixes')).toBe(2);
    expect(counterSamples(rs)).toBe(Object.keys(rj.counters).length);
    expect(counterSum(rs)).toBe(jsonSum(rj.counters));
  });

  it('--format is for status only; an unknown format is a usage error', async () => {
    const a = await lab.toaBpf(['director', 'detach', '--format', 'prometheus']);
    expect(a.code).toBe(2);
    expect(a.stderr).toMatch(/--format belongs to status/);
    const b = await lab.toaBpf(['realserver', 'status', '--format', 'xml'], 'realserver');
    expect(b.code).toBe(2);
    expect(b.stderr).toMatch(/unknown --format 'xml' \(text, json, prometheus\)/);
  });
});

describe.skipIf(noParser)(`toa-bpf module status: toa.ko's counters${noParser ? ` (skipped: ${noParser})` : ''}`, () => {
  // /proc/net/toa_stats as kernel-module/toa_stats.c writes it, plus a counter a later module may add.
  const STATS = [
    'handshake 12', 'untrusted 1', 'found_handshake 9', 'err_length 2', 'getpeername_v4 7',
    'dialect_v4 6', 'dialect_v6 3', 'records 4', 'records_looking 1',
    'missed_syn_recv_sock 0', 'missed_getname 0',
    'accept v4 v6 v6-ali', 'trust 192.0.2.0/24 2001:db8:200::/64', 'scan_segments 4', 'max_records 65536',
    'a_new_counter 5',
  ].join('\n');
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'toa-stats-'));
    writeFileSync(join(dir, 'toa_stats'), `${STATS}\n`);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const run = (args: string[]) => spawnSync(TOA_BPF, ['module', 'status', ...args], { encoding: 'utf8' });

  it('every numeric line, as a labelled counter or a gauge; settings left out', () => {
    const r = run(['--stats', join(dir, 'toa_stats'), '--format', 'prometheus']);
    expect(r.status, r.stderr).toBe(0);
    const fams = parseProm(r.stdout);
    checkShape(fams, 'module');
    expect(promValue(fams, 'toa_module_loaded')).toBe(1);
    expect(promValue(fams, 'toa_module_events_total', { event: 'handshake' })).toBe(12);
    expect(promValue(fams, 'toa_module_events_total', { event: 'a_new_counter' })).toBe(5);
    expect(promValue(fams, 'toa_module_dialect_total', { dialect: 'v6' })).toBe(3);
    expect(promValue(fams, 'toa_module_probe_missed_total', { probe: 'getname' })).toBe(0);
    expect(promValue(fams, 'toa_module_records')).toBe(4);
    expect(promValue(fams, 'toa_module_max_records')).toBe(65536);
    expect(counterSamples(fams)).toBe(10);
  });

  it('json and a missing file (module not loaded)', () => {
    const j = JSON.parse(run(['--stats', join(dir, 'toa_stats'), '--json']).stdout);
    expect(j.settings).toEqual({ accept: 'v4 v6 v6-ali', trust: '192.0.2.0/24 2001:db8:200::/64' });
    expect(j.gauges.records_looking).toBe(1);
    const none = run(['--stats', join(dir, 'absent'), '--format', 'prometheus']);
    expect(none.status).toBe(0);
    expect(promValue(parseProm(none.stdout), 'toa_module_loaded')).toBe(0);
  });
});
