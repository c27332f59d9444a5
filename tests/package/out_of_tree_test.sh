#!/usr/bin/env bash
# Builds plugin-api/example out of tree against the *installed* SDK package and runs a
# job with it in the installed daemon.
#   out_of_tree_test.sh <ticketd build dir> <ticketd source dir> gcc|clang-libcxx
set -euo pipefail
build=$1 src=$2 variant=$3
work=$(mktemp -d)
pid=
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; [ -f "$work/daemon.log" ] && cat "$work/daemon.log" >&2; exit 1; }

# Staged under DESTDIR, as a package build does: the unit and /etc/ticketd have absolute
# destinations, which must not reach the machine's own (nor need root).
DESTDIR=$work/stage cmake --install "$build" --prefix /usr --component sdk >/dev/null
DESTDIR=$work/stage cmake --install "$build" --prefix /usr --component daemon >/dev/null
prefix=$work/stage/usr
[ -n "$(find "$prefix" -name ticketd-plugin-config-version.cmake)" ] || fail "package not installed"

args=(-G Ninja -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_BUILD_TYPE=Release)
if [ "$variant" = clang-libcxx ]; then
    args+=(-DCMAKE_CXX_COMPILER=clang++ -DCMAKE_CXX_FLAGS=-stdlib=libc++ -DCMAKE_MODULE_LINKER_FLAGS=-stdlib=libc++)
fi
cmake -S "$src/plugin-api/example" -B "$work/build" "${args[@]}" >"$work/configure.log" 2>&1 || { cat "$work/configure.log"; fail "configure"; }
cmake --build "$work/build" >"$work/build.log" 2>&1 || { cat "$work/build.log"; fail "build"; }
so="$work/build/greeter.so"
if [ "$variant" = clang-libcxx ]; then
    readelf -d "$so" | grep -q 'NEEDED.*libc++' || fail "greeter.so does not link libc++"
fi

"$prefix/bin/ticketd" --check-plugin "$so" --settings 'salutation: Howdy' | grep -q 'create({"salutation":"Howdy"}): OK' \
    || fail "--check-plugin"

mkdir -p "$work/etc/jobs.d"
cat >"$work/etc/ticketd.yaml" <<YAML
server:
  listen: 127.0.0.1:0
state_dir: state
jobs_dir: jobs.d
plugin_dir: $work/build
YAML
printf 'type: greet\nplugin: greeter.so\nsettings:\n  salutation: Howdy\n' >"$work/etc/jobs.d/greet.yaml"
"$prefix/bin/ticketd" --config "$work/etc/ticketd.yaml" --port-file "$work/port" 2>"$work/daemon.log" &
pid=$!
for _ in $(seq 1200); do [ -s "$work/port" ] && break; sleep 0.05; done
[ -s "$work/port" ] || fail "daemon did not start"
url="http://127.0.0.1:$(cat "$work/port")"

bad=$(curl -s -o /dev/null -w '%{http_code}' -X POST "$url/v1/jobs" -H 'Content-Type: application/json' \
    -d '{"type": "greet", "input": {"name": "R2-D2"}}')
[ "$bad" = 400 ] || fail "input failing the plugin's schema gave $bad, not 400"

doc=$(curl -s -X POST "$url/v1/jobs" -H 'Content-Type: application/json' -H 'Prefer: wait=30' \
    -d '{"type": "greet", "input": {"name": "Ada"}}')
echo "$doc" | grep -q '"status":"succeeded"' || fail "job did not succeed: $doc"
id=$(echo "$doc" | sed -E 's/.*"id":"([0-9a-f]{32})".*/\1/')
result=$(curl -s "$url/v1/jobs/$id/result")
[ "$result" = "Howdy, Ada!" ] || fail "unexpected result: $result"

# Its declared file: a plain-text signature is read; an image is refused at submit.
upload() { curl -s -X POST "$url/v1/uploads" -H "Content-Type: $1" --data-binary "$2" | sed -E 's/.*"id":"([0-9a-f]{32})".*/\1/'; }
sig=$(upload text/plain 'Yours, ticketd')
doc=$(curl -s -X POST "$url/v1/jobs" -H 'Content-Type: application/json' -H 'Prefer: wait=30' \
    -d "{\"type\": \"greet\", \"input\": {\"name\": \"Ada\"}, \"files\": {\"signature\": \"$sig\"}}")
id=$(echo "$doc" | sed -E 's/.*"id":"([0-9a-f]{32})".*/\1/')
signed=$(curl -s "$url/v1/jobs/$id/result")
[ "$signed" = "Howdy, Ada!
Yours, ticketd" ] || fail "unexpected signed result: $signed"
png=$(upload image/png 'not really a png')
bad=$(curl -s -X POST "$url/v1/jobs" -H 'Content-Type: application/json' \
    -d "{\"type\": \"greet\", \"input\": {\"name\": \"Ada\"}, \"files\": {\"signature\": \"$png\"}}")
echo "$bad" | grep -q '"pointer":"/files/signature"' || fail "an image as the signature was not refused: $bad"
echo "$variant: out-of-tree greeter.so built against the installed SDK ran a job: $result"
echo "1 passed, 0 failed"
