#!/bin/sh
# The real-server agent's entrypoint (Containerfile, kubernetes/): attaches
# toa-bpf's real-server programs to the host's cgroup2 hierarchy, then
# re-attaches in place whenever the configuration changes (a ConfigMap
# update), checking every TOA_RECHECK_SECONDS.
#
# The attachment lives in the kernel, pinned on the host's bpffs: it outlives
# this container, so a restart or a rolling update never leaves a gap. It is
# not detached when the container stops; remove it with
# `toa-bpf realserver detach` on the host (or a Job with the same mounts).
set -eu

conf=${TOA_CONFIG:-/etc/toa/realserver.conf}
every=${TOA_RECHECK_SECONDS:-30}

trap 'exit 0' TERM INT

toa-bpf realserver attach --config "$conf"
last=$(cksum < "$conf")
while :; do
	sleep "$every" &
	wait $! || true
	now=$(cksum < "$conf" || true)
	[ "$now" = "$last" ] && continue
	if toa-bpf realserver attach --config "$conf"; then
		last=$now
	else
		echo "agent: $conf changed but does not attach; the previous attachment stays" >&2
	fi
done
