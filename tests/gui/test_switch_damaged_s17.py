"""A retrain's Switch refuses a new version whose checkpoint files are there but damaged.

A version whose files were deleted was refused (test_switch_leftovers_s16); one whose
weights file was cut short (a partial copy, a full disk), overwritten with other bytes,
or whose sidecar was spoilt (not JSON, or a config whose tensors the weights do not
hold) was still made active, and every later Predict of the task failed. The switch now
loads the pair before it activates it: the task keeps its version that loads, the
refusal names the file, and the other tasks still switch.

The retrain is test_switch_mixed_s15's (this file is in tests/gui only to share it;
nothing here needs a window).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from test_switch_mixed_s15 import _informative_refused, _mixed_retrain

from crisisdesk.core.fusion.checkpoint import checkpoint_paths
from crisisdesk.core.project import Project
from crisisdesk.core.retrain import SwitchRefused, apply_retrain


def _cut_short(weights: Path, _sidecar: Path) -> Path:
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    return weights


def _garbage(weights: Path, _sidecar: Path) -> Path:
    weights.write_bytes(b"<html>not found</html>" * 10)
    return weights


def _sidecar_not_json(_weights: Path, sidecar: Path) -> Path:
    sidecar.write_text(sidecar.read_text()[:40])
    return sidecar


def _sidecar_other_shapes(weights: Path, sidecar: Path) -> Path:
    # A hand edit of the config: the weights (unchanged, their sha256 still the one
    # recorded) no longer fit the head it describes.
    data = json.loads(sidecar.read_text())
    data["config"]["hidden"] = data["config"]["hidden"] * 2
    sidecar.write_text(json.dumps(data))
    return weights  # load_head names the weights that do not fit


DAMAGE: dict[str, Callable[[Path, Path], Path]] = {
    "weights-cut-short": _cut_short, "weights-garbage": _garbage,
    "sidecar-not-json": _sidecar_not_json, "sidecar-other-shapes": _sidecar_other_shapes}


@pytest.mark.parametrize("case", sorted(DAMAGE))
def test_a_new_version_whose_files_are_damaged_is_not_made_active(tmp_path, case) -> None:
    project, report, before = _mixed_retrain(tmp_path)
    informative = report.tasks["informative"]
    with project.open_store() as store:
        files = checkpoint_paths(store.model_version(informative.candidate)["path"])
    named = DAMAGE[case](*files)
    with pytest.raises(SwitchRefused) as caught:
        list(apply_retrain(project, report, override_tasks=["informative"]))
    said = str(caught.value)
    # The missing-file refusal's words, naming the damaged file.
    assert said.startswith(f"informative not switched: its new version "
                           f"{informative.candidate_name} cannot be made active"), said
    assert str(named) in said and "Run Retrain again for a new version" in said, said
    assert "\n" not in said  # one line: the jobs panel shows a failed job's message
    # The other task still switched; this one kept a version that still predicts.
    _informative_refused(project, report, before, caught.value)


def test_the_load_check_holds_no_write_lock(tmp_path, monkeypatch) -> None:
    """The pair is loaded before the write transaction: loading inside it would keep
    every other writer (the app's labels, another job) waiting while it loads."""
    import crisisdesk.core.retrain_switch as switch

    project, report, _ = _mixed_retrain(tmp_path)
    seen: list[bool] = []
    load = switch.load_version

    def loading(row):  # records whether the switch's connection is in a transaction
        seen.append(opened[0].conn.in_transaction)
        return load(row)

    opened: list = []
    open_store = Project.open_store

    def recording(self):
        store = open_store(self)
        opened.append(store)
        return store

    monkeypatch.setattr(switch, "load_version", loading)
    monkeypatch.setattr(Project, "open_store", recording)
    list(apply_retrain(project, report, override_tasks=["informative"]))
    assert seen and not any(seen), seen
