#!/bin/sh
# FullNAT with stock IPVS and keepalived, TOA written by toa-bpf.
#   CLIENT_DEV=eth0 ./director.sh [keepalived options...]
# The LIPs (192.0.2.1-4, 2001:db8:200::1-4) must be addresses of the director
# on the real servers' link; the real servers trust exactly those (192.0.2.1/32,
# 192.0.2.2/31, 192.0.2.4/32 and 2001:db8:200::1/128, ::2/127, ::4/128).
set -eu
here=$(dirname "$0")
dev=${CLIENT_DEV:-eth0}

# IPVS hands its connections to conntrack, so the SNAT below applies to them.
sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1 net.ipv4.vs.conntrack=1
# No source routes: a packet to another local address could name the VIP next.
sysctl -qw net.ipv4.conf.all.accept_source_route=0 net.ipv4.conf.default.accept_source_route=0
nft -f "$here/lip-snat.nft"
# IPVS takes VIP packets from any device; the writer strips client-made TOA only on $dev.
# The guard sits at input, after routing and before IPVS (priority 98): a source route
# through a local address has become VIP-bound by then, while prerouting saw the address.
nft -f - <<EOF
table inet toa_vip_guard {}
delete table inet toa_vip_guard
table inet toa_vip_guard {
    chain in {
        type filter hook input priority filter;
        iifname != "$dev" ip daddr 198.51.100.100 drop
        iifname != "$dev" ip6 daddr 2001:db8:100::100 drop
    }
}
EOF
# The writer sees client -> VIP before IPVS (tc ingress) and VIP -> client after it (tc egress).
toa-bpf director attach --dev "$dev" --vip 198.51.100.100:80 --vip '[2001:db8:100::100]:80'
exec keepalived --use-file "$here/keepalived.conf" "$@"
