"""The two SAM CLI 1.170.0 emulator defects scripts/emulator/patch_sam_cli.py fixes: each shown, then shown gone."""

from __future__ import annotations

import io
import re
import shutil
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
from samcli.commands.local.cli_common.invoke_context import InvokeContext
from samcli.commands.local.lib.local_lambda import LocalLambdaRunner
from samcli.local.docker.container import Container
from samcli.local.docker.lambda_image import LambdaImage
from samcli.local.lambdafn.runtime import WarmLambdaRuntime

from scripts.emulator import patch_sam_cli
from scripts.emulator.patch_sam_cli import HUNKS, ORIGINAL_REPORT_PATTERN, PatchError
from scripts.project import REPO

REQUEST_ID = "0a8b4399-abe2-4671-a339-45871f75d327"
REPORT = (
    f"REPORT RequestId: {REQUEST_ID}\tDuration: 2.54 ms\tBilled Duration: 3 ms\t"
    "Memory Size: 1024 MB\tMax Memory Used: 1024 MB\t\n"
)
METRICS = '{"_aws":{"CloudWatchMetrics":[]},"service":"kyber-classifier","CrystalsClassified":[1.0]}\n'
END = f"END RequestId: {REQUEST_ID}\n"


def report_seen(chunk: str) -> bool:
    """Whether SAM's log thread, given this chunk of container output, tells the waiting request it may answer."""
    event = threading.Event()
    Container._handle_data_writing(io.BytesIO(), chunk.encode(), event)
    return event.is_set()


def test_sams_own_check_misses_report_behind_two_lines_in_a_chunk() -> None:
    # The defect: SAM CLI 1.170.0's check, as it ships, on the chunk the functions' output often forms.
    assert re.match(ORIGINAL_REPORT_PATTERN, END + REPORT) is not None
    assert re.match(ORIGINAL_REPORT_PATTERN, METRICS + END + REPORT) is None


@pytest.mark.parametrize(
    "chunk",
    [REPORT, END + REPORT, METRICS + END + REPORT, f"START RequestId: {REQUEST_ID}\n" + METRICS + END + REPORT],
)
def test_patched_emulator_releases_the_answer_whatever_lines_precede_report(
    chunk: str,
) -> None:
    assert report_seen(chunk)


@pytest.mark.parametrize(
    "chunk",
    [METRICS + END, f'{{"message": "{REPORT.strip()}"}}\n', "REPORT RequestId: partial line\n"],
)
def test_patched_emulator_keeps_waiting_for_a_chunk_without_a_report_line(chunk: str) -> None:
    assert not report_seen(chunk)


class ThreeFunctions:
    def get_all(self) -> list[SimpleNamespace]:
        return [SimpleNamespace(name=name) for name in ("SklearnFunction", "PytorchFunction", "AstromechFunction")]


@pytest.fixture
def eager_context(monkeypatch: pytest.MonkeyPatch) -> InvokeContext:
    """An EAGER InvokeContext over three functions whose containers are recorded, not started; creating
    SAM's image builder takes 50 ms, as it can on a loaded machine, which widens the race."""
    context = InvokeContext(
        template_file=str(REPO / "template.yaml"), warm_container_initialization_mode="EAGER", no_watch=True
    )
    context._function_provider = ThreeFunctions()
    context._stacks = []
    real_image_init = LambdaImage.__init__

    def slow_image_init(self: LambdaImage, *args: object, **kwargs: object) -> None:
        time.sleep(0.05)
        real_image_init(self, *args, **kwargs)

    def run(self: WarmLambdaRuntime, container: None, function_config: SimpleNamespace, **_: object) -> SimpleNamespace:
        return SimpleNamespace(id=f"{function_config.name}@{id(self)}")

    monkeypatch.setattr(LambdaImage, "__init__", slow_image_init)
    monkeypatch.setattr(LocalLambdaRunner, "get_invoke_config", lambda self, function: function)
    monkeypatch.setattr(WarmLambdaRuntime, "run", run)
    monkeypatch.setattr(InvokeContext, "_wait_for_containers_readiness", lambda self, ids: None)
    return context


def test_sams_lazy_runtime_gives_racing_threads_different_runtimes(
    eager_context: InvokeContext,
) -> None:
    # The defect's root, in code the patch leaves as it is: the property creates a runtime without a lock.
    runtimes: list[object] = []
    threads = [threading.Thread(target=lambda: runtimes.append(eager_context.lambda_runtime)) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len({id(runtime) for runtime in runtimes}) > 1


def test_patched_emulator_starts_eager_containers_in_the_runtime_that_serves_requests(
    eager_context: InvokeContext,
) -> None:
    started = eager_context._initialize_all_functions_containers()

    serving = id(eager_context.local_lambda_runner.local_runtime)
    assert serving == id(eager_context.lambda_runtime)
    assert sorted(started) == [
        f"{name}@{serving}" for name in ("AstromechFunction", "PytorchFunction", "SklearnFunction")
    ]


def test_projects_sam_cli_is_patched_by_make_setup() -> None:
    assert patch_sam_cli.hunk_states() == [True] * len(HUNKS)


@pytest.fixture
def unpatched_copy(tmp_path: Path) -> Path:
    """The patched files of the installed SAM CLI, copied and turned back into SAM CLI 1.170.0's own."""
    for hunk in HUNKS:
        target = tmp_path / hunk.file
        target.parent.mkdir(parents=True, exist_ok=True)
        if not target.exists():
            shutil.copyfile(patch_sam_cli.SAMCLI_DIR / hunk.file, target)
        target.write_text(target.read_text().replace(hunk.patched, hunk.original))
    return tmp_path


def test_patching_sam_cli_1_170_0_twice_changes_nothing_the_second_time(unpatched_copy: Path) -> None:
    assert patch_sam_cli.hunk_states(unpatched_copy) == [False] * len(HUNKS)

    assert patch_sam_cli.apply(unpatched_copy, "1.170.0") == len(HUNKS)
    assert patch_sam_cli.apply(unpatched_copy, "1.170.0") == 0

    for hunk in HUNKS:
        assert (unpatched_copy / hunk.file).read_text() == (patch_sam_cli.SAMCLI_DIR / hunk.file).read_text()


def test_patching_another_sam_cli_version_is_refused_and_changes_nothing(
    unpatched_copy: Path,
) -> None:
    with pytest.raises(PatchError, match=r"SAM CLI is 1\.171\.0; this patch is for 1\.170\.0"):
        patch_sam_cli.apply(unpatched_copy, "1.171.0")

    assert patch_sam_cli.hunk_states(unpatched_copy) == [False] * len(HUNKS)


def test_patching_source_the_patch_does_not_know_is_refused(unpatched_copy: Path) -> None:
    container = unpatched_copy / HUNKS[0].file
    container.write_text(container.read_text().replace(HUNKS[0].original, "        pattern = r'REPORT'\n"))

    with pytest.raises(PatchError, match="neither the original nor the patched text"):
        patch_sam_cli.apply(unpatched_copy, "1.170.0")
