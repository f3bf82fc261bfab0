"""`python -m devstack.importgraph`: the import graph between Carepath's top-level packages, as
a Mermaid picture, written into docs/architecture.md (`--check` says whether it is current).

Reads the code's own imports (every `import`, also inside functions), so the picture cannot
drift from the code; `lint-imports` enforces the layering the picture shows.
"""

from __future__ import annotations

import argparse
import ast
import sys
import tomllib
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "architecture.md"
BEGIN = "<!-- import graph: begin (python -m devstack.importgraph) -->"
END = "<!-- import graph: end -->"


def layers() -> list[list[str]]:
    """The layering contract's layers, top first; each a list of sibling packages."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    contract = next(c for c in config["contracts"] if c["type"] == "layers")
    return [[name.strip() for name in layer.split("|")] for layer in contract["layers"]]


def _imported(tree: ast.AST) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def edges(packages: list[str]) -> Counter[tuple[str, str]]:
    """(importer, imported) package pairs, counted by importing module."""
    known = set(packages)
    found: Counter[tuple[str, str]] = Counter()
    for package in packages:
        for path in sorted((ROOT / package).rglob("*.py")):
            tree = ast.parse(path.read_text(), str(path))
            targets = {name.split(".")[0] for name in _imported(tree)} & known
            for target in targets - {package}:
                found[(package, target)] += 1
    return found


def picture() -> str:
    ordered = layers()
    packages = [p for layer in ordered for p in layer]
    lines = ["```mermaid", "flowchart TD"]
    for depth, layer in enumerate(ordered):
        lines.append(f'  subgraph L{depth} [" "]')
        lines.extend(f"    {p}" for p in layer)
        lines.append("  end")
    for (src, dst), count in sorted(edges(packages).items()):
        lines.append(f"  {src} -->|{count}| {dst}")
    lines.append("```")
    return "\n".join(lines)


def render(doc: str) -> str:
    start, end = doc.index(BEGIN) + len(BEGIN), doc.index(END)
    return doc[:start] + "\n" + picture() + "\n" + doc[end:]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devstack.importgraph", description=__doc__)
    parser.add_argument("--check", action="store_true", help="fail if the picture is stale")
    args = parser.parse_args(argv)
    doc = DOC.read_text()
    fresh = render(doc)
    if args.check:
        if fresh != doc:
            print(
                f"{DOC.relative_to(ROOT)}: the import graph is stale; run "
                "`python -m devstack.importgraph`",
                file=sys.stderr,
            )
            return 1
        return 0
    DOC.write_text(fresh)
    print(f"wrote the import graph into {DOC.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
