#!/usr/bin/env bash
# Installs ticketd's build and test dependencies from Debian 12 packages.
# Idempotent: installs only what is missing; uses sudo only when not root.
set -euo pipefail

# Everything the build, the tests and the packaging call, named here even when another
# package would bring it as a Recommends: it is installed with --no-install-recommends, and
# a minimal Debian 12 (debootstrap --variant=minbase) has none of them. `make fresh-test`
# checks that on such a root.
#   file: dpkg-shlibdeps (cpack's Depends) · systemd: systemd-analyze (the unit check)
#   ca-certificates: git and curl over https · graphviz: dot, the docs' diagrams (checked current)
#   openssl: the TLS tests make their CA and certificates with it
packages=(
    build-essential dpkg-dev file cmake ninja-build ccache pkg-config git ca-certificates
    libboost1.81-dev libboost-filesystem1.81-dev libboost-program-options1.81-dev
    libyaml-cpp-dev nlohmann-json3-dev prometheus-cpp-dev libsqlite3-dev sqlite3 libhowardhinnant-date-dev
    libgtest-dev libgmock-dev libssl-dev zlib1g-dev libjemalloc-dev json-schema-test-suite
    curl python3 openssl clang libc++-dev libc++abi-dev binutils ffmpeg systemd graphviz
)

# --with-promtool: also Debian's prometheus package, for promtool (CI's monitoring check).
# It installs a Prometheus server as well, so it is not part of the default set.
# --with-systemd-test: systemd-nspawn and debootstrap, for `make systemd-test` (boots the
# packaged unit under a real systemd in a container).
# --with-stress: stress-ng, for `make test-loaded` (the suite while every core is busy).
# --with-bench: wrk (load generator) and nginx-light (the baseline), for `make bench`.
# --with-celery: Redis and Celery, for `make bench-celery` (ticketd against Celery). Debian's
# redis-server package also enables a Redis service on port 6379; the bench starts its own.
for option in "$@"; do
    case "$option" in
        --with-promtool) packages+=(prometheus) ;;
        --with-systemd-test) packages+=(systemd-container debootstrap) ;;
        --with-stress) packages+=(stress-ng) ;;
        --with-bench) packages+=(wrk nginx-light) ;;
        --with-celery) packages+=(redis-server python3-celery python3-redis) ;;
        *) echo "install-deps: unknown option $option" >&2; exit 2 ;;
    esac
done

missing=()
for p in "${packages[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$p")
    fi
done

if [ ${#missing[@]} -eq 0 ]; then
    exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    SUDO="sudo"
fi

echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
