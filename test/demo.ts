/**
 * npm run demo: the whole chain in network namespaces, documentation addresses only.
 *
 *   client -> director (VIP, nftables FullNAT, tc TOA writer) -> real server (Express + toa)
 *
 * Shows, step by step, what the real server's app sees: the director's LIP
 * under plain FullNAT; the TOA option the writer puts on the wire; the client
 * once the real server reads TOA (eBPF getpeername hooks + the toa package),
 * for IPv4, IPv6 and a NAT64 client; then SYNPROXY in front of the director
 * and a spoofed SYN flood, through which clients still get in and are named.
 * Tears everything down at the end.
 */
import { join } from 'node:path';
import { decodeOptions } from '../node-toa/src/wire.js';
import { ADDR, createLab, endpoint, extraClient4, REPO_ROOT, type ClientResult, type Lab, type TcpSegment } from './lab/index.js';
import { craft, ensureCraft, toaHex } from './tools/craft.js';

const PORT = 80;
/** A plain Node server (no toa package) beside the Express app: what the kernel hook alone gives. */
const PLAIN_PORT = 8080;
/** Spoofed sources of the flood in step 4. */
const FLOOD_SOURCES = 16;
const bold = (s: string): string => (process.stdout.isTTY ? `\x1b[1m${s}\x1b[0m` : s);
const say = (s = ''): void => void process.stdout.write(`${s}\n`);

async function ask(lab: Lab, vip: string, port = PORT): Promise<ClientResult> {
  const [r] = await lab.httpClient(['--url', `http://${endpoint(vip, port)}/`]);
  if (r.error || r.status !== 200) throw new Error(`request to ${vip} failed: ${r.error ?? r.status}`);
  return r;
}

function client(r: ClientResult): string {
  return endpoint(r.localAddress!, r.localPort!);
}

function seen(r: ClientResult): string {
  const p = r.body.peer;
  const via = p.via === 'toa' ? `via TOA, proxy ${endpoint(p.proxy.address, p.proxy.port)}` : 'via the socket';
  return `req.ip ${r.body.ip}  (toa.peer: ${endpoint(p.address, p.port)}, ${via})`;
}

/** The TOA on the handshake ACK of the connection that left from port, as the real server received it. */
function toaOnWire(segs: TcpSegment[], port: number): string {
  const ack = segs.find((s) => s.sport === port && s.dport === PORT && s.flags.ack && !s.flags.syn);
  if (!ack) return 'no handshake ACK captured';
  const d = decodeOptions(ack.options);
  const hdr = `${endpoint(ack.src, ack.sport)} -> ${endpoint(ack.dst, ack.dport)}`;
  if (d.status !== 'ok') return `${hdr}: no TOA (${d.status})`;
  return `${hdr} carries TOA ${d.dialect} = ${endpoint(d.address, d.port)}`;
}

