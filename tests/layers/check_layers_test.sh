#!/usr/bin/env bash
# scripts/check-layers.py on daemon/ (no include cycle between its folders), and on a
# small tree with a cycle, which it must refuse naming the cycle and the #include lines.
set -euo pipefail
source_dir=$1
check="$source_dir/scripts/check-layers.py"
python3 "$check" "$source_dir/daemon"

tree=$(mktemp -d)
trap 'rm -rf "$tree"' EXIT
mkdir -p "$tree/daemon/a" "$tree/daemon/b" "$tree/daemon/c"
printf '#include "b/b.hpp"\n' > "$tree/daemon/a/a.hpp"
printf '#include "c/c.hpp"\n' > "$tree/daemon/b/b.hpp"
printf '#include <string>\n#include "a/a.hpp"\n' > "$tree/daemon/c/c.cpp"
if python3 "$check" "$tree/daemon" 2> "$tree/err"; then
    echo "FAIL: a -> b -> c -> a was not reported" >&2
    exit 1
fi
grep -q "a -> b -> c -> a" "$tree/err" || { echo "FAIL: the cycle is not named:"; cat "$tree/err"; exit 1; } >&2
grep -q 'daemon/c/c.cpp:2: #include "a/a.hpp"' "$tree/err" ||
    { echo "FAIL: the closing #include is not named:"; cat "$tree/err"; exit 1; } >&2
rm "$tree/daemon/c/c.cpp"
python3 "$check" "$tree/daemon" > /dev/null

# A long file must say why at its top.
for i in $(seq 1 430); do echo "int f$i();"; done > "$tree/daemon/a/long.cpp"
if python3 "$check" "$tree/daemon" 2> "$tree/err"; then
    echo "FAIL: a 430-line file without a reason was not reported" >&2
    exit 1
fi
grep -q "daemon/a/long.cpp has 430 lines" "$tree/err" || { echo "FAIL: not named:"; cat "$tree/err"; exit 1; } >&2
{ echo "// One state machine (about 430 lines) because it shares its state."; cat "$tree/daemon/a/long.cpp"; } \
    > "$tree/long" && mv "$tree/long" "$tree/daemon/a/long.cpp"
python3 "$check" "$tree/daemon" > /dev/null
echo "check-layers: OK"
