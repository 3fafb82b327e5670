"""The private-name check of `make lint`: what it flags, what it lets through, and the repository today."""

from pathlib import Path

from himaya_dev.private_imports import check, check_source, module_name

ROOT = Path(__file__).resolve().parents[3]


def flagged(source: str, path: str) -> list[tuple[str, str]]:
    file = Path(path)
    return [(f.module, f.name) for f in check_source(source, file, module_name(file))]


class TestPrivateImports:
    def test_a_private_name_from_another_package_is_flagged(self):
        source = "from himaya.audit import CHAINS, _lock_key\n"
        assert flagged(source, "services/cases/src/cases_service/scale/repository.py") == [
            ("himaya.audit", "_lock_key")]

    def test_a_test_reaching_into_a_service_is_flagged(self):
        assert flagged("from cases_service.scale.__main__ import _protector\n", "tests/test_backup.py") == [
            ("cases_service.scale.__main__", "_protector")]

    def test_a_relative_import_from_a_parent_package_is_flagged(self):
        source = "from ..domain import _not_found\n"
        assert flagged(source, "services/cases/src/cases_service/api/cases.py") == [
            ("cases_service.domain", "_not_found")]

    def test_a_sibling_module_of_the_same_package_may_share_a_private_name(self):
        assert flagged("from cases_service.domain.cases import _ensure_open\n",
                       "services/cases/src/cases_service/domain/casework.py") == []
        assert flagged("from .cases import _ensure_open\n", "services/cases/src/cases_service/domain/casework.py") == []
        assert flagged("from . import _helpers\n", "services/cases/src/cases_service/domain/__init__.py") == []

    def test_public_and_dunder_names_pass(self):
        assert flagged("from himaya.audit import verify, __version__\n", "bench/scale.py") == []

    def test_the_repository_has_none(self):
        roots = [ROOT / name for name in ("shared", "services", "tools", "bench", "tests")]
        assert [str(f) for f in check(roots)] == []
