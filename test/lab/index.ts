/**
 * The lab: DESIGN.md's topology in fresh network namespaces, shared by every
 * end-to-end test, the demo and the benchmarks.
 *
 *   client ---- director (VIP, nftables FullNAT, tc TOA writer) ---- realserver ---- stranger
 *
 * Each lab has unique namespace names, its own cgroup for the real server's
 * processes and its own bpffs pin directory, so labs can run side by side.
 * destroy() always runs: from the caller, and from exit and signal handlers.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ADDR, LIP_POOL, PREFIX, endpoint, extraClient4, extraClient6 } from './addresses.js';
import { Capture } from './capture.js';
import { Cgroup, cgroup2Mount, inCgroup } from './cgroup.js';
import { inNetns, Proc, run, runOk, type RunResult } from './run.js';

export { ADDR, LIP_POOL, endpoint, extraClient4, extraClient6 } from './addresses.js';
export type { TcpOption, TcpSegment } from './pcap.js';
export { tcpOptions } from './pcap.js';
export { Capture } from './capture.js';
export { Proc, run, runOk } from './run.js';

export const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), '../..');
export const TOA_BPF = join(REPO_ROOT, 'bpf/build/toa-bpf');
export const TSX = join(REPO_ROOT, 'node_modules/.bin/tsx');
/** How long a Node app may take to start listening: minutes in an emulated (TCG) VM guest on a busy host. */
export const APP_START_MS = process.env.TOA_VM ? 180_000 : 20_000;
const BPFFS = '/sys/fs/bpf';

/** One request made by the lab's HTTP client. */
export interface ClientResult {
  localAddress?: string;
  localPort?: number;
  status?: number;
  body?: any;
  bytes?: number;
  error?: string;
}

export type Role = 'client' | 'director' | 'realserver' | 'stranger';

export interface LabOptions {
  /** Keep tx checksum offload on the veths (default off: every checksum is computed and verified by the receiver). */
  offload?: boolean;
  /** Extra client addresses (IPv4 198.51.100.101.., IPv6 2001:db8:100::1:0..) for many-client tests. */
  extraClients?: number;
  /** SNAT to the whole LIP pool (LIP_POOL) instead of lip4 / lip6 alone; the real server then trusts the pool. */
  lipPool?: boolean;
}

/**
 * The director's NAT: `fullnat` (dnat to the real server + snat to the LIPs),
 * `nat` (dnat only; the real server routes replies back through the director),
 * `snat` (snat only: another engine, such as IPVS, does the dnat).
 */
export type NatMode = 'fullnat' | 'nat' | 'snat';

export interface WriterOptions {
  /** VIP ports the writer serves (default 80, 443, 8080). */
  ports?: number[];
  /** Dialects to write, one per family (default: toa-bpf's, v4 and v6). */
  dialects?: string[];
  extraArgs?: string[];
  /** Also write on the real-server-facing device rs0 (toa-bpf --rs-dev), as SYNPROXY needs. */
  rsDev?: boolean;
}

/** SYNPROXY's TCP options (nft synproxy statement); the default is the README's recipe. */
export interface SynproxyOptions {
  /** Timestamps (carry window scale and SACK through the cookie; default true). */
  timestamp?: boolean;
}

export interface RealserverOptions {
  /** Trusted source prefixes, or 'any' (default: the director's LIPs). */
  trust?: string[] | 'any';
  /** Accepted dialects (default: toa-bpf's, v4 v6 v6-ali). */
  accept?: string[];
}

/**
 * Which real-server reader attachReader() uses: the eBPF path, or toa.ko when
 * TOA_E2E_READER=module and TOA_KO names the module. The VM runs set both
 * (modules load only in their guests), so files written against
 * attachReader() check both paths unchanged.
 */
export const READER: 'ebpf' | 'module' = process.env.TOA_E2E_READER === 'module' ? 'module' : 'ebpf';

