#!/usr/bin/python3
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""
toa-shape: one HTTP request per case whose handshake ACK and request segment
carry option bytes you choose, sent in a packet shape no ordinary stack
uses: IP fragments, IPv6 extension headers, VLAN tags. For testing that the
director's writer lets no client-chosen TOA through, whatever the shape.

    toa-shape.py --iface eth0 --gw-mac MAC --dst ADDR --dport PORT \
                 --opts HEX CASE [CASE ...]

It sends Ethernet frames itself (scapy), so the local kernel knows nothing of
these connections: an nftables table (toa_shape_PID) drops the RSTs it would
send, and goes on exit. The SYN is always plain; the ACK and the request
take the case's shape. Cases:

    plain           no special shape
    frag8           IPv4: fragments of 8 bytes; IPv6: Fragment headers, 8 bytes each
    frag-first      IPv4 only: a first fragment (MF) holding the TCP header, the rest in a second
    atomic          IPv6 only: one Fragment header, offset 0, no more fragments
    hbh, dst, rt    IPv6: a Hop-by-Hop, Destination Options or Routing (type 0, no
                    segments left) header before TCP
    hbh-dst-rt      IPv6: all three
    rt-left         IPv6: a Routing header with one segment left, the destination in it
    lsrr            IPv4: a loose source route option holding the destination
    lsrr-frag       IPv4: lsrr, in fragments of 8 bytes (each carries the option)
    frag-rt-left    IPv6: rt-left behind a Fragment header (offset 0, no more)
    chain-rt-left   IPv6: rt-left behind eight Destination Options headers
                    (with --hop ADDR, the source-routed cases send the ACK and the
                    request to ADDR, with the destination as the route's next address)
    ah              an Authentication Header before TCP (both families)
    chain9          IPv6: nine Destination Options headers
    vlan1 .. vlan4  one to four priority tags (802.1Q, VLAN 0): Linux
                    takes every one of them off and hands the packet to IP, no
                    VLAN device needed

Prints one JSON object per case, one a line, in order:
    {"case": ..., "sport": N, "synack": bool, "response": TEXT, "rst": bool}
Exit 0 when every case ran (whatever its answer), 1 on a system error, 2 on
a usage error. Needs root in the sending namespace.
"""
import argparse
import json
import os
import random
import socket
import struct
import subprocess
import sys
import time

from scapy.all import conf  # noqa: E402

conf.verb = 0
from scapy.layers.inet import IP, TCP, IPOption_LSRR  # noqa: E402
from scapy.layers.inet6 import IPv6, IPv6ExtHdrDestOpt, IPv6ExtHdrFragment, IPv6ExtHdrHopByHop, IPv6ExtHdrRouting  # noqa: E402
from scapy.layers.ipsec import AH  # noqa: E402
from scapy.layers.l2 import Dot1Q, Ether  # noqa: E402
from scapy.packet import Raw  # noqa: E402
from scapy.sendrecv import AsyncSniffer, sendp  # noqa: E402

CASES = ['plain', 'frag8', 'frag-first', 'atomic', 'hbh', 'dst', 'rt', 'hbh-dst-rt', 'rt-left', 'lsrr', 'lsrr-frag', 'frag-rt-left',
         'chain-rt-left', 'ah', 'chain9',
         'vlan1', 'vlan2', 'vlan3', 'vlan4']


def csum(data: bytes) -> int:
    if len(data) % 2:
        data += b'\0'
    s = sum(struct.unpack(f'!{len(data) // 2}H', data))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff


def tcp_bytes(src, dst, v6, sport, dport, seq, ack, flags, opts: bytes, payload: bytes) -> bytes:
    """A TCP segment with its checksum (pseudo header of src and the final dst)."""
    if len(opts) % 4:
        opts = b'\x01' * (4 - len(opts) % 4) + opts  # NOPs in front: the bytes keep their meaning at the end
    doff = (20 + len(opts)) // 4
    hdr = struct.pack('!HHIIBBHHH', sport, dport, seq, ack, doff << 4, flags, 64240, 0, 0) + opts
    seg = hdr + payload
    fam = socket.AF_INET6 if v6 else socket.AF_INET
    a, b = socket.inet_pton(fam, src), socket.inet_pton(fam, dst)
    pseudo = a + b + (struct.pack('!IxxxB', len(seg), 6) if v6 else struct.pack('!xBH', 6, len(seg)))
    c = csum(pseudo + seg)
    return seg[:16] + struct.pack('!H', c) + seg[18:]


def shaped(case, src, dst, v6, seg: bytes, l2, hop=None):
    """The frames that carry seg in the case's shape (source-routed ones through hop, if given)."""
    ident = random.randint(1, 0xffff)
    if case in ('lsrr', 'lsrr-frag'):
        if v6:
            raise SystemExit(f'toa-shape: {case} is an IPv4 case')
        # The route's next address is dst: the kernel sends the packet on to it (accept_source_route).
        def routed(**kw):
            return l2 / IP(src=src, dst=hop or dst, proto=6, options=[IPOption_LSRR(routers=[dst], pointer=4)], **kw)
        if case == 'lsrr':
            return [routed() / Raw(seg)]
        # LSRR is a copied option: every fragment carries it, as a router fragmenting it would.
        return [routed(id=ident, flags='MF' if off + 8 < len(seg) else 0, frag=off // 8) / Raw(seg[off:off + 8])
                for off in range(0, len(seg), 8)]
    if case == 'plain' or case.startswith('vlan'):
        tags = int(case[4:]) if case.startswith('vlan') else 0
        frame = l2
        for _ in range(tags):
            frame = frame / Dot1Q(vlan=0)
        ip = IPv6(src=src, dst=dst, nh=6) if v6 else IP(src=src, dst=dst, proto=6)
        return [frame / ip / Raw(seg)]
    if case in ('frag8', 'frag-first', 'atomic'):
        if case == 'atomic':
            if not v6:
                raise SystemExit('toa-shape: atomic is an IPv6 case')
            return [l2 / IPv6(src=src, dst=dst) / IPv6ExtHdrFragment(nh=6, offset=0, m=0, id=ident) / Raw(seg)]
        if case == 'frag-first':
            if v6:
                raise SystemExit('toa-shape: frag-first is an IPv4 case')
            cut = 24  # the fixed TCP header and the first option word in the first fragment
            return [l2 / IP(src=src, dst=dst, proto=6, id=ident, flags='MF', frag=0) / Raw(seg[:cut]),
                    l2 / IP(src=src, dst=dst, proto=6, id=ident, frag=cut // 8) / Raw(seg[cut:])]
        out = []
        for off in range(0, len(seg), 8):
            more = off + 8 < len(seg)
            if v6:
                out.append(l2 / IPv6(src=src, dst=dst) / IPv6ExtHdrFragment(nh=6, offset=off // 8, m=int(more), id=ident) /
                           Raw(seg[off:off + 8]))
            else:
                out.append(l2 / IP(src=src, dst=dst, proto=6, id=ident, flags='MF' if more else 0, frag=off // 8) /
                           Raw(seg[off:off + 8]))
        return out
    if case == 'ah':
        # An AH whose ICV no one checks: what matters is whether the writer lets it by.
        ah = AH(nh=6, spi=0x100, seq=1, icv=b'\0' * 12)
        ip = IPv6(src=src, dst=dst) if v6 else IP(src=src, dst=dst)
        return [l2 / ip / ah / Raw(seg)]
    if not v6:
        raise SystemExit(f'toa-shape: {case} is an IPv6 case')
    hdrs = {
        'hbh': [IPv6ExtHdrHopByHop()],
        'dst': [IPv6ExtHdrDestOpt()],
        'rt': [IPv6ExtHdrRouting(type=0, segleft=0, addresses=[])],
        'hbh-dst-rt': [IPv6ExtHdrHopByHop(), IPv6ExtHdrDestOpt(), IPv6ExtHdrRouting(type=0, segleft=0, addresses=[])],
        'rt-left': [IPv6ExtHdrRouting(type=0, segleft=1, addresses=[dst])],
        'frag-rt-left': [IPv6ExtHdrFragment(offset=0, m=0, id=ident), IPv6ExtHdrRouting(type=0, segleft=1, addresses=[dst])],
        'chain-rt-left': [IPv6ExtHdrDestOpt() for _ in range(8)] + [IPv6ExtHdrRouting(type=0, segleft=1, addresses=[dst])],
        'chain9': [IPv6ExtHdrDestOpt() for _ in range(9)],
    }.get(case)
    if hdrs is None:
        raise SystemExit(f'toa-shape: unknown case {case} ({", ".join(CASES)})')
    hdrs[-1].nh = 6  # before stacking: `/` copies the layers
    pkt = IPv6(src=src, dst=hop if hop and case.endswith('rt-left') else dst)
    for h in hdrs:
        pkt = pkt / h
    return [l2 / pkt / Raw(seg)]


def run_case(a, case, src, v6, sport):
    l2 = Ether(dst=a.gw_mac)
    mine = f'tcp and src port {a.dport} and dst port {sport}'
    seen = []  # filled as packets arrive (AsyncSniffer.results only appears at stop())
    sniff = AsyncSniffer(iface=a.iface, filter=mine, store=False, prn=seen.append)
    sniff.start()
    time.sleep(0.3)
    isn = random.randint(0, 0xffffffff)
    ip = IPv6(src=src, dst=a.dst, nh=6) if v6 else IP(src=src, dst=a.dst, proto=6)
    syn = tcp_bytes(src, a.dst, v6, sport, a.dport, isn, 0, 0x02, bytes.fromhex('020405b4'), b'')
    sendp(l2 / ip / Raw(syn), iface=a.iface)
    res = {'case': case, 'sport': sport, 'synack': False, 'response': '', 'rst': False}

    def segs():
        for p in list(seen):
            t = p.getlayer(TCP)
            if t is not None:
                yield t

    deadline = time.time() + a.timeout / 1000
    synack = None
    while time.time() < deadline and synack is None:
        synack = next((t for t in segs() if t.flags.S and t.flags.A and t.ack == (isn + 1) & 0xffffffff), None)
        time.sleep(0.05)
    if synack is None:
        sniff.stop()
        return res
    res['synack'] = True
    sseq = (synack.seq + 1) & 0xffffffff
    opts = bytes.fromhex(a.opts)
    req = f'GET {a.path} HTTP/1.0\r\nHost: toa-shape\r\n\r\n'.encode()
    ack = tcp_bytes(src, a.dst, v6, sport, a.dport, (isn + 1) & 0xffffffff, sseq, 0x10, opts, b'')
    data = tcp_bytes(src, a.dst, v6, sport, a.dport, (isn + 1) & 0xffffffff, sseq, 0x18, opts, req)
    for seg in (ack, data):
        sendp(shaped(case, src, a.dst, v6, seg, l2, a.hop), iface=a.iface)
    deadline = time.time() + a.timeout / 1000
    got = {}
    while time.time() < deadline:
        for t in segs():
            if t.flags.R:
                res['rst'] = True
            body = bytes(t.payload)
            if body:
                got[t.seq] = body
        if res['rst'] or any(t.flags.F for t in segs()):
            break
        time.sleep(0.05)
    sniff.stop()
    res['response'] = b''.join(got[k] for k in sorted(got)).decode('latin-1')
    # Close our side: a RST after the request, so nothing lingers on the server.
    rst = tcp_bytes(src, a.dst, v6, sport, a.dport, (isn + 1 + len(req)) & 0xffffffff, 0, 0x04, b'', b'')
    sendp(l2 / ip / Raw(rst), iface=a.iface)
    return res


def main():
    p = argparse.ArgumentParser(description='HTTP requests in unusual packet shapes (see the file header).')
    p.add_argument('--iface', required=True)
    p.add_argument('--gw-mac', required=True, help="the next hop's MAC address")
    p.add_argument('--src', required=True)
    p.add_argument('--dst', required=True)
    p.add_argument('--dport', type=int, default=80)
    p.add_argument('--opts', default='', help='option bytes in hex for the ACK and the request')
    p.add_argument('--path', default='/')
    p.add_argument('--hop', help='the source-routed cases: send to this address, the destination next in the route')
    p.add_argument('--timeout', type=int, default=3000, help='per step, in milliseconds')
    p.add_argument('cases', nargs='+', choices=CASES)
    a = p.parse_args()
    v6 = ':' in a.dst
    table = f'toa_shape_{os.getpid()}'
    ports = [random.randint(33000, 60000) for _ in a.cases]
    rule = (f'table inet {table} {{\n chain out {{\n  type filter hook output priority 0;\n'
            f'  tcp sport {{ {", ".join(map(str, ports))} }} tcp flags rst drop\n }}\n}}\n')
    subprocess.run(['nft', '-f', '-'], input=rule.encode(), check=True)
    try:
        for case, sport in zip(a.cases, ports):
            print(json.dumps(run_case(a, case, a.src, v6, sport)), flush=True)
    finally:
        subprocess.run(['nft', 'delete', 'table', 'inet', table], check=False)


if __name__ == '__main__':
    try:
        main()
    except OSError as e:
        print(f'toa-shape: {e}', file=sys.stderr)
        sys.exit(1)
