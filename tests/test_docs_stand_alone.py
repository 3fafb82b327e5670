"""The repository stands alone: nothing in it cites a document that is not in it, and its links lead somewhere.

A maintainer who clones the repository has only the repository. So no tracked file may send them to the
planning documents the project started from, to a path outside the checkout or to an issue tracker by
number; what a maintainer needs of them is in docs/ (domain.md, architecture.md, api-contract.md,
quality.md). And every relative link of the Markdown files (README.md, docs/, …), and every repository path
quoted in them, must name a file that exists, with the heading it points at.
"""

from __future__ import annotations

import re
import subprocess
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# Assembled from parts so that this file does not cite what it forbids.
OUTSIDE_DOCUMENTS = ("DOMAIN", "QUALITY", "API", "ARCHITECTURE", "STYLE")
FORBIDDEN = {
    "a planning document outside the repository": re.compile(
        r"(?<![\w-])(?:" + "|".join(OUTSIDE_DOCUMENTS) + r")\.md\b"),
    "a path outside the repository": re.compile(re.escape("..") + r"/shared/docs\b|/work/" + r"shared\b"),
    "an issue tracker by number": re.compile(r"\b[Ii]ssues? #?\d+"),
    "the first design notes": re.compile(r"\bdesign " + r"card\b", re.IGNORECASE),
}
NOT_SCANNED = {"uv.lock"}
TEXT_SUFFIXES = {".py", ".md", ".toml", ".yml", ".yaml", ".cfg", ".ini", ".txt", ".sh", ".lua", ".csv", ".json",
                 ".example", ".mako", ""}

LINK = re.compile(r"(?<!!)\[[^\]\n]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
QUOTED_PATH = re.compile(r"`((?:services|shared|tests|docs|bench|tools)/[\w./-]+\.[A-Za-z]+)`")
FENCE = re.compile(r"^(```|~~~).*?^\1", re.MULTILINE | re.DOTALL)
HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*#*\s*$", re.MULTILINE)


UNTRACKED_DIRS = {".git", ".venv", ".tools", ".data", "bench-results", "__pycache__", ".pytest_cache",
                  ".mypy_cache", ".ruff_cache"}


@cache
def tracked_files() -> tuple[Path, ...]:
    """Every file git tracks (what a clone holds); in a copy without git, every file outside the local dirs."""
    try:
        out = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return tuple(p for p in ROOT.rglob("*")
                     if p.is_file() and not UNTRACKED_DIRS.intersection(p.relative_to(ROOT).parts))
    return tuple(ROOT / name for name in out.decode().split("\0") if name)


def text_files() -> list[Path]:
    """The tracked text files a maintainer reads: code, tests, docs, configuration."""
    files = []
    for path in tracked_files():
        if path.name in NOT_SCANNED or not path.is_file():
            continue
        if path.suffix in TEXT_SUFFIXES or path.name in {"Makefile", "Dockerfile", "run"}:
            files.append(path)
    return files


def markdown_files() -> list[Path]:
    return [p for p in tracked_files() if p.suffix == ".md" and p.is_file()]


def slug(heading: str) -> str:
    """The anchor a Markdown renderer gives a heading (GitHub's rule: lower case, punctuation dropped)."""
    text = re.sub(r"[`*_]|\[([^\]]*)\]\([^)]*\)", lambda m: m.group(1) or "", heading).strip().lower()
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


@cache
def anchors(path: Path) -> frozenset[str]:
    seen: dict[str, int] = {}
    out = set()
    for heading in HEADING.findall(FENCE.sub("", path.read_text(encoding="utf-8"))):
        base = slug(heading)
        n = seen.get(base, 0)
        out.add(base if n == 0 else f"{base}-{n}")
        seen[base] = n + 1
    return frozenset(out)


def broken_links(path: Path, root: Path = ROOT) -> list[str]:
    """The relative links and quoted repository paths of one Markdown file that lead nowhere."""
    text = FENCE.sub("", path.read_text(encoding="utf-8"))
    problems = []
    for target in LINK.findall(text):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.IGNORECASE):
            continue  # http:, https:, mailto:
        file_part, _, anchor = target.partition("#")
        resolved = (path.parent / file_part).resolve() if file_part else path
        if not resolved.is_relative_to(root):
            problems.append(f"{target} (outside the repository)")
        elif not resolved.exists():
            problems.append(f"{target} (no such file)")
        elif anchor and resolved.suffix == ".md" and anchor not in anchors(resolved):
            problems.append(f"{target} (no such heading)")
    for quoted in QUOTED_PATH.findall(text):
        if not (root / quoted).exists():
            problems.append(f"`{quoted}` (no such file)")
    return problems


