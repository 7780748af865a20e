#!/usr/bin/python3
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""
routed-syn: one SYN to DST:PORT, source-routed through HOP (IPv4: a loose
source route option; IPv6: a Segment Routing header, one segment left), and
whether anything answered it. For testing that a director hands no VIP a
connection that came in on a device its TOA writer does not watch. Without
--hop, a plain SYN (no option, no extension header) to DST.

    routed-syn.py --iface eth0 --gw-mac MAC --src ADDR [--hop ADDR] --dst ADDR [--dport 80]

Prints {"sport": N, "answered": bool, "flags": "SA" | "R" | ""}: answered is
any TCP segment from DST:PORT to the SYN's port within --timeout. Exit 0
when the SYN was sent (whatever the answer), 1 on a system error, 2 on a
usage error. Needs root.
"""
import argparse
import json
import random
import sys
import threading
import time

from scapy.all import conf  # noqa: E402

conf.verb = 0
from scapy.layers.inet import IP, TCP, IPOption_LSRR  # noqa: E402
from scapy.layers.inet6 import IPv6, IPv6ExtHdrSegmentRouting  # noqa: E402
from scapy.layers.l2 import Ether  # noqa: E402
from scapy.sendrecv import AsyncSniffer, sendp  # noqa: E402


def main():
    p = argparse.ArgumentParser(description='A source-routed SYN and whether it was answered (see the file header).')
    p.add_argument('--iface', required=True)
    p.add_argument('--gw-mac', required=True, help="the hop's MAC address")
    p.add_argument('--src', required=True)
    p.add_argument('--hop', help='the packet goes to this address first (default: no source route)')
    p.add_argument('--dst', required=True, help="the route's next and last address")
    p.add_argument('--dport', type=int, default=80)
    p.add_argument('--timeout', type=int, default=3000, help='milliseconds to wait for an answer')
    a = p.parse_args()
    v6 = ':' in a.dst
    if v6 != (':' in (a.hop or a.dst)) or v6 != (':' in a.src):
        p.error('--src, --hop and --dst must be of one family')
    sport = random.randint(33000, 60000)
    tcp = TCP(sport=sport, dport=a.dport, flags='S', seq=random.randint(0, 0xffffffff))
    if not a.hop:
        ip = IPv6(src=a.src, dst=a.dst) if v6 else IP(src=a.src, dst=a.dst)
    elif v6:
        # SRH segments are in reverse order: [final destination, ..., first hop].
        ip = IPv6(src=a.src, dst=a.hop) / IPv6ExtHdrSegmentRouting(addresses=[a.dst, a.hop], segleft=1, lastentry=1)
    else:
        ip = IP(src=a.src, dst=a.hop, options=[IPOption_LSRR(routers=[a.dst], pointer=4)])
    seen = []
    ready = threading.Event()
    # Sent only once the capture runs: a slow machine (an emulated guest) may take seconds to start it.
    sniff = AsyncSniffer(iface=a.iface, filter=f'tcp and src port {a.dport} and dst port {sport}', store=False,
                         prn=seen.append, started_callback=ready.set)
    sniff.start()
    if not ready.wait(30):
        raise SystemExit('routed-syn: the capture did not start within 30 s')
    sendp(Ether(dst=a.gw_mac) / ip / tcp, iface=a.iface)
    deadline = time.time() + a.timeout / 1000
    while time.time() < deadline and not seen:
        time.sleep(0.05)
    sniff.stop()
    flags = str(seen[0][TCP].flags) if seen else ''
    print(json.dumps({'sport': sport, 'answered': bool(seen), 'flags': flags}), flush=True)


if __name__ == '__main__':
    try:
        main()
    except OSError as e:
        print(f'routed-syn: {e}', file=sys.stderr)
        sys.exit(1)
