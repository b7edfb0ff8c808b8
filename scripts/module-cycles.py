#!/usr/bin/env python3
"""Fails when the top-level modules of a crate import each other in a cycle.

For each crate given (a directory with src/), every top-level module (a file or
folder under src/) is a node; `crate::other` anywhere in its non-test code is
an edge. Strongly connected components of more than one module are cycles.
"""
import os
import re
import sys


def module_files(src):
    mods = {}
    for entry in os.listdir(src):
        if entry in ("lib.rs", "main.rs"):
            continue
        path = os.path.join(src, entry)
        name = entry[:-3] if entry.endswith(".rs") else entry
        if entry.endswith(".rs"):
            mods.setdefault(name, []).append(path)
        elif os.path.isdir(path):
            for dirpath, _, files in os.walk(path):
                mods.setdefault(name, []).extend(
                    os.path.join(dirpath, f) for f in files if f.endswith(".rs"))
    return mods


def imports(src):
    mods = module_files(src)
    graph = {m: set() for m in mods}
    for module, files in mods.items():
        for path in files:
            text = open(path, encoding="utf-8").read()
            text = re.sub(r"#\[cfg\(test\)\]\s*mod tests\s*\{.*", "", text, flags=re.S)
            code = "\n".join(l for l in text.splitlines() if not l.lstrip().startswith("//"))
            for target in re.findall(r"crate::([a-z_][a-z0-9_]*)", code):
                if target in graph and target != module:
                    graph[module].add(target)
    return graph


def cycles(graph):
    index, low, stack, on_stack, found = {}, {}, [], set(), []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def main(crates):
    failed = False
    for crate in crates:
        graph = imports(os.path.join(crate, "src"))
        for component in cycles(graph):
            failed = True
            edges = ", ".join(f"{a} -> {sorted(graph[a] & set(component))}" for a in component)
            print(f"{crate}: import cycle between {component}: {edges}")
    if not failed:
        print(f"no import cycles between top-level modules of {len(crates)} crates")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
