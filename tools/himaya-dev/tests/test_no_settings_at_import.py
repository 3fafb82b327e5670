"""Runtime code reads no setting at import: no module-level `os.environ`/`os.getenv` and no `…Settings()`
outside a function, so a process, a test or a command may set its environment after importing."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


class ImportTimeReads(ast.NodeVisitor):
    """Collects environment reads and settings constructions that run when the module is imported."""

    def __init__(self) -> None:
        self.found: list[tuple[int, str]] = []

    def visit_FunctionDef(self, node: ast.AST) -> None:  # a body runs when called, not at import
        return

    visit_AsyncFunctionDef = visit_FunctionDef
    visit_Lambda = visit_FunctionDef

    def visit_If(self, node: ast.If) -> None:
        test = node.test
        if isinstance(test, ast.Compare) and isinstance(test.left, ast.Name) and test.left.id == "__name__":
            return  # the command's entry point
        self.generic_visit(node)

    def visit_Attribute(self, node: ast.Attribute) -> None:
        if node.attr in ("environ", "getenv"):
            self.found.append((node.lineno, f"os.{node.attr}"))
        self.generic_visit(node)

    def visit_Call(self, node: ast.Call) -> None:
        if isinstance(node.func, ast.Name) and node.func.id.endswith("Settings"):
            self.found.append((node.lineno, f"{node.func.id}()"))
        self.generic_visit(node)


def import_time_reads(source: str) -> list[tuple[int, str]]:
    visitor = ImportTimeReads()
    visitor.visit(ast.parse(source))
    return visitor.found


def test_the_check_sees_a_module_level_read():
    assert import_time_reads("import os\nPORT = int(os.environ.get('X_PORT', '1'))\nS = Settings()\n") == [
        (2, "os.environ"), (3, "Settings()")]
    assert import_time_reads("import os\ndef port():\n    return os.environ['X']\n") == []


def test_runtime_modules_read_no_setting_at_import():
    files = [*(ROOT / "shared" / "src").rglob("*.py"), *(ROOT / "services").glob("*/src/**/*.py"),
             *(ROOT / "tools" / "himaya-dev" / "src").rglob("*.py")]
    assert len(files) > 50
    found = [f"{path.relative_to(ROOT)}:{line}: {what}" for path in files
             for line, what in import_time_reads(path.read_text(encoding="utf-8"))]
    assert found == []
