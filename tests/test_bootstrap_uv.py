"""tools/bootstrap_uv.py picks the uv wheel that fits the machine from a PEP 503 index page."""

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("bootstrap_uv", ROOT / "tools" / "bootstrap_uv.py")
assert spec and spec.loader
bootstrap_uv = importlib.util.module_from_spec(spec)
spec.loader.exec_module(bootstrap_uv)

INDEX = "\n".join(f'<a href="../../packages/{name}#sha256={digest}">{name}</a>' for name, digest in [
    ("uv-0.13.8-py3-none-macosx_11_0_arm64.whl", "aa"),
    ("uv-0.13.8-py3-none-manylinux_2_17_aarch64.manylinux2014_aarch64.musllinux_1_1_aarch64.whl", "bb"),
    ("uv-0.13.8-py3-none-manylinux_2_17_x86_64.manylinux2014_x86_64.whl", "cc"),
    ("uv-0.13.8-py3-none-musllinux_1_1_x86_64.whl", "dd"),
    ("uv-0.13.7-py3-none-manylinux_2_17_x86_64.manylinux2014_x86_64.whl", "ee"),
    ("uv-0.13.8.tar.gz", "ff"),
])
BASE = "https://pypi.example/simple/uv/"


@pytest.mark.parametrize(("tags", "digest"), [
    (["manylinux_2_17_x86_64"], "cc"),
    (["musllinux_1_1_x86_64"], "dd"),
    (["manylinux_2_17_aarch64"], "bb"),
    (["macosx_11_0_arm64"], "aa"),
])
def test_the_wheel_of_the_version_and_platform_is_chosen(tags: list[str], digest: str) -> None:
    url, sha256 = bootstrap_uv.choose_wheel(INDEX, BASE, "0.13.8", tags)
    assert sha256 == digest
    assert url.startswith("https://pypi.example/packages/uv-0.13.8-") and "#" not in url


def test_no_fitting_wheel_is_a_clear_error() -> None:
    with pytest.raises(SystemExit, match=r"No uv 0\.13\.8 wheel for manylinux_2_17_riscv64"):
        bootstrap_uv.choose_wheel(INDEX, BASE, "0.13.8", ["manylinux_2_17_riscv64"])


def test_this_machine_has_tags() -> None:
    assert bootstrap_uv.platform_tags()
