#!/usr/bin/env python3
"""Report import circles between the modules of each crate (STYLE.md: "files that import each
other: move the shared names one level down").

The rule: within one crate, the graph whose nodes are source files (`foo.rs`, `foo/mod.rs`,
`lib.rs`, `main.rs`) and whose edges are imports has no cycle. File `a` has an edge to file `b`
when `a`'s code names an item of `b` by a path: `use crate::b::X`, `use super::X` (a child using
its parent), `crate::b::f()` in code, `child::X` in a parent, or a module brought in by `use`
(`use super::b;` then `b::X`). Names that a module itself imports with `use` (re-exports such as
`pub use b::X` in `lib.rs`) are followed to the module that defines them; a re-export is an edge
only if the module's own code uses the name too. Declaring `mod child;` is not an edge: a parent
owns its children without importing from them. Inline modules belong to their file;
`#[cfg(test)]` items (the `mod tests` blocks) are ignored.

Prints every strongly connected component of more than one file with, for each edge inside it,
one example of a name imported, and exits 1 if there is any. Arguments: crate folders to check
(default: the members of the root workspace, and the contracts workspace's libraries `common`,
`step` and `kit`; a Stylus contract spreads the `impl` of its one storage type over its files, which
import the type from `lib.rs` while `lib.rs` calls their methods, by design of the SDK).
"""

import os
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
IDENT = r"[A-Za-z_]\w*"
LITERAL = re.compile(  # comments, raw strings, strings, chars (not lifetimes)
    r'//[^\n]*|/\*.*?\*/|(?<!\w)b?r(#*)".*?"\1|"(?:\\.|[^"\\])*"'
    r"|'(?:\\.[^'\n]*|[^\\'\n])'",
    re.S,
)
CFG_TEST = re.compile(r"#\[cfg\(test\)\]\s*(?:#\[[^\]]*\]\s*)*")
MOD = re.compile(rf"\b(?:pub(?:\([^)]*\))?\s+)?mod\s+({IDENT})\s*([;{{])")
USE = re.compile(r"\b(pub(?:\s*\([^)]*\))?\s+)?use\s+([^;]+);")
PATH = re.compile(rf"(?<![\w:])({IDENT}(?:::{IDENT})+)")


def strip(src):
    """The source with comments removed and string and char literals emptied."""
    return LITERAL.sub(lambda m: " " if m.group().startswith("/") else '""', src)


def item_end(text, i):
    """The index just past the item starting at `i`: its `;` or its block's closing `}`."""
    depth = 0
    while i < len(text):
        depth += {"(": 1, "[": 1, ")": -1, "]": -1}.get(text[i], 0)
        if depth == 0 and text[i] == ";":
            return i + 1
        if depth == 0 and text[i] == "{":
            while True:
                depth += {"{": 1, "}": -1}.get(text[i], 0)
                i += 1
                if depth == 0:
                    return i
        i += 1
    return i


def use_tree(tree, prefix=()):
    """Expands `a::{b, c::d as e, self}` into (path, local name) pairs."""
    tree = re.sub(r"\s+", " ", tree).strip().removeprefix("::")
    if m := re.fullmatch(r"((?:\w+ ?:: ?)*)\{(.*)\}", tree):
        prefix += tuple(s.strip() for s in m.group(1).split("::") if s.strip())
        parts, depth, start, body = [], 0, 0, m.group(2) + ","
        for j, c in enumerate(body):
            depth += {"{": 1, "}": -1}.get(c, 0)
            if c == "," and depth == 0:
                parts.append(body[start:j])
                start = j + 1
        return [pair for part in parts if part.strip() for pair in use_tree(part, prefix)]
    path, _, alias = tree.partition(" as ")
    segs = prefix + tuple(s.strip() for s in path.split("::"))
    segs = segs[:-1] if segs[-1] == "self" else segs
    return [(segs, alias.strip() or segs[-1])] if segs else []


