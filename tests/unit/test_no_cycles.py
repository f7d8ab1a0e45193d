#!/usr/bin/env python3
# test_no_cycles.py - no two shim files depend on each other, directly or
# through others: a file depends on another when it names a function or
# variable (pr_*, ptreclaim_*) that the other defines.  Keeps the layers of
# docs/architecture.md honest.
# usage: test_no_cycles.py SHIM_DIR
import glob
import os
import re
import sys

root = sys.argv[1]
files = sorted(glob.glob(os.path.join(root, '*', '*.c')))


def text(path):
    return re.sub(r'/\*.*?\*/', '', open(path).read(), flags=re.S)


DEF = re.compile(r'^(?!static|extern)[A-Za-z_][\w \*]*?\b((?:pr|ptreclaim)_\w+)'
                 r'\s*(?:\(|;|=|\[)', re.M)
defs = {}
for f in files:
    for m in DEF.finditer(text(f)):
        defs.setdefault(m.group(1), f)

deps = {f: set() for f in files}
for f in files:
    s = text(f)
    for name, owner in defs.items():
        if owner != f and re.search(r'(?<!struct )\b' + name + r'\b', s):
            deps[f].add(owner)

# Depth-first search for a back edge.
state, stack, cycle = {}, [], None


def visit(f):
    global cycle
    state[f] = 1
    stack.append(f)
    for d in sorted(deps[f]):
        if cycle:
            return
        if state.get(d) == 1:
            cycle = stack[stack.index(d):] + [d]
            return
        if d not in state:
            visit(d)
    stack.pop()
    state[f] = 2


for f in files:
    if f not in state and not cycle:
        visit(f)
if cycle:
    print('cycle: ' + ' -> '.join(os.path.relpath(c, root) for c in cycle))
    sys.exit(1)
print('ok: %d files, no cycles' % len(files))
