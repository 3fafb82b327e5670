"""No module imports another package's private names: `python -m himaya_dev.private_imports PATH…`.

A name with one leading underscore is private to the module that defines it, and to the modules of the same
package (the same folder). `from x import _y` anywhere else reaches into another part of the system behind
its public surface, so `make lint` fails on it. import-linter checks which modules import which, not
which names, hence this check. It reads the source with `ast` and imports nothing.

Only `from … import _name` is checked (the form found in practice); `module._name` attribute access is not.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

SKIPPED_DIRS = frozenset({".venv", ".tools", ".data", "__pycache__", "bench-results"})


@dataclass(frozen=True)
class PrivateImport:
    """One `from module import _name` reaching outside the importer's package."""

    path: Path
    line: int
    module: str
    name: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: imports private name {self.name!r} from {self.module}"


def module_name(path: Path) -> str:
    """The dotted name a file is imported under: relative to the nearest `src` folder above it, else to the
    folder it was found under (tests and bench are imported from the checkout's root)."""
    parts = list(path.with_suffix("").parts)
    if "src" in parts:
        parts = parts[len(parts) - parts[::-1].index("src"):]
    return ".".join(parts)


def _package(module: str, *, is_package: bool) -> str:
    return module if is_package else module.rpartition(".")[0]


def _resolve(node: ast.ImportFrom, package: str) -> str:
    """The absolute module an import reads from (relative imports resolved against `package`)."""
    if not node.level:
        return node.module or ""
    base = package.split(".")
    base = base[: len(base) - (node.level - 1)] if node.level > 1 else base
    return ".".join([*base, node.module] if node.module else base)


def check_source(source: str, path: Path, module: str) -> Iterator[PrivateImport]:
    """The private imports of one module's source that reach outside its package."""
    own_package = _package(module, is_package=path.name == "__init__.py")
    for node in ast.walk(ast.parse(source, filename=str(path))):
        if not isinstance(node, ast.ImportFrom):
            continue
        target = _resolve(node, own_package)
        # Importing from the package itself (`from . import _x`) or from a module of the same package is
        # inside the boundary; anything else is not.
        if target == own_package or target.rpartition(".")[0] == own_package:
            continue
        for alias in node.names:
            if alias.name.startswith("_") and not alias.name.startswith("__"):
                yield PrivateImport(path, node.lineno, target, alias.name)


def python_files(roots: Iterable[Path]) -> Iterator[Path]:
    """The .py files under each root, without virtual envs, caches and data."""
    for root in roots:
        if root.is_file():
            yield root
            continue
        for path in sorted(root.rglob("*.py")):
            if not SKIPPED_DIRS.intersection(path.relative_to(root).parts):
                yield path


def check(roots: Iterable[Path]) -> list[PrivateImport]:
    """Every private import reaching outside its package in the files under `roots`."""
    found: list[PrivateImport] = []
    for path in python_files(roots):
        found.extend(check_source(path.read_text(encoding="utf-8"), path, module_name(path)))
    return found


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point: print each offending import, exit 1 if there is any."""
    roots = [Path(arg) for arg in (sys.argv[1:] if argv is None else argv)] or [Path()]
    found = check(roots)
    for item in found:
        print(item, file=sys.stderr)
    if found:
        print(f"{len(found)} private import(s) across packages: make the name public where it is defined, "
              "or move the code that needs it next to it.", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