class TestNothingCitesOutsideDocuments:
    def test_no_tracked_file_cites_a_document_outside_the_repository(self) -> None:
        found = []
        for path in text_files():
            try:
                text = path.read_text(encoding="utf-8")
            except UnicodeDecodeError:
                continue
            for line_no, line in enumerate(text.splitlines(), 1):
                for what, pattern in FORBIDDEN.items():
                    if match := pattern.search(line):
                        found.append(f"{path.relative_to(ROOT)}:{line_no}: {what}: {match.group(0)!r}")
        assert not found, ("cite the repository's own docs instead (docs/domain.md, docs/architecture.md, "
                           "docs/api-contract.md, docs/quality.md, a decision record):\n" + "\n".join(found))

    @pytest.mark.parametrize("sample", [
        "see " + "QUALITY" + ".md's target", "the " + "API" + ".md roles", "(../shared" + "/docs/X.md)",
        "as in issue" + " 9", "(Issue" + " 14 item 3)", "the design " + "card names it",
    ])
    def test_each_kind_of_citation_is_caught(self, sample: str) -> None:
        assert any(p.search(sample) for p in FORBIDDEN.values())

    @pytest.mark.parametrize("sample", ["docs/api-contract.md", "docs/quality.md", "openapi-spec-validator",
                                        "tissue 9", "../shared/src/himaya/errors.py"])
    def test_the_repositorys_own_names_pass(self, sample: str) -> None:
        assert not any(p.search(sample) for p in FORBIDDEN.values())


class TestLinksLeadSomewhere:
    def test_the_stand_alone_docs_exist_and_the_readme_links_them(self) -> None:
        readme = (ROOT / "README.md").read_text(encoding="utf-8")
        for name in ("domain.md", "architecture.md", "api-contract.md", "quality.md"):
            assert (ROOT / "docs" / name).is_file()
            assert f"(docs/{name})" in readme, f"README.md's Documentation section does not link docs/{name}"

    def test_every_relative_link_and_quoted_path_of_the_markdown_files_exists(self) -> None:
        found = {str(p.relative_to(ROOT)): broken for p in markdown_files() if (broken := broken_links(p))}
        assert not found, "\n".join(f"{name}: {', '.join(links)}" for name, links in sorted(found.items()))

    def test_a_missing_file_a_missing_heading_and_a_way_out_are_caught(self, tmp_path: Path) -> None:
        page = ROOT / "docs" / "quality.md"
        assert broken_links(page) == []
        probe = tmp_path.resolve() / "probe.md"
        probe.write_text("[a](nowhere.md) [b](probe.md#no-such-heading) [c](../../../../etc/passwd) "
                         "`docs/no-such-page.md` [d](https://example.org/x) [e](#probe)\n\n# Probe\n",
                         encoding="utf-8")
        problems = broken_links(probe, root=tmp_path.resolve())
        assert any(p.startswith("nowhere.md") for p in problems)
        assert any("no such heading" in p for p in problems)
        assert any("outside the repository" in p for p in problems)
        assert any("docs/no-such-page.md" in p for p in problems)
        assert len(problems) == 4
