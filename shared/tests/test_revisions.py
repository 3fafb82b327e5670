"""himaya.revisions.head_revision: the head a running service expects, read without Alembic."""

from pathlib import Path

import pytest
from alembic.config import Config
from alembic.script import ScriptDirectory

from himaya.revisions import head_revision

ROOT = Path(__file__).resolve().parents[2]
SERVICES = ("identity", "cases", "referrals")


@pytest.mark.parametrize("service", SERVICES)
def test_the_head_is_alembics_head(service):
    migrations = ROOT / "services" / service / "migrations"
    cfg = Config()
    cfg.set_main_option("script_location", str(migrations))
    assert head_revision(migrations) == ScriptDirectory.from_config(cfg).get_current_head()


def write(versions: Path, name: str, revision: str, down: str | None) -> None:
    (versions / f"{name}.py").write_text(f'"""{name}"""\nrevision: str = {revision!r}\n'
                                         f"down_revision: str | None = {down!r}\n")


def test_a_chain_of_revisions_has_its_last_one_as_head(tmp_path):
    versions = tmp_path / "versions"
    versions.mkdir()
    (versions / "__init__.py").write_text("")
    write(versions, "b", "2", "1")
    write(versions, "a", "1", None)
    write(versions, "c", "3", "2")
    assert head_revision(tmp_path) == "3"


def test_no_revisions_means_no_head(tmp_path):
    (tmp_path / "versions").mkdir()
    assert head_revision(tmp_path) is None


def test_two_heads_are_refused(tmp_path):
    versions = tmp_path / "versions"
    versions.mkdir()
    write(versions, "a", "1", None)
    write(versions, "b", "2", "1")
    write(versions, "c", "3", "1")
    with pytest.raises(RuntimeError, match="several heads"):
        head_revision(tmp_path)


def test_a_service_process_does_not_import_alembic():
    import subprocess
    import sys

    code = ("import sys; from cases_service.main import create_app; "
            "print('alembic' in sys.modules or 'mako' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
