#!/usr/bin/env python3
"""Checks the shape of daemon/: the include graph between its folders, and its files' size.

Fails (exit 1) when the folders include each other in a cycle, naming the cycle and one
#include line per step of it, so that the dependencies between daemon/ folders run one
way; and when a file is longer than about 400 lines (MAX_LINES) without saying why in
its first lines (a comment that gives its length: "... (about 540 lines) because ..."). With --graph, prints the folder graph instead (one "a -> b" line per edge, with the
number of #include lines behind it); with --dot, the same as Graphviz text; with
--reach HEADER, which translation units include HEADER (say nlohmann/json.hpp),
directly or through the project's own headers.

    usage: check-layers.py [--graph | --dot | --reach HEADER] [daemon dir]
"""
import re
import sys
from pathlib import Path

INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"')
MAX_LINES = 420
REASON = re.compile(r"^\s*//.*\b\d+ lines\b")


def folder_of(path: Path, root: Path) -> str:
    rel = path.relative_to(root)
    return rel.parts[0] if len(rel.parts) > 1 else rel.name  # a file at daemon/'s top (main.cpp)


def edges_of(root: Path):
    """{(from, to): [(file, line number, included path)]} between different folders."""
    edges = {}
    for path in sorted(root.rglob("*")):
        if path.suffix not in (".hpp", ".cpp", ".h"):
            continue
        src = folder_of(path, root)
        for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
            m = INCLUDE.match(line)
            if not m or "/" not in m.group(1):
                continue
            dst = m.group(1).split("/")[0]
            if not (root / dst).is_dir() or dst == src:
                continue
            edges.setdefault((src, dst), []).append((path.relative_to(root.parent), number, m.group(1)))
    return edges


def long_files(root: Path):
    """(file, lines) of the files over MAX_LINES whose first 15 lines give no reason."""
    out = []
    for path in sorted(root.rglob("*")):
        if path.suffix not in (".hpp", ".cpp", ".h"):
            continue
        lines = path.read_text(errors="replace").splitlines()
        if len(lines) > MAX_LINES and not any(REASON.match(l) for l in lines[:15]):
            out.append((path.relative_to(root.parent), len(lines)))
    return out


def find_cycle(nodes, edges):
    """One cycle as a list of folders [a, b, ..., a], or None."""
    succ = {n: sorted(d for (s, d) in edges if s == n) for n in nodes}
    state = {}  # 1: on the stack, 2: done
    stack = []

    def visit(n):
        state[n] = 1
        stack.append(n)
        for m in succ[n]:
            if state.get(m) == 1:
                return stack[stack.index(m):] + [m]
            if m not in state:
                found = visit(m)
                if found:
                    return found
        stack.pop()
        state[n] = 2
        return None

    for n in sorted(nodes):
        if n not in state:
            found = visit(n)
            if found:
                return found
    return None


def reach(root: Path, header: str):
    """The .cpp files under root whose include closure (through root's headers) has header."""
    includes = {}
    for path in root.rglob("*"):
        if path.suffix in (".hpp", ".cpp", ".h"):
            found = [INCLUDE.match(l) or re.match(r'^\s*#\s*include\s+<([^>]+)>', l)
                     for l in path.read_text(errors="replace").splitlines()]
            includes[path] = [m.group(1) for m in found if m]
    memo = {}

    def has(path):
        if path not in memo:
            memo[path] = False
            memo[path] = any(inc == header or ((root / inc).is_file() and has(root / inc))
                             for inc in includes.get(path, []))
        return memo[path]

    units = sorted(p for p in includes if p.suffix == ".cpp")
    return [p.relative_to(root) for p in units if has(p)], len(units)


def main(argv):
    mode = argv[1] if len(argv) > 1 and argv[1].startswith("--") else None
    if mode == "--reach":
        root = Path(argv[3] if len(argv) > 3 else Path(__file__).resolve().parent.parent / "daemon").resolve()
        units, total = reach(root, argv[2])
        print(f"{argv[2]}: {len(units)} of {total} translation units")
        for u in units:
            print(f"  {u}")
        return 0
    rest = argv[2:] if mode else argv[1:]
    root = Path(rest[0] if rest else Path(__file__).resolve().parent.parent / "daemon").resolve()
    edges = edges_of(root)
    nodes = {n for e in edges for n in e}
    if mode == "--graph":
        for (s, d), lines in sorted(edges.items()):
            print(f"{s} -> {d}  ({len(lines)})")
        return 0
    if mode == "--dot":
        print("// daemon/'s folders and which include which (generated: scripts/check-layers.py --dot)")
        print("digraph layers {")
        print('  graph [rankdir=TB, fontname="Helvetica", label="daemon/: an arrow is an #include; none goes up", labelloc=t];')
        print('  node [shape=box, style="rounded,filled", fillcolor="#f5f5f5", fontname="Helvetica"];')
        for (s, d) in sorted(edges):
            print(f'  "{s}" -> "{d}";')
        print("}")
        return 0
    cycle = find_cycle(nodes, edges)
    too_long = long_files(root)
    for f, n in too_long:
        print(f"check-layers: {f} has {n} lines, more than {MAX_LINES}, and does not say why at its top; fix: "
              "split it by responsibility, or give the reason in a comment in its first lines "
              "('... (about N lines) because ...')", file=sys.stderr)
    if cycle is None:
        print(f"check-layers: {len(nodes)} folders, {len(edges)} dependencies, no cycle")
        return 1 if too_long else 0
    print("check-layers: the folders of daemon/ include each other in a cycle: " + " -> ".join(cycle),
          file=sys.stderr)
    for s, d in zip(cycle, cycle[1:]):
        f, number, inc = edges[(s, d)][0]
        more = len(edges[(s, d)]) - 1
        print(f'  {f}:{number}: #include "{inc}"' + (f" (and {more} more)" if more else ""), file=sys.stderr)
    print("fix: move what both sides need into a folder below them both (model/, system/), "
          "or turn the dependency around with an interface", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
