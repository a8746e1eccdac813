#!/usr/bin/env python3
"""import_loops — the use cycles between the .c files of src/, by module.

A .c file "imports" another when it refers to a function or variable that
the other one defines (the files of a module share one internal header, so
#include lines alone do not show who depends on whom). Two files that import
each other, directly or round a longer ring, form a loop: neither can be
read, tested or replaced without the other.

Prints, for each module (directory under src/), the loops between its files
(strongly connected components of more than one file) with the symbols that
close them, then the loops between modules. Exit status 1 when there is a
loop (so that a check can require none), 0 otherwise.

    scripts/import_loops.py            # every module
    scripts/import_loops.py store guard
    scripts/import_loops.py --quiet    # counts only

Reads the sources only (no build needed). Comments, strings and character
constants are removed first; a definition is a non-static identifier at the
top level followed by a body or an initializer.
"""
import os
import re
import sys

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
SRC = os.path.join(ROOT, "src")

_strip_re = re.compile(
    r'//[^\n]*|/\*.*?\*/|"(?:\\.|[^"\\\n])*"|\'(?:\\.|[^\'\\\n])*\'',
    re.S)
_ident_re = re.compile(r"[A-Za-z_]\w*")
_keywords = {
    "if", "for", "while", "switch", "return", "sizeof", "do", "else",
    "static", "inline", "const", "struct", "enum", "union", "typedef",
    "extern", "void", "int", "char", "unsigned", "signed", "long",
    "short", "bool", "size_t", "double", "float", "volatile", "register",
}


def strip(text):
    def repl(m):
        s = m.group(0)
        # keep the line count for nothing but readability of errors
        return "\n" * s.count("\n") if s.startswith("/") else '""'
    text = _strip_re.sub(repl, text)
    # preprocessor lines (a continued #define included)
    return re.sub(r"^[ \t]*#(?:[^\n]*\\\n)*[^\n]*", "", text, flags=re.M)


def top_level(text):
    """Yield (head, is_function) for each top-level declaration: a function
    (the text before its body) or a declaration up to its ';' with the
    contents of any braces (a struct body, an initializer) left out."""
    depth = 0
    start = 0
    head = []
    for i, c in enumerate(text):
        if c == "{":
            if depth == 0:
                head.append(text[start:i])
                start = i
            depth += 1
        elif c == "}":
            depth -= 1
            if depth == 0:
                h = "".join(head)
                if h.rstrip().endswith(")"):
                    yield h, True
                    head = []
                else:
                    head.append(" ")
                start = i + 1
        elif c == ";" and depth == 0:
            head.append(text[start:i])
            yield "".join(head), False
            head = []
            start = i + 1


def definitions(text):
    """Non-static functions and variables this file defines."""
    defs = set()
    for head, body in top_level(text):
        words = head.split()
        if not words or "static" in words or "extern" in words:
            continue
        if words[0] in ("typedef",):
            continue
        if body:
            m = re.search(r"([A-Za-z_]\w*)\s*\(", head)
            if m:
                defs.add(m.group(1))
            continue
        if "(" in head.split("=")[0]:
            continue            # a prototype (or a function pointer)
        m = re.search(r"([A-Za-z_]\w*)\s*(?:\[[^\]]*\]\s*)*(?:=|$)",
                      head.strip())
        # 'struct x' alone (and 'struct x {...}') declares a type
        tag = words[0] in ("struct", "enum", "union")
        if m and (len(words) >= (3 if tag else 2) or "=" in head):
            defs.add(m.group(1))
    return defs - _keywords


def sources(modules):
    files = {}
    for mod in sorted(os.listdir(SRC)):
        d = os.path.join(SRC, mod)
        if not os.path.isdir(d) or (modules and mod not in modules):
            continue
        for f in sorted(os.listdir(d)):
            if f.endswith(".c"):
                with open(os.path.join(d, f), encoding="utf-8",
                          errors="replace") as fh:
                    files[mod + "/" + f] = strip(fh.read())
    return files


def graph(files):
    owner = {}
    defs = {}
    for name, text in files.items():
        defs[name] = definitions(text)
        for d in defs[name]:
            owner.setdefault(d, name)
    edges = {name: {} for name in files}
    for name, text in files.items():
        for w in set(_ident_re.findall(text)) - defs[name]:
            o = owner.get(w)
            if o and o != name:
                edges[name].setdefault(o, set()).add(w)
    return edges


def sccs(nodes, succ):
    """Tarjan, iterative; components of more than one node, sorted."""
    index = {}
    low = {}
    stack = []
    on = set()
    out = []
    counter = [0]
    for root in sorted(nodes):
        if root in index:
            continue
        work = [(root, iter(sorted(succ(root))))]
        index[root] = low[root] = counter[0]
        counter[0] += 1
        stack.append(root)
        on.add(root)
        while work:
            v, it = work[-1]
            for w in it:
                if w not in index:
                    index[w] = low[w] = counter[0]
                    counter[0] += 1
                    stack.append(w)
                    on.add(w)
                    work.append((w, iter(sorted(succ(w)))))
                    break
                if w in on:
                    low[v] = min(low[v], index[w])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[v])
                if low[v] == index[v]:
                    comp = []
                    while True:
                        w = stack.pop()
                        on.discard(w)
                        comp.append(w)
                        if w == v:
                            break
                    if len(comp) > 1:
                        out.append(sorted(comp))
    return sorted(out)


def main(argv):
    quiet = "--quiet" in argv
    modules = [a for a in argv if not a.startswith("-")]
    files = sources(modules)
    edges = graph(files)
    loops = 0
    for mod in sorted({n.split("/")[0] for n in files}):
        inner = [n for n in files if n.startswith(mod + "/")]
        comps = sccs(inner, lambda v: [w for w in edges[v]
                                       if w.startswith(mod + "/")])
        for comp in comps:
            loops += 1
            print("%s: loop %s" % (mod, " <-> ".join(
                os.path.basename(c) for c in comp)))
            if quiet:
                continue
            for a in comp:
                for b in comp:
                    if b in edges[a]:
                        syms = sorted(edges[a][b])
                        more = len(syms) - 4
                        print("    %s -> %s: %s%s" % (
                            os.path.basename(a), os.path.basename(b),
                            ", ".join(syms[:4]),
                            " (+%d)" % more if more > 0 else ""))
    medges = {}
    for a, tos in edges.items():
        for b, syms in tos.items():
            ma, mb = a.split("/")[0], b.split("/")[0]
            if ma != mb:
                medges.setdefault(ma, {}).setdefault(mb, set()).update(
                    "%s -> %s" % (a, b) for _ in [0])
    mods = sorted({n.split("/")[0] for n in files})
    for comp in sccs(mods, lambda m: medges.get(m, {}).keys()):
        loops += 1
        print("modules: loop %s" % " <-> ".join(comp))
        if quiet:
            continue
        for a in comp:
            for b in comp:
                if b in medges.get(a, {}):
                    pairs = sorted(medges[a][b])
                    print("    %s -> %s: %s%s" % (
                        a, b, ", ".join(pairs[:3]),
                        " (+%d)" % (len(pairs) - 3) if len(pairs) > 3
                        else ""))
    print("%d loop%s" % (loops, "" if loops == 1 else "s"))
    return 1 if loops else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