async function main(): Promise<void> {
  say(bold('toa demo: an LVS FullNAT director and a real server, in network namespaces'));
  say();
  const lab = await createLab();
  try {
    say(`  client      ${ADDR.client4}, ${ADDR.client6}`);
    say(`  director    VIP ${ADDR.vip4}:${PORT}, [${ADDR.vip6}]:${PORT}; nftables FullNAT from LIP ${ADDR.lip4} / ${ADDR.lip6}`);
    say(`  real server ${ADDR.rs4}, ${ADDR.rs6}: examples/express.ts (Express with the toa middleware) on [::]:${PORT}`);
    const app = lab.spawn('realserver', [process.execPath, '--import', 'tsx', join(REPO_ROOT, 'examples/express.ts')], {
      cgroup: true,
      env: { PORT: String(PORT), HOST: '::' },
    });
    await app.waitFor(/^listening /m);
    say(`              and test/lab/servers/peer-echo.ts (plain Node http, no toa package) on [::]:${PLAIN_PORT}`);
    await lab.startPeerEcho({ port: PLAIN_PORT });

    say();
    say(bold('1. Plain FullNAT: the real server sees the director'));
    for (const vip of [ADDR.vip4, ADDR.vip6]) {
      const r = await ask(lab, vip);
      say(`   client ${client(r).padEnd(28)} -> ${seen(r)}`);
    }

    say();
    const vips = [PORT, PLAIN_PORT].flatMap((p) => [`--vip ${endpoint(ADDR.vip4, p)}`, `--vip ${endpoint(ADDR.vip6, p)}`]);
    say(bold('2. The director writes TOA:') + ` toa-bpf director attach --dev cli0 ${vips.join(' ')}`);
    await lab.attachWriter({ ports: [PORT, PLAIN_PORT] });
    const cap = await lab.capture('realserver', 'eth0', `tcp port ${PORT}`);
    const before = [await ask(lab, ADDR.vip4), await ask(lab, ADDR.vip6)];
    const segs = await cap.stop();
    for (const r of before) {
      say(`   client ${client(r).padEnd(28)} -> on the wire at the real server: ${toaOnWire(segs, r.localPort!)}`);
      say(`   ${''.padEnd(35)} the app, with nothing reading TOA yet: ${seen(r)}`);
    }

    say();
    say(bold('3. The real server reads TOA:') + ` toa-bpf realserver attach --cgroup <app's cgroup> --trust ${ADDR.lip4}/32 --trust ${ADDR.lip6}/128`);
    await lab.attachRealserver();
    for (const vip of [ADDR.vip4, ADDR.vip6]) {
      const plain = await ask(lab, vip, PLAIN_PORT);
      const b = plain.body;
      say(`   client ${client(plain).padEnd(28)} -> plain Node: socket.remoteAddress ${b.remoteAddress}, remotePort ${b.remotePort}`);
      const r = await ask(lab, vip);
      say(`   client ${client(r).padEnd(28)} -> Express:    ${seen(r)}`);
    }
    // No NAT64 gateway in the lab: a NAT64 director's segment (IPv4, from the LIP, carrying a v6 TOA) is crafted.
    ensureCraft();
    const nat64Client = '2001:db8:64::10';
    const n = await craft(lab, 'director', ADDR.rs4, PORT, { ackOpts: toaHex('v6', nat64Client, 41000), src: ADDR.lip4 });
    if (n.code !== 0 || typeof n.body !== 'object') throw new Error(`crafted NAT64 request failed: ${n.stderr || n.head}`);
    say(`   NAT64 client ${endpoint(nat64Client, 41000).padEnd(21)} -> Express:    ${seen({ body: n.body })}`);
    say(`   ${''.padEnd(35)} (a NAT64 director's segment: IPv4 from the LIP with a v6 TOA, crafted with test/tools/toa-craft)`);

    say();
    say(bold('4. SYNPROXY in front, then a spoofed SYN flood:') + ' nft synproxy on the VIPs; toa-bpf director attach ... --rs-dev rs0');
    await lab.setSynproxy({});
    await lab.attachWriter({ ports: [PORT, PLAIN_PORT], rsDev: true });
    // Flood sources: client-side addresses that answer nothing, like hosts that are not there.
    for (let i = 0; i < FLOOD_SOURCES; i++) await lab.execOk('client', ['ip', 'addr', 'add', `${extraClient4(i)}/32`, 'dev', 'eth0']);
    await lab.muteExtraClients(FLOOD_SOURCES);
    const sources = Array.from({ length: FLOOD_SOURCES }, (_, i) => ['--src', extraClient4(i)]).flat();
    const flood = lab.execOk('client', [join(REPO_ROOT, 'test/tools/build/synflood'), '--dst', ADDR.vip4, '--port', String(PORT), ...sources, '--count', '300000', '--seconds', '3'], { timeoutMs: 30_000 });
    await new Promise((r) => setTimeout(r, 300));
    const during: ClientResult[] = [];
    for (let i = 0; i < 10; i++) during.push(await ask(lab, ADDR.vip4));
    const halfOpen = (await lab.execOk('realserver', ['ss', '-Htn', 'state', 'syn-recv'])).trim().split('\n').filter(Boolean).length;
    const mid = await lab.writerStatus();
    const f = JSON.parse(await flood);
    say(`   synflood: ${f.sent} spoofed SYNs from ${FLOOD_SOURCES} addresses in ${f.seconds.toFixed(1)} s; meanwhile:`);
    for (const r of during.slice(0, 3)) say(`   client ${client(r).padEnd(28)} -> Express:    ${seen(r)}`);
    const named = during.filter((r) => r.body.peer.address.replace(/^::ffff:/, '') === r.localAddress && r.body.peer.port === r.localPort);
    say(`   ... ${during.length} of ${during.length} requests answered, ${named.length} naming their own client;`);
    say(`   real server: ${halfOpen} half-open sockets; writer: ${mid.flows.used + mid.rs.flows.used} flow entries (spoofed SYNs make none)`);

    say();
    say(bold('5. Counters'));
    const w = await lab.writerStatus();
    const rs = await lab.realserverStatus();
    const nonzero = (c: Record<string, number>): string =>
      Object.entries(c)
        .filter(([, v]) => v)
        .map(([k, v]) => `${k}=${v}`)
        .join(' ');
    say(`   toa-bpf director status:   ${nonzero(w.counters)}`);
    say(`   toa-bpf realserver status: ${nonzero(rs.counters)}`);
  } finally {
    await lab.destroy();
    say();
    say('Torn down: namespaces, cgroup and pinned state removed.');
  }
}

main().catch((e) => {
  process.stderr.write(`demo: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