/** Why the chosen reader cannot run here, or null. */
export function readerUnavailable(): string | null {
  return READER === 'module' && !process.env.TOA_KO ? 'TOA_E2E_READER=module needs TOA_KO (the toa.ko to load)' : null;
}

const live = new Set<Lab>();
let counter = 0;

export class Lab {
  readonly id: string;
  readonly ns: Record<Role, string>;
  readonly addr = ADDR;
  /** bpffs pin directory for this lab's toa-bpf state (TOA_PIN_DIR). */
  readonly pinDir: string;
  /** The real server's cgroup: processes started with { cgroup: true } run in it. */
  readonly cgroup: Cgroup;
  private procs = new Set<Proc>();
  private captures = new Set<Capture>();
  private destroyed = false;
  private writer = false;
  private realserver = false;
  /** toa.ko was loaded by attachReader() and is unloaded by destroy(). */
  private module = false;
  private lipPool = false;
  private natMode: NatMode = 'fullnat';
  private synproxy: SynproxyOptions | null = null;

  private constructor(id: string) {
    this.id = id;
    this.ns = {
      client: `${id}-client`,
      director: `${id}-director`,
      realserver: `${id}-rs`,
      stranger: `${id}-stranger`,
    };
    this.pinDir = join(BPFFS, id);
    this.cgroup = new Cgroup(id);
  }

  /** Builds the topology. Throws (after tearing down what it built) when something is missing. */
  static async create(opts: LabOptions = {}): Promise<Lab> {
    requireRoot();
    sweepStale();
    const lab = new Lab(`toa${process.pid}x${counter++}`);
    live.add(lab);
    try {
      await lab.build(opts);
    } catch (e) {
      await lab.destroy();
      throw e;
    }
    return lab;
  }

