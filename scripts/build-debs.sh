#!/bin/sh
# Builds the Debian packages into dist/ (from the repository root):
#   toa-bpf   the static toa-bpf binary, its systemd units, example
#             configurations and a man page per subcommand
#   toa-dkms  toa.ko's source with include/toa/ and dkms.conf, built by DKMS
#             on install
# Usage: scripts/build-debs.sh [OUTDIR]   (default dist/; needs make, clang,
# bpftool, dpkg-deb; run as root or not: files are owned by root either way)
# Whoever publishes the packages names themselves and the project's home:
#   TOA_DEB_MAINTAINER="Name <mail>"  (default: a placeholder at example.org)
#   TOA_HOMEPAGE=URL                  (default: no Homepage field; there is no
#                                      public home to name yet)
set -eu

cd "$(dirname "$0")/.."
OUT=${1:-dist}
VERSION=$(sed -n 's/^VERSION := //p' kernel-module/Makefile)
ARCH=$(dpkg --print-architecture)
MAINT=${TOA_DEB_MAINTAINER:-"toa maintainers <toa@lists.example.org>"}
# The Homepage line of a control file: TOA_HOMEPAGE's, or none.
homepage() { # ROOT
	if [ -n "${TOA_HOMEPAGE:-}" ]; then
		sed -i "s|^Homepage: @HOMEPAGE@\$|Homepage: $TOA_HOMEPAGE|" "$1/DEBIAN/control"
	else
		sed -i '/^Homepage: @HOMEPAGE@$/d' "$1/DEBIAN/control"
	fi
}
STAGE=$(mktemp -d)
trap 'rm -rf "$STAGE"' EXIT
mkdir -p "$OUT"

make -s -C bpf STATIC=1 >/dev/null
BIN=bpf/build/toa-bpf

# A man page from a subcommand's --help: that text is the reference, so the
# page can never disagree with the binary.
manpage() { # NAME SUMMARY OUTFILE HELP-ARGS...
	name=$1 summary=$2 out=$3
	shift 3
	{
		printf '.TH %s 8 "" "toa %s" "System Administration"\n' "$(echo "$name" | tr a-z A-Z)" "$VERSION"
		printf '.SH NAME\n%s \\- %s\n.SH DESCRIPTION\n.nf\n' "$name" "$summary"
		"$BIN" "$@" | sed -e 's/\\/\\e/g' -e "s/^\\./\\\\\\&./" -e "s/^'/\\\\\\&'/"
		printf '.fi\n.SH SEE ALSO\n'
		printf '.BR toa-bpf (8), toa-bpf-director (8), toa-bpf-realserver (8), toa-bpf-doctor (8), toa-bpf-module (8)\n'
	} | gzip -9n > "$out"
}

doc_common() { # ROOT PKG
	install -d "$1/usr/share/doc/$2"
	install -m 0644 deploy/debian/copyright "$1/usr/share/doc/$2/copyright"
	printf '%s (%s) unstable; urgency=medium\n\n  * Built from the toa repository.\n\n -- %s  %s\n' \
		"$2" "$VERSION" "$MAINT" "$(date -R -d @"${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || date +%s)}")" |
		gzip -9n > "$1/usr/share/doc/$2/changelog.gz"
}

md5sums() { # ROOT
	(cd "$1" && find . -path ./DEBIAN -prune -o -type f -printf '%P\0' | sort -z | xargs -0 md5sum) > "$1/DEBIAN/md5sums"
}

scripts() { # ROOT PKG
	install -d "$1/DEBIAN"
	for s in postinst prerm postrm; do
		[ -f "deploy/debian/$2.$s" ] || continue
		sed "s/@VERSION@/$VERSION/g" "deploy/debian/$2.$s" > "$1/DEBIAN/$s"
		chmod 0755 "$1/DEBIAN/$s"
	done
}

