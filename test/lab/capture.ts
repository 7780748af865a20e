/** Packet capture on a lab interface: tcpdump writes a pcap, stop() returns the TCP segments. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readPcap, type TcpSegment } from './pcap.js';
import { inNetns, Proc } from './run.js';

export class Capture {
  private readonly dir: string;
  private readonly file: string;
  private readonly proc: Proc;

  private constructor(ns: string, iface: string, filter: string, snaplen: number) {
    this.dir = mkdtempSync(join(tmpdir(), 'toa-cap-'));
    this.file = join(this.dir, 'cap.pcap');
    // -U: write each packet at once, so stop() loses nothing; --immediate-mode: no buffering in libpcap.
    const argv = ['tcpdump', '-i', iface, '-n', '-U', '--immediate-mode', '-s', String(snaplen), '-w', this.file];
    if (filter) argv.push(...filter.split(' '));
    this.proc = new Proc(inNetns(ns, argv));
  }

  /** Starts tcpdump in the namespace and resolves once it is listening. */
  static async start(ns: string, iface: string, filter = 'tcp', snaplen = 0): Promise<Capture> {
    const c = new Capture(ns, iface, filter, snaplen);
    await c.proc.waitFor(/listening on/);
    return c;
  }

  /** Stops tcpdump (after the packets in flight are written) and parses what it caught. */
  async stop(): Promise<TcpSegment[]> {
    await new Promise((r) => setTimeout(r, 100));
    await this.proc.stop('SIGINT');
    try {
      return readPcap(this.file);
    } finally {
      rmSync(this.dir, { recursive: true, force: true });
    }
  }

  /** Stops and discards (for teardown). */
  async abort(): Promise<void> {
    await this.proc.stop('SIGKILL');
    rmSync(this.dir, { recursive: true, force: true });
  }
}
