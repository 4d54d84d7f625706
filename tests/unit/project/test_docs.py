"""The README and docs/: every link to a file or an anchor of the repository resolves, and the README stays a
front door that reads in a few minutes."""

from __future__ import annotations

from pathlib import Path

import pytest

from scripts.project import REPO
from tests.support.markdown import anchors, broken_links, local_links

PAGES = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
README_MOST_LINES = 300


@pytest.mark.parametrize("page", PAGES, ids=lambda page: str(page.relative_to(REPO)))
def test_every_link_of_a_page_reaches_a_file_or_heading_of_the_repository(page: Path) -> None:
    assert local_links(page.read_text())
    assert broken_links(page) == []


def test_a_link_to_a_heading_that_is_not_there_is_found(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text(
        "# Title\n\n## Log levels, and what they never drop\n\n[a](#title) [b](#no-such-part) [c](gone.md)\n"
    )
    assert anchors(page.read_text()) == {"title", "log-levels-and-what-they-never-drop"}
    assert broken_links(page) == ["#no-such-part", "gone.md"]


def test_the_readme_is_a_front_door_and_sends_the_reader_on_to_every_page_of_the_docs() -> None:
    readme = (REPO / "README.md").read_text()
    assert len(readme.splitlines()) <= README_MOST_LINES
    linked = {target.partition("#")[0] for target in local_links(readme)}
    assert {f"docs/{page.name}" for page in PAGES[1:]} <= linked
