#!/usr/bin/env bash
# Renders the docs' diagrams (docs/architecture/*.dot -> .svg) with Graphviz; the folder
# graph's .dot is generated first from daemon/'s #include lines (scripts/check-layers.py),
# so that it shows the code as it is. With --check, renders into a temporary directory and
# fails when a committed file differs (the suite runs that: see tests/CMakeLists.txt).
#   usage: render-diagrams.sh [--check]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
docs="$root/docs/architecture"
out="$docs"
if [ "${1:-}" = --check ]; then
    out=$(mktemp -d)
    trap 'rm -rf "$out"' EXIT
    cp "$docs"/daemon.dot "$out"/
fi
python3 "$root/scripts/check-layers.py" --dot "$root/daemon" > "$out/folders.dot"
for name in daemon folders; do
    dot -Tsvg "$out/$name.dot" > "$out/$name.svg.tmp"
    mv "$out/$name.svg.tmp" "$out/$name.svg"
done
if [ "${1:-}" = --check ]; then
    status=0
    for f in folders.dot daemon.svg folders.svg; do
        if ! cmp -s "$out/$f" "$docs/$f"; then
            echo "render-diagrams: docs/architecture/$f is not current; fix: run scripts/render-diagrams.sh and commit" >&2
            status=1
        fi
    done
    exit $status
fi
