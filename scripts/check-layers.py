#!/usr/bin/env python3
"""Checks that dependencies between dc's layers point the way
docs/ARCHITECTURE.md says they may.

The rule is the table between `<!-- layers:begin -->` and
`<!-- layers:end -->` in docs/ARCHITECTURE.md: one row per directory and the
layers its files may include besides their own. Fails (exit 1, one line per
problem) when
  - a file under a listed directory includes "X/..." for a layer X that the
    row does not allow, or a quoted header outside every layer;
  - a src/<layer>/CMakeLists.txt links a dc_<X> library for a layer X that
    the row does not allow;
  - a directory of src/ has no row, or a row names a layer that is no
    directory of src/.
Usage: check-layers.py [--root REPO] [--stamp FILE]
(--stamp: touch FILE on success, for the build's check_layers target).
"""
import argparse
import pathlib
import re
import sys

TABLE_BEGIN = "<!-- layers:begin -->"
TABLE_END = "<!-- layers:end -->"
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"')
LINKED = re.compile(r"\bdc_([a-z_]+)\b")
SOURCE_SUFFIXES = {".h", ".cc", ".in"}


def read_table(doc: pathlib.Path) -> dict:
    """{directory: set of layers it may include}, from the table in `doc`."""
    text = doc.read_text(encoding="utf-8")
    if TABLE_BEGIN not in text or TABLE_END not in text:
        raise SystemExit(f"{doc}: no layer table between {TABLE_BEGIN} and {TABLE_END}")
    body = text.split(TABLE_BEGIN, 1)[1].split(TABLE_END, 1)[0]
    rules = {}
    for line in body.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 2 or cells[0] in ("directory", "") or set(cells[0]) <= {"-"}:
            continue
        directory, allowed = cells
        rules[directory] = {a.strip().strip("`") for a in allowed.split(",") if a.strip() not in ("", "—", "-")}
    if not rules:
        raise SystemExit(f"{doc}: the layer table has no rows")
    return rules


def layer_of_library(name: str, layers: set) -> str:
    """The layer a dc_<name> library belongs to (dc_manager_core -> manager)."""
    for layer in sorted(layers, key=len, reverse=True):
        if name == layer or name.startswith(layer + "_"):
            return layer
    return ""


def check(root: pathlib.Path) -> list:
    doc = root / "docs" / "ARCHITECTURE.md"
    rules = read_table(doc)
    src = root / "src"
    layers = {p.name for p in src.iterdir() if p.is_dir()}
    problems = []
    for layer in sorted(layers):
        if f"src/{layer}" not in rules:
            problems.append(f"src/{layer}: a layer without a row in the table of {doc.relative_to(root)}")
    for directory, allowed in sorted(rules.items()):
        for name in sorted(allowed - layers):
            problems.append(f"{doc.relative_to(root)}: the row of {directory} names '{name}', which is no layer")

    for directory, allowed in sorted(rules.items()):
        base = root / directory
        own = base.name if directory.startswith("src/") else None
        permitted = allowed | ({own} if own else set())
        if not base.is_dir():
            problems.append(f"{directory}: listed in {doc.relative_to(root)} but missing")
            continue
        for path in sorted(base.rglob("*")):
            if path.suffix not in SOURCE_SUFFIXES or not path.is_file():
                continue
            rel = path.relative_to(root)
            for number, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
                match = INCLUDE.match(line)
                if not match:
                    continue
                header = match.group(1)
                target = header.split("/", 1)[0] if "/" in header else ""
                if target not in layers:
                    problems.append(f'{rel}:{number}: includes "{header}", which is in no layer of src/')
                elif target not in permitted:
                    problems.append(
                        f'{rel}:{number}: includes "{header}": {directory} may include only '
                        f"{', '.join(sorted(permitted))} ({doc.relative_to(root)})"
                    )
        cmake = base / "CMakeLists.txt"
        if own and cmake.is_file():
            for number, line in enumerate(cmake.read_text(encoding="utf-8").splitlines(), 1):
                code = line.split("#", 1)[0]
                for name in LINKED.findall(code):
                    target = layer_of_library(name, layers)
                    if target and target not in permitted:
                        problems.append(
                            f"{cmake.relative_to(root)}:{number}: links dc_{name}: {directory} may depend only on "
                            f"{', '.join(sorted(permitted))} ({doc.relative_to(root)})"
                        )
    return problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", default=str(pathlib.Path(__file__).resolve().parent.parent))
    parser.add_argument("--stamp", help="touch this file when the check passes")
    args = parser.parse_args()
    problems = check(pathlib.Path(args.root))
    for problem in problems:
        print(f"check-layers: {problem}", file=sys.stderr)
    if problems:
        print(f"check-layers: {len(problems)} problem(s); the rule is the layer table of docs/ARCHITECTURE.md",
              file=sys.stderr)
        return 1
    if args.stamp:
        pathlib.Path(args.stamp).touch()
    return 0


if __name__ == "__main__":
    sys.exit(main())