  private async build(opts: LabOptions): Promise<void> {
    const { client, director, realserver, stranger } = this.ns;
    for (const n of Object.values(this.ns)) await runOk(['ip', 'netns', 'add', n]);
    // Links are made from inside a namespace so no name ever touches the host's.
    await runOk(['ip', '-n', director, 'link', 'add', 'cli0', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', client]);
    await runOk(['ip', '-n', director, 'link', 'add', 'rs0', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', realserver]);
    await runOk(['ip', '-n', realserver, 'link', 'add', 'str0', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', stranger]);

    const sh = (ns: string, script: string): Promise<string> => runOk(inNetns(ns, ['sh', '-ec', script]));
    const v6 = 'sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0';
    const addrs = (dev: string, a4: string, p4: number, a6: string, p6: number): string =>
      `ip addr add ${a4}/${p4} dev ${dev}; ip addr add ${a6}/${p6} dev ${dev} nodad; ip link set ${dev} up`;

    this.lipPool = !!opts.lipPool;
    let pool = '';
    if (this.lipPool) {
      for (const a of LIP_POOL.v4.slice(1)) pool += `ip addr add ${a}/32 dev rs0;`;
      for (const a of LIP_POOL.v6.slice(1)) pool += `ip addr add ${a}/128 dev rs0 nodad;`;
    }
    let extra = '';
    for (let i = 0; i < (opts.extraClients ?? 0); i++) {
      extra += `ip addr add ${extraClient4(i)}/32 dev eth0; ip addr add ${extraClient6(i)}/128 dev eth0 nodad;`;
    }
    await sh(client, `${v6}; ip link set lo up; ${addrs('eth0', ADDR.client4, PREFIX.client4, ADDR.client6, PREFIX.client6)};
      ${extra}
      ip route add default via ${ADDR.dirClient4}; ip -6 route add default via ${ADDR.dirClient6}`);
    await sh(director, `${v6}; ip link set lo up;
      ${addrs('cli0', ADDR.dirClient4, PREFIX.client4, ADDR.dirClient6, PREFIX.client6)};
      ip addr add ${ADDR.vip4}/32 dev cli0; ip addr add ${ADDR.vip6}/128 dev cli0 nodad;
      ${addrs('rs0', ADDR.lip4, PREFIX.rs4, ADDR.lip6, PREFIX.rs6)};
      ${pool}
      sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1`);
    await sh(realserver, `${v6}; ip link set lo up;
      ${addrs('eth0', ADDR.rs4, PREFIX.rs4, ADDR.rs6, PREFIX.rs6)};
      ${addrs('str0', ADDR.rsStranger4, PREFIX.stranger4, ADDR.rsStranger6, PREFIX.stranger6)}`);
    await sh(stranger, `${v6}; ip link set lo up;
      ${addrs('eth0', ADDR.stranger4, PREFIX.stranger4, ADDR.stranger6, PREFIX.stranger6)};
      ip route add default via ${ADDR.rsStranger4}; ip -6 route add default via ${ADDR.rsStranger6}`);

    if (!opts.offload) {
      // Software checksums everywhere: a wrong sum from the writer is then dropped by the receiver, as on a real wire.
      for (const [ns, devs] of [
        [client, ['eth0']],
        [director, ['cli0', 'rs0']],
        [realserver, ['eth0', 'str0']],
        [stranger, ['eth0']],
      ] as const) {
        for (const dev of devs) await runOk(inNetns(ns, ['ethtool', '-K', dev, 'tx', 'off']));
      }
    }

    await this.setNat('fullnat');
  }

  /** Replaces the director's NAT rules (one nft transaction); see NatMode. */
  async setNat(mode: NatMode): Promise<void> {
    this.natMode = mode;
    const lips4 = this.lipPool ? `${LIP_POOL.v4[0]}-${LIP_POOL.v4.at(-1)}` : ADDR.lip4;
    const lips6 = this.lipPool ? `${LIP_POOL.v6[0]}-${LIP_POOL.v6.at(-1)}` : ADDR.lip6;
    // Only what entered on the writer's device is forwarded: VIP traffic from any other side would skip its strip.
    // Connections IPVS forwards carry no dnat status in conntrack: snat mode matches the real server alone.
    const dnatted = mode === 'snat' ? '' : 'ct status dnat ';
    const pre = `  chain pre {
    type nat hook prerouting priority dstnat;
    iifname "cli0" ip daddr ${ADDR.vip4} meta l4proto tcp dnat ip to ${ADDR.rs4}
    iifname "cli0" ip6 daddr ${ADDR.vip6} meta l4proto tcp dnat ip6 to ${ADDR.rs6}
  }
`;
    const post = `  chain post {
    type nat hook postrouting priority srcnat;
    oifname "rs0" ${dnatted}ip daddr ${ADDR.rs4} snat ip to ${lips4}
    oifname "rs0" ${dnatted}ip6 daddr ${ADDR.rs6} snat ip6 to ${lips6}
  }
`;
    // Plain NAT: replies to the client go back through the director, which undoes the dnat.
    if (mode === 'nat') {
      await this.execOk('realserver', ['ip', 'route', 'replace', `${ADDR.client4.replace(/\.\d+$/, '.0')}/${PREFIX.client4}`, 'via', ADDR.lip4]);
      await this.execOk('realserver', ['ip', '-6', 'route', 'replace', `${ADDR.client6.replace(/::\w+$/, '::')}/${PREFIX.client6}`, 'via', ADDR.lip6]);
    }
    await runOk(inNetns(this.ns.director, ['nft', '-f', '-']), {
      input: `table inet toa_lab {}
delete table inet toa_lab
table inet toa_lab {
${mode === 'snat' ? '' : pre}${mode === 'nat' ? '' : post}${this.synproxy && mode === 'fullnat' ? this.synproxyRules(this.synproxy) : ''}}
`,
    });
  }

  /**
   * The README's SYNPROXY recipe in front of the FullNAT rules: client SYNs to
   * the VIPs skip conntrack and get a cookie SYN-ACK from the director; a
   * client that completes that handshake makes the director open its own
   * connection to the real server (through the output hook, hence its dnat).
   * Spoofed SYNs never reach the real server. null turns it off. Pair it with
   * attachWriter({ rsDev: true }).
   */
  async setSynproxy(opts: SynproxyOptions | null): Promise<void> {
    if (opts && this.natMode !== 'fullnat') throw new Error('setSynproxy: the lab runs SYNPROXY in front of fullnat only');
    this.synproxy = opts;
    await this.setNat(this.natMode);
    if (opts) {
      // loose=0: a mid-stream ACK with no entry is invalid (SYNPROXY checks its cookie) instead of starting a connection.
      await this.execOk('director', ['sysctl', '-qw', 'net.netfilter.nf_conntrack_tcp_loose=0', 'net.ipv4.tcp_syncookies=1', 'net.ipv4.tcp_timestamps=1']);
    } else {
      await this.execOk('director', ['sysctl', '-qw', 'net.netfilter.nf_conntrack_tcp_loose=1']);
    }
  }

  private synproxyRules(opts: SynproxyOptions): string {
    const ts = opts.timestamp === false ? '' : ' timestamp sack-perm';
    const syn = 'tcp flags & (fin|syn|rst|ack) == syn';
    return `  chain syn_notrack {
    type filter hook prerouting priority raw;
    iifname "cli0" ip daddr ${ADDR.vip4} ${syn} notrack
    iifname "cli0" ip6 daddr ${ADDR.vip6} ${syn} notrack
  }
  chain syn_proxy {
    type filter hook input priority filter;
    iifname "cli0" ip daddr ${ADDR.vip4} meta l4proto tcp ct state invalid,untracked counter synproxy mss 1460 wscale 7${ts}
    iifname "cli0" ip6 daddr ${ADDR.vip6} meta l4proto tcp ct state invalid,untracked counter synproxy mss 1440 wscale 7${ts}
    iifname "cli0" ip daddr ${ADDR.vip4} meta l4proto tcp ct state invalid counter drop
    iifname "cli0" ip6 daddr ${ADDR.vip6} meta l4proto tcp ct state invalid counter drop
  }
  chain out_nat {
    type nat hook output priority -100;
    ip daddr ${ADDR.vip4} meta l4proto tcp dnat ip to ${ADDR.rs4}
    ip6 daddr ${ADDR.vip6} meta l4proto tcp dnat ip6 to ${ADDR.rs6}
  }
`;
  }

  /**
   * Makes the client's extra addresses silent, like hosts that are not there:
   * what arrives for them is dropped, so a flood spoofed from them draws no
   * RST that would free the half-open state it makes.
   */
  async muteExtraClients(count: number): Promise<void> {
    const v4 = Array.from({ length: count }, (_, i) => extraClient4(i)).join(', ');
    const v6 = Array.from({ length: count }, (_, i) => extraClient6(i)).join(', ');
    await this.execOk('client', ['nft', '-f', '-'], {
      input: `table inet toa_mute {
  chain in {
    type filter hook input priority filter;
    ip daddr { ${v4} } drop
    ip6 daddr { ${v6} } drop
  }
}
`,
    });
  }

  /** Runs a command in a lab namespace; never throws for a non-zero exit. */
  exec(role: Role, argv: string[], opts: { input?: string; timeoutMs?: number; env?: NodeJS.ProcessEnv } = {}): Promise<RunResult> {
    return run(inNetns(this.ns[role], argv), { input: opts.input, timeoutMs: opts.timeoutMs, env: this.env(opts.env) });
  }

  /** Runs a command in a lab namespace and returns stdout; throws with its output on failure. */
  execOk(role: Role, argv: string[], opts: { input?: string; timeoutMs?: number; env?: NodeJS.ProcessEnv } = {}): Promise<string> {
    return runOk(inNetns(this.ns[role], argv), { input: opts.input, timeoutMs: opts.timeoutMs, env: this.env(opts.env) });
  }

  /** Starts a long-running process in a namespace (in the lab's cgroup with { cgroup: true }); stopped at teardown. */
  spawn(role: Role, argv: string[], opts: { cgroup?: boolean; env?: NodeJS.ProcessEnv } = {}): Proc {
    const p = new Proc(inCgroup(opts.cgroup ? this.cgroup.path : null, inNetns(this.ns[role], argv)), {
      env: this.env(opts.env),
    });
    this.procs.add(p);
    void p.wait().then(() => this.procs.delete(p));
    return p;
  }

  /** Starts tcpdump on an interface of a namespace (default filter: tcp). */
  async capture(role: Role, iface: string, filter = 'tcp'): Promise<Capture> {
    const c = await Capture.start(this.ns[role], iface, filter);
    this.captures.add(c);
    const stop = c.stop.bind(c);
    c.stop = async () => {
      this.captures.delete(c);
      return stop();
    };
    return c;
  }

  /**
   * For load tests: thousands of short connections a second would otherwise
   * pile up TIME_WAIT sockets and conntrack entries, and each round of a
   * benchmark would run slower than the last.
   */
  async tuneForLoad(): Promise<void> {
    for (const role of ['client', 'director', 'realserver'] as const) {
      await this.execOk(role, ['sysctl', '-qw', 'net.ipv4.tcp_max_tw_buckets=0']);
    }
    await this.execOk('director', [
      'sysctl',
      '-qw',
      ...['time_wait', 'close', 'fin_wait', 'last_ack', 'close_wait'].map((s) => `net.netfilter.nf_conntrack_tcp_timeout_${s}=1`),
    ]);
  }

  /**
   * Makes the real server advertise a lower MSS toward the LIP (route advmss),
   * as the writer's SYN-ACK clamp does on the wire, without any eBPF: the
   * benchmarks' baseline for "the same segment sizes". null removes it.
   */
  async routeMss(mss: { v4: number; v6: number } | null): Promise<void> {
    const routes: [Role, string, string[]][] = [
      ['realserver', '-4', [`${ADDR.lip4}/32`, 'dev', 'eth0']],
      ['realserver', '-6', [`${ADDR.lip6}/128`, 'dev', 'eth0']],
    ];
    for (const [role, fam, route] of routes) {
      if (mss) await this.execOk(role, ['ip', fam, 'route', 'replace', ...route, 'advmss', String(fam === '-4' ? mss.v4 : mss.v6)]);
      else await this.exec(role, ['ip', fam, 'route', 'del', route[0]]);
    }
  }

  /** Runs toa-bpf with this lab's pin directory (in the director's namespace unless told otherwise). */
  toaBpf(args: string[], role: Role = 'director'): Promise<RunResult> {
    return this.exec(role, [TOA_BPF, ...args]);
  }

  /** Attaches the director's TOA writer on cli0 for the VIPs. */
  async attachWriter(opts: WriterOptions = {}): Promise<void> {
    const vips = (opts.ports ?? [80, 443, 8080]).flatMap((p) => ['--vip', endpoint(ADDR.vip4, p), '--vip', endpoint(ADDR.vip6, p)]);
    const dialects = (opts.dialects ?? []).flatMap((d) => ['--dialect', d]);
    const rs = opts.rsDev ? ['--rs-dev', 'rs0'] : [];
    await this.check(this.toaBpf(['director', 'attach', '--dev', 'cli0', ...rs, ...vips, ...dialects, ...(opts.extraArgs ?? [])]));
    this.writer = true;
  }

  async detachWriter(): Promise<void> {
    await this.check(this.toaBpf(['director', 'detach', '--dev', 'cli0']));
    this.writer = false;
  }

  /** toa-bpf director status --json, parsed. */
  async writerStatus(): Promise<any> {
    return JSON.parse(await this.check(this.toaBpf(['director', 'status', '--json'])));
  }

  /** Attaches the real-server eBPF path to the lab's cgroup. */
  async attachRealserver(opts: RealserverOptions = {}): Promise<void> {
    const trust = opts.trust ?? (this.lipPool ? [...LIP_POOL.trust] : [`${ADDR.lip4}/32`, `${ADDR.lip6}/128`]);
    const trustArgs = trust === 'any' ? ['--trust-any'] : trust.flatMap((t) => ['--trust', t]);
    const accept = (opts.accept ?? []).flatMap((d) => ['--accept', d]);
    await this.check(this.toaBpf(['realserver', 'attach', '--cgroup', this.cgroup.path, ...trustArgs, ...accept], 'realserver'));
    this.realserver = true;
  }

  /**
   * The real server's reader for this run (READER): the eBPF path in the lab's
   * cgroup, or toa.ko loaded with the same trust and accept lists. The module
   * is global to the kernel, so it reads for every namespace until destroy().
   */
  async attachReader(opts: RealserverOptions = {}): Promise<void> {
    if (READER === 'ebpf') return this.attachRealserver(opts);
    const trust = opts.trust ?? (this.lipPool ? [...LIP_POOL.trust] : [`${ADDR.lip4}/32`, `${ADDR.lip6}/128`]);
    const params = trust === 'any' ? ['trust_any=1'] : [`trust=${trust.join(',')}`];
    if (opts.accept) params.push(`accept=${opts.accept.join(',')}`);
    if (existsSync('/sys/module/toa')) throw new Error('toa.ko is already loaded (left by an earlier lab?): rmmod toa first');
    // Set before loading: a hook timeout mid-insmod must still unload it.
    this.module = true;
    const r = await run(['busybox', 'insmod', process.env.TOA_KO!, ...params]);
    if (r.code !== 0) throw new Error(`insmod ${process.env.TOA_KO} ${params.join(' ')}: ${r.stderr.trim() || r.stdout.trim()}`);
  }

  async detachRealserver(): Promise<void> {
    await this.check(this.toaBpf(['realserver', 'detach', '--cgroup', this.cgroup.path], 'realserver'));
    this.realserver = false;
  }

  /** toa-bpf realserver status --json, parsed. */
  async realserverStatus(): Promise<any> {
    return JSON.parse(await this.check(this.toaBpf(['realserver', 'status', '--json'], 'realserver')));
  }

  /**
   * Starts test/lab/servers/peer-echo.ts on the real server (in the lab's
   * cgroup): an HTTP server answering each request with what its socket reports.
   */
  async startPeerEcho(opts: { host?: string; port?: number; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<Proc> {
    const p = this.spawn(
      'realserver',
      [process.execPath, '--import', 'tsx', join(REPO_ROOT, 'test/lab/servers/peer-echo.ts'), '--host', opts.host ?? '::', '--port', String(opts.port ?? 80)],
      { cgroup: true, env: opts.env },
    );
    await p.waitFor(/^listening /m, opts.timeoutMs ?? APP_START_MS);
    return p;
  }

  /**
   * Runs test/lab/clients/http-client.ts in a namespace (default: the client)
   * and returns one result per request: the source address and port it left
   * from and what the server answered. args are the client's flags.
   */
  /**
   * A client connection to host:port, connected and then silent (the real
   * server acknowledges no data, so the director keeps its flow) until the
   * returned process is stopped.
   */
  async holdSilentConnection(host: string, port: number): Promise<Proc> {
    const hold = this.spawn('client', [
      process.execPath,
      '-e',
      `require('net').connect({port:${port},host:${JSON.stringify(host)}},()=>console.log('connected')).on('error',e=>console.log(e.message))`,
    ]);
    await hold.waitFor(/^connected$/m, 20_000);
    return hold;
  }

  async httpClient(args: string[], role: Role = 'client', timeoutMs = 300_000): Promise<ClientResult[]> {
    const out = await this.execOk(
      role,
      [process.execPath, '--import', 'tsx', join(REPO_ROOT, 'test/lab/clients/http-client.ts'), ...args],
      { timeoutMs },
    );
    return JSON.parse(out) as ClientResult[];
  }

  /** Tears everything down; safe to call twice. */
  async destroy(): Promise<void> {
    if (this.destroyed) return;
    this.destroyed = true;
    live.delete(this);
    await Promise.all([...this.captures].map((c) => c.abort()));
    await Promise.all([...this.procs].map((p) => p.stop('SIGKILL')));
    if (this.realserver) await this.toaBpf(['realserver', 'detach', '--cgroup', this.cgroup.path], 'realserver');
    if (this.writer) await this.toaBpf(['director', 'detach', '--dev', 'cli0']);
    if (this.module && existsSync('/sys/module/toa')) {
      const r = await run(['busybox', 'rmmod', 'toa']);
      if (r.code !== 0) throw new Error(`rmmod toa: ${r.stderr.trim() || r.stdout.trim()}`);
    }
    for (const n of Object.values(this.ns)) await run(['ip', 'netns', 'del', n]);
    this.cgroup.remove();
    rmSync(this.pinDir, { recursive: true, force: true });
  }

  /** Synchronous teardown for exit handlers: kills, deletes namespaces, cgroup and pins. */
  destroySync(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    live.delete(this);
    for (const p of this.procs) p.child.kill('SIGKILL');
    if (this.module) spawnSync('busybox', ['rmmod', 'toa'], { stdio: 'ignore' });
    teardownSync(this.id);
  }

  private env(extra?: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
    return { ...process.env, TOA_PIN_DIR: this.pinDir, ...extra };
  }

  private async check(r: Promise<RunResult>): Promise<string> {
    const res = await r;
    if (res.code !== 0) throw new Error(`toa-bpf failed (exit ${res.code}): ${res.stderr.trim() || res.stdout.trim()}`);
    return res.stdout;
  }
}

/** Builds a lab; see Lab. */
export function createLab(opts: LabOptions = {}): Promise<Lab> {
  return Lab.create(opts);
}

/** Why the lab cannot run here, or null when it can (for describe.skipIf with a message). */
export function labUnavailable(): string | null {
  if (process.getuid?.() !== 0) return 'the lab needs root (network namespaces, nftables, bpffs)';
  if (!cgroup2Mount()) return 'the lab needs a cgroup v2 hierarchy';
  if (!existsSync('/run/netns') && !existsSync('/var/run')) return 'no /run for network namespaces';
  return null;
}

function requireRoot(): void {
  const why = labUnavailable();
  if (why) throw new Error(why);
}

function teardownSync(id: string): void {
  const quiet = { stdio: 'ignore' as const };
  const ignore = (f: () => void): void => {
    try {
      f();
    } catch {
      /* best effort: the next sweep retries */
    }
  };
  for (const suffix of ['client', 'director', 'rs', 'stranger']) ignore(() => execFileSync('ip', ['netns', 'del', `${id}-${suffix}`], quiet));
  const mount = cgroup2Mount();
  if (mount) ignore(() => new Cgroup(id).remove());
  ignore(() => rmSync(join(BPFFS, id), { recursive: true, force: true }));
}

/** Removes what labs of dead processes left behind (a test run that was killed). */
function sweepStale(): void {
  const ids = new Set<string>();
  const collect = (names: string[]): void => {
    for (const n of names) {
      const m = /^(toa(\d+)x\d+)/.exec(n);
      if (m && !alive(Number(m[2]))) ids.add(m[1]);
    }
  };
  if (existsSync('/run/netns')) collect(readdirSync('/run/netns'));
  const mount = cgroup2Mount();
  if (mount) collect(readdirSync(mount));
  if (existsSync(BPFFS)) collect(readdirSync(BPFFS));
  for (const id of ids) teardownSync(id);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

process.on('exit', () => {
  for (const lab of [...live]) lab.destroySync();
});
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.once(sig, () => {
    for (const lab of [...live]) lab.destroySync();
    process.exit(128 + (sig === 'SIGINT' ? 2 : sig === 'SIGTERM' ? 15 : 1));
  });
}
