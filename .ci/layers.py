"""Checks that the files of each crate import one another in one direction.

Usage: python3 .ci/layers.py <crate>/src [--strict]

A file's imports are its `use crate::...` / `use super::...` paths and inline `crate::` /
`super::` paths, outside `#[cfg(test)]`. Without --strict, two files may import each other
but no longer circle is allowed; with --strict (handler-core), no file may import a file
that imports it back, directly or through others. Exits 1 and names the circles otherwise.
"""
import os
import re
import sys


def module_files(root):
    files = {}
    for folder, _, names in os.walk(root):
        for name in names:
            if name.endswith(".rs"):
                rel = os.path.relpath(os.path.join(folder, name), root)
                parts = rel[:-3].split("/")
                if parts[-1] == "mod":
                    parts = parts[:-1]
                if parts in (["lib"], ["main"]):
                    parts = []
                files[tuple(parts)] = rel
    return files


def code_of(text):
    text = re.sub(r"//[^\n]*", "", text)
    cut = text.find("#[cfg(test)]")
    return text if cut < 0 else text[:cut]


def expand(path):
    """`a::{b, c::{d}}` as `a::b`, `a::c::d`."""
    match = re.match(r"^([\w:]*?)\{(.*)\}$", path, re.S)
    if not match:
        return [path]
    prefix, inner = match.groups()
    items, depth, current = [], 0, ""
    for ch in inner:
        depth += ch == "{"
        depth -= ch == "}"
        if ch == "," and depth == 0:
            items.append(current)
            current = ""
        else:
            current += ch
    items.append(current)
    return [p for item in items if item.strip() for p in expand(prefix + item.strip())]


def resolve(files, module, path):
    segments = path.split("::")
    if segments[0] == "crate":
        base, segments = [], segments[1:]
    elif segments[0] == "super":
        base, segments = list(module[:-1]), segments[1:]
        while segments and segments[0] == "super":
            base, segments = base[:-1], segments[1:]
    else:
        return None
    for segment in segments:
        if tuple(base + [segment]) in files:
            base.append(segment)
        else:
            break
    return files.get(tuple(base))


def imports(root, files):
    edges = {}
    for module, rel in files.items():
        code = code_of(open(os.path.join(root, rel), encoding="utf-8").read())
        paths = []
        for match in re.finditer(r"\buse\s+([^;]+);", code):
            tree = re.sub(r"\s+", "", match.group(1)).replace("self,", "").replace("::self", "")
            paths += expand(tree)
        paths += re.findall(r"\b((?:crate|super)(?:::\w+)+)", code)
        targets = set()
        for path in paths:
            target = resolve(files, module, re.sub(r"as\w+$", "", path))
            if target and target != rel:
                targets.add(target)
        edges[rel] = targets
    return edges


def circles(edges):
    """Strongly connected components of more than one file (Tarjan)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []
    counter = [0]
    sys.setrecursionlimit(10000)

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in edges.get(v, ()):
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

    for v in edges:
        if v not in index:
            visit(v)
    return found


def main():
    root = sys.argv[1]
    strict = "--strict" in sys.argv
    files = module_files(root)
    bad = [c for c in circles(imports(root, files)) if strict or len(c) > 2]
    for circle in bad:
        print(f"{root}: files that import each other in a circle: {' -> '.join(circle)}")
    sys.exit(1 if bad else 0)


main()
