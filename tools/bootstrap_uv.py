"""Install the uv binary from its PyPI wheel with the standard library alone.

`make` uses this when the Python it was given cannot create a virtual env (Debian and Ubuntu ship
`venv`/`ensurepip` in a separate package, python3-venv): uv then creates the project's env itself.
Usage: python3 tools/bootstrap_uv.py VERSION DEST_DIR. Honours PIP_INDEX_URL (a PEP 503 simple index).
"""

from __future__ import annotations

import hashlib
import io
import os
import platform
import re
import stat
import sys
import urllib.parse
import urllib.request
import zipfile
from pathlib import Path


def platform_tags() -> list[str]:
    """The wheel platform tags that fit this machine, best first."""
    machine = platform.machine().lower()
    machine = {"amd64": "x86_64", "arm64": "aarch64" if sys.platform.startswith("linux") else "arm64"}.get(
        machine, machine)
    if sys.platform == "darwin":
        return ["macosx_11_0_arm64"] if machine == "arm64" else ["macosx_10_12_x86_64"]
    if sys.platform.startswith("linux"):
        libc = platform.libc_ver()[0]
        if libc == "glibc":
            return [f"manylinux_2_17_{machine}", f"manylinux2014_{machine}", f"manylinux_2_28_{machine}",
                    f"manylinux_2_31_{machine}"]
        return [f"musllinux_1_1_{machine}"]
    raise SystemExit(f"No uv wheel for {sys.platform}/{machine}: install uv yourself and put it in the PATH.")


def choose_wheel(index_html: str, base_url: str, version: str, tags: list[str]) -> tuple[str, str]:
    """The URL and sha256 of the first wheel of `version` whose platform tags include one of `tags`."""
    wheels = {}
    for href in re.findall(r'href="([^"]+)"', index_html):
        url, _, fragment = urllib.parse.urljoin(base_url, href).partition("#sha256=")
        name = urllib.parse.unquote(url.rsplit("/", 1)[-1])
        prefix = f"uv-{version}-py3-none-"
        if name.startswith(prefix) and name.endswith(".whl") and fragment:
            wheels[name] = (url, fragment)
    for tag in tags:
        for name, found in wheels.items():
            if tag in name[: -len(".whl")].split("-")[-1].split("."):
                return found
    raise SystemExit(f"No uv {version} wheel for {', '.join(tags)} in {base_url}")


def main(argv: list[str]) -> int:
    """Download, verify and unpack the wheel's `uv` binary into DEST_DIR."""
    if len(argv) != 2:
        raise SystemExit(__doc__)
    version, dest = argv[0], Path(argv[1])
    index = os.environ.get("PIP_INDEX_URL", "https://pypi.org/simple").rstrip("/") + "/uv/"
    with urllib.request.urlopen(index, timeout=60) as response:  # noqa: S310 (an https index URL)
        html = response.read().decode()
    url, sha256 = choose_wheel(html, index, version, platform_tags())
    with urllib.request.urlopen(url, timeout=300) as response:  # noqa: S310
        wheel = response.read()
    if hashlib.sha256(wheel).hexdigest() != sha256:
        raise SystemExit(f"{url}: the download does not match the index's sha256")
    with zipfile.ZipFile(io.BytesIO(wheel)) as archive:
        binary = archive.read(f"uv-{version}.data/scripts/uv")
    dest.mkdir(parents=True, exist_ok=True)
    target = dest / "uv"
    target.write_bytes(binary)
    target.chmod(target.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    print(f"uv {version} installed in {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
