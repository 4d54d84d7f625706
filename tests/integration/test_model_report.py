"""The models report as people see it: opened in headless Chromium (Debian's `chromium`, installed by
`make setup`), every figure loads."""

from __future__ import annotations

import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest

from model_build.report import write_report
from scripts.project import REPO

pytestmark = pytest.mark.integration

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
# Added to a copy of the page: once everything has loaded, each image says how large it decoded, or "broken".
MARK_IMAGES = (
    "<script>window.addEventListener('load', () => { for (const image of document.images) {"
    " image.dataset.loaded = image.complete && image.naturalWidth > 0"
    " ? `${image.naturalWidth}x${image.naturalHeight}` : 'broken'; } });</script>"
)


class Images(HTMLParser):
    """The attributes of every img, and how many figures have a caption."""

    def __init__(self) -> None:
        super().__init__()
        self.images: list[dict[str, str | None]] = []
        self.captions = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "img":
            self.images.append(dict(attrs))
        self.captions += tag == "figcaption"


def images_as_chromium_loads_them(index: Path, profile: Path) -> Images:
    checked = index.with_name("checked.html")
    checked.write_text(index.read_text(encoding="utf-8").replace("</body>", f"{MARK_IMAGES}</body>"), encoding="utf-8")
    chromium = shutil.which("chromium")
    if chromium is None:
        pytest.fail("chromium is not installed: run `make setup`")
    dumped = subprocess.run(
        [chromium, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "--dump-dom", checked.as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    parser = Images()
    parser.feed(dumped.stdout)
    return parser


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_report(REPO / "layers" / "models" / "artifacts", tmp_path_factory.mktemp("report") / "model-report")


def test_every_figure_of_the_report_loads_in_chromium(report: Path, tmp_path: Path) -> None:
    page = images_as_chromium_loads_them(report, tmp_path / "profile")

    assert sorted(image["src"] or "" for image in page.images) == sorted(
        path.name for path in report.parent.glob("*.png")
    )
    assert len(page.images) == page.captions == 6
    assert [image["data-loaded"] for image in page.images] == ["420x360"] * 6


def test_a_figure_that_is_missing_shows_as_broken(report: Path, tmp_path: Path) -> None:
    # Given a copy of the report without one of its figures, the check above would see it
    copy = tmp_path / "copy"
    shutil.copytree(report.parent, copy)
    (copy / "pytorch-calibration.png").unlink()

    page = images_as_chromium_loads_them(copy / "index.html", tmp_path / "profile")

    loaded = {image["src"]: image["data-loaded"] for image in page.images}
    assert loaded.pop("pytorch-calibration.png") == "broken"
    assert set(loaded.values()) == {"420x360"}
