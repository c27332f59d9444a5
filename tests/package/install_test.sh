#!/usr/bin/env bash
# `cmake --install` lays out the FHS and never overwrites an operator's configuration;
# the installed configuration loads the installed plugins; the .deb has the files,
# dependencies (from dpkg-shlibdeps), conffiles and maintainer scripts.
#   install_test.sh <ticketd build dir>
set -euo pipefail
build=$1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

root=$work/root
DESTDIR=$root cmake --install "$build" --prefix /usr >"$work/install.log"
for f in usr/bin/ticketd etc/ticketd/ticketd.yaml etc/ticketd/jobs.d/import.yaml etc/ticketd/jobs.d/report.yaml \
         etc/ticketd/jobs.d/transcode.yaml etc/ticketd/jobs.d/hello.yaml \
         usr/lib/ticketd/plugins/import.so usr/lib/ticketd/plugins/report.so usr/lib/ticketd/plugins/transcode.so \
         usr/lib/ticketd/plugins/hello.so usr/include/ticketd/plugin.h usr/include/ticketd/plugin.hpp; do
    [ -e "$root/$f" ] || fail "not installed: /$f"
done
unit=$(find "$root" -name ticketd.service)
case "$unit" in
    "$root"/lib/systemd/system/ticketd.service|"$root"/usr/lib/systemd/system/ticketd.service) ;;
    *) fail "the unit is not in the systemd unit directory: ${unit:-missing}" ;;
esac
grep -q '^ExecStart=/usr/bin/ticketd --config /etc/ticketd/ticketd.yaml$' "$unit" || fail "ExecStart does not match the layout"
grep -q '^plugin_dir: /usr/lib/ticketd/plugins' "$root/etc/ticketd/ticketd.yaml" || fail "plugin_dir does not match the layout"
if find "$root" -path '*fixture*' -o -path '*broken*' | grep -q .; then fail "test fixtures were installed"; fi

# An operator's edits survive a reinstall.
echo "# edited by the operator" >>"$root/etc/ticketd/ticketd.yaml"
DESTDIR=$root cmake --install "$build" --prefix /usr >"$work/install2.log"
grep -q "edited by the operator" "$root/etc/ticketd/ticketd.yaml" || fail "the configuration was overwritten"
grep -q "Keeping: .*ticketd.yaml" "$work/install2.log" || fail "no 'Keeping' line"

# The installed configuration, pointed at the installed plugins, loads every job type.
sed -e "s|/usr/lib/ticketd/plugins|$root/usr/lib/ticketd/plugins|" -e "s|/var/lib/ticketd|$work/state|" \
    "$root/etc/ticketd/ticketd.yaml" >"$root/etc/ticketd/check.yaml"
"$root/usr/bin/ticketd" --check-config --config "$root/etc/ticketd/check.yaml" >"$work/check.log" 2>&1 ||
    { cat "$work/check.log" >&2; fail "the installed configuration does not load"; }
for t in hello import report transcode; do grep -q "job type $t:" "$work/check.log" || fail "job type $t missing"; done

# The Debian package (dpkg-dev and file come with scripts/install-deps.sh).
for tool in dpkg-deb dpkg-shlibdeps file; do
    command -v $tool >/dev/null || fail "$tool is missing: scripts/install-deps.sh installs it"
done
(cd "$build" && cpack -B "$work/pkg" >"$work/cpack.log" 2>&1) || { cat "$work/cpack.log" >&2; fail "cpack failed"; }
if grep -q "not available" "$work/cpack.log"; then cat "$work/cpack.log" >&2; fail "cpack lacked a tool"; fi
deb=$(ls "$work"/pkg/ticketd_*.deb) || fail "no ticketd .deb"
ls "$work"/pkg/ticketd-dev_*.deb >/dev/null || fail "no ticketd-dev .deb"
info=$(dpkg-deb -I "$deb")
for dep in libsqlite3-0 libyaml-cpp0.7 libssl3 procps; do
    grep -q "Depends:.*$dep" <<<"$info" || fail "Depends lacks $dep: $info"
done
grep -q "Recommends: ffmpeg" <<<"$info" || fail "no Recommends: ffmpeg"
dpkg-deb -e "$deb" "$work/control"
for f in postinst prerm postrm conffiles; do [ -f "$work/control/$f" ] || fail "no $f in the package"; done
grep -qx /etc/ticketd/ticketd.yaml "$work/control/conffiles" || fail "ticketd.yaml is not a conffile"
grep -q "deb-systemd-helper enable ticketd.service" "$work/control/postinst" || fail "postinst does not enable"
contents=$(dpkg-deb -c "$deb")
for f in ./usr/bin/ticketd ./usr/lib/ticketd/plugins/transcode.so ./etc/ticketd/jobs.d/report.yaml; do
    grep -q " $f\$" <<<"$contents" || fail "$f not in the package"
done
grep -q "include/ticketd" <<<"$contents" && fail "the SDK belongs in ticketd-dev"
echo "install layout OK"