class Crate:
    """The modules of one crate root (`lib.rs`, `main.rs` or `bin/x.rs`) and their imports."""

    def __init__(self, root):
        self.files = {}  # module path (tuple) -> file
        self.uses = {}  # module path -> {local name: imported path}
        self.paths = {}  # module path -> every path its code names
        self.load(root, (), root.parent)

    def load(self, file, mod, folder):
        text = strip(file.read_text())
        for m in reversed(list(CFG_TEST.finditer(text))):
            text = text[: m.start()] + text[item_end(text, m.end()) :]
        self.scan(text, mod, file, folder)

    def scan(self, text, mod, file, folder):
        """Records module `mod` (code `text` in `file`); walks its `mod x;` files from `folder`."""
        self.files[mod], kept, i = file, [], 0
        for m in MOD.finditer(text):
            if m.start() < i:
                continue  # inside an inline module already scanned
            kept.append(text[i : m.start()])
            i, child = item_end(text, m.start()), mod + (m.group(1),)
            if m.group(2) == "{":
                self.scan(text[m.end() : i - 1], child, file, folder / m.group(1))
            for path in (folder / f"{m.group(1)}.rs", folder / m.group(1) / "mod.rs"):
                if m.group(2) == ";" and path.exists():
                    self.load(path, child, folder / m.group(1))
                    break
        body = "".join(kept) + text[i:]
        imports = [(p, *pair) for p, u in USE.findall(body) for pair in use_tree(u)]
        self.uses[mod] = {name: segs for _, segs, name in imports}
        code = re.sub(r"pub\s*\(\s*in\s[^)]*\)", "", USE.sub("", body))
        words = set(re.findall(r"\w+", code))  # a re-export alone is no import: using it is
        used = [segs for public, segs, name in imports if not public or name in words]
        self.paths[mod] = used + [tuple(p.split("::")) for p in PATH.findall(code)]

    def resolve(self, mod, segs, hops=0):
        """The module defining what `segs` names from inside `mod`, and the name; or None."""
        head, rest = segs[0], list(segs[1:])
        if head == "crate":
            base = ()
        elif head in ("self", "super"):
            base, rest = mod, list(segs)
            while rest and rest[0] in ("self", "super"):
                base = base[:-1] if rest.pop(0) == "super" else base
        elif mod + (head,) in self.files:
            base = mod + (head,)
        elif head in self.uses[mod] and self.uses[mod][head] != segs and hops < 8:
            target = self.resolve(mod, self.uses[mod][head], hops + 1)
            if not target or target[1]:  # an item, or something outside the crate
                return None
            base = target[0]
        else:
            return None
        while rest and base + (rest[0],) in self.files:
            base += (rest.pop(0),)
        name = rest[0] if rest else None
        if name and name in self.uses[base] and hops < 8:  # follow a re-export
            found = self.resolve(base, self.uses[base][name], hops + 1)
            if found:
                return found
        return base, name

    def edges(self):
        """{(file, file): example name} for every import between two different files."""
        found = {}
        for mod in self.files:
            for target in filter(None, (self.resolve(mod, p) for p in self.paths[mod])):
                key = (self.files[mod], self.files[target[0]])
                name = target[1] or f"{target[0][-1]} (module)"
                if key[0] != key[1] and (key not in found or found[key].endswith("(module)")):
                    found[key] = name
        return found


def cycles(edges):
    """The strongly connected components of more than one file: files reaching each other."""
    reach = {}
    for a, _ in edges:
        seen, todo = set(), [a]
        while todo:
            v = todo.pop()
            for w in {b for a2, b in edges if a2 == v} - seen:
                seen.add(w)
                todo.append(w)
        reach[a] = seen
    comps = {frozenset({a} | {b for b in reach[a] if a in reach.get(b, ())}) for a in reach}
    return sorted((sorted(c) for c in comps if len(c) > 1), key=lambda c: c[0])


def members(manifest):
    listed = re.search(r"members\s*=\s*\[([^\]]*)\]", manifest.read_text()).group(1)
    return [manifest.parent / m for m in re.findall(r'"([^"]+)"', listed)]


def main(args):
    folders = [Path(a).resolve() for a in args]
    contract_libraries = [ROOT / "contracts/common", ROOT / "contracts/step", ROOT / "contracts/kit"]
    folders = folders or members(ROOT / "Cargo.toml") + contract_libraries
    found = 0
    for src in [folder / "src" for folder in folders]:
        roots = [src / "lib.rs", src / "main.rs", *sorted(src.glob("bin/*.rs"))]
        edges = [e for r in roots if r.exists() for e in sorted(Crate(r).edges().items())]
        for comp in cycles([e for e, _ in edges]):
            found += 1
            print(f"cycle in {os.path.relpath(src.parent, ROOT)} ({len(comp)} files):")
            for (a, b), name in edges:
                if a in comp and b in comp:
                    print(f"  {a.relative_to(src)} -> {b.relative_to(src)}  ({name})")
    if found:
        print(f"{found} import cycle(s): move the shared names down into a module both import")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