# ---- toa-bpf ----
R=$STAGE/toa-bpf
install -D -m 0755 "$BIN" "$R/usr/sbin/toa-bpf"
strip --strip-unneeded --remove-section=.comment "$R/usr/sbin/toa-bpf"
for u in toa-director toa-realserver; do
	install -D -m 0644 "deploy/systemd/$u.service" "$R/lib/systemd/system/$u.service"
done
install -d "$R/usr/share/doc/toa-bpf/examples" "$R/usr/share/man/man8"
install -m 0644 deploy/etc/toa/director.conf deploy/etc/toa/realserver.conf "$R/usr/share/doc/toa-bpf/examples/"
install -D -m 0644 deploy/debian/toa-bpf.lintian-overrides "$R/usr/share/lintian/overrides/toa-bpf"
manpage toa-bpf "attach, inspect and detach the TOA eBPF programs" "$R/usr/share/man/man8/toa-bpf.8.gz" --help
manpage toa-bpf-director "insert TOA into client segments on an LVS FullNAT director" \
	"$R/usr/share/man/man8/toa-bpf-director.8.gz" director --help
manpage toa-bpf-realserver "give applications the client address carried in TOA" \
	"$R/usr/share/man/man8/toa-bpf-realserver.8.gz" realserver --help
manpage toa-bpf-doctor "name the broken link when an application sees the load balancer" \
	"$R/usr/share/man/man8/toa-bpf-doctor.8.gz" doctor --help
manpage toa-bpf-module "toa.ko's counters as text, JSON or Prometheus metrics" \
	"$R/usr/share/man/man8/toa-bpf-module.8.gz" module --help
doc_common "$R" toa-bpf
scripts "$R" toa-bpf
cat > "$R/DEBIAN/control" <<CONTROL
Package: toa-bpf
Version: $VERSION
Architecture: $ARCH
Maintainer: $MAINT
Installed-Size: $(du -sk "$R" | cut -f1)
Depends: init-system-helpers (>= 1.52)
Section: net
Priority: optional
Homepage: @HOMEPAGE@
Description: TOA for LVS FullNAT: director writer and real-server eBPF path
 toa-bpf attaches eBPF programs that carry a client's address through an LVS
 FullNAT load balancer in a TCP option (TOA): on the director it writes the
 option into client segments; on a real server (Linux 5.10 or later) it makes
 getpeername() return the client for every TCP server in a cgroup.
 .
 This package has one static binary, systemd units for both roles
 (configured under /etc/toa/), a doctor for broken setups and Prometheus
 metrics.
CONTROL
homepage "$R"
md5sums "$R"
dpkg-deb --root-owner-group -Zxz --build "$R" "$OUT/toa-bpf_${VERSION}_$ARCH.deb" >/dev/null

# ---- toa-dkms ----
R=$STAGE/toa-dkms
S=$R/usr/src/toa-$VERSION
install -d "$S/include/toa"
install -m 0644 kernel-module/Kbuild kernel-module/Makefile kernel-module/dkms.conf kernel-module/*.c kernel-module/*.h "$S/"
install -m 0644 include/toa/*.h "$S/include/toa/"
doc_common "$R" toa-dkms
scripts "$R" toa-dkms
cat > "$R/DEBIAN/control" <<CONTROL
Package: toa-dkms
Version: $VERSION
Architecture: all
Maintainer: $MAINT
Installed-Size: $(du -sk "$R" | cut -f1)
Depends: dkms
Section: kernel
Priority: optional
Homepage: @HOMEPAGE@
Description: TOA for LVS FullNAT: real-server kernel module (DKMS)
 toa.ko makes getpeername() return the client's address carried in a TCP
 option (TOA) by an LVS FullNAT director, on any Linux 5.4 or later kernel.
 .
 This package has the module's source; DKMS builds it for each installed
 kernel that has its headers.
CONTROL
homepage "$R"
md5sums "$R"
dpkg-deb --root-owner-group -Zxz --build "$R" "$OUT/toa-dkms_${VERSION}_all.deb" >/dev/null

echo "$OUT/toa-bpf_${VERSION}_$ARCH.deb"
echo "$OUT/toa-dkms_${VERSION}_all.deb"
