"""`crisisdesk versions` and `crisisdesk train --no-activate`: an older model version can
be found and made active again from the command line at any time (before, only the app's
retrain report listed versions, and only right after a retrain)."""

from __future__ import annotations

import json
import subprocess
import sys

from test_training_job import _project

from crisisdesk.cli import main
from crisisdesk.core.fusion.checkpoint import checkpoint_paths
from crisisdesk.core.fusion.versions import summarise_versions

TRAIN = ["--task", "damage", "--text-encoder", "txt-enc", "--head", "mlp", "--epochs", "3"]


def _versions(project) -> list:
    with project.open_store() as store:
        return summarise_versions(store, "damage")


def test_versions_lists_each_version_with_its_figures_and_marks_the_active(tmp_path,
                                                                           capsys) -> None:
    project = _project(tmp_path, n=120)
    assert main(["train", str(project.root), *TRAIN]) == 0
    assert main(["train", str(project.root), *TRAIN, "--seeds", "2"]) == 0
    capsys.readouterr()
    assert main(["versions", str(project.root), "--task", "damage"]) == 0
    out = capsys.readouterr().out
    newest, oldest = _versions(project)
    assert newest.active and not oldest.active and newest.id > oldest.id
    lines = out.splitlines()
    assert lines[0] == "damage (2 versions)"
    assert lines[1] == f"  * {newest.id}  {newest.name}  (active)"
    assert lines[4] == f"    {oldest.id}  {oldest.name}"
    assert "trained" in lines[2] and "text_only on text txt-enc" in lines[2]
    # The figures are the registered head's own, on the split it was scored on.
    assert f"dev: accuracy {oldest.accuracy:.1%}, macro F1 {oldest.macro_f1:.1%}" in lines[6]
    assert "(best of 2 seeds)" in lines[3] and "best of" not in lines[6]
    assert newest.seeds == 2 and oldest.seeds == 1


def test_activate_makes_an_older_version_active_and_says_what_it_has_not_predicted(
        tmp_path, capsys) -> None:
    project = _project(tmp_path, n=120)
    assert main(["train", str(project.root), *TRAIN]) == 0
    assert main(["predict", str(project.root), "--task", "damage"]) == 0
    assert main(["train", str(project.root), *TRAIN]) == 0
    newest, oldest = _versions(project)
    assert oldest.predicted == 120 and newest.predicted == 0
    capsys.readouterr()
    assert main(["versions", str(project.root), "--activate", str(oldest.id)]) == 0
    out = capsys.readouterr().out
    assert f"damage: version {oldest.id} {oldest.name} is active (was {newest.id}" in out
    assert "no prediction" not in out  # it predicted all 120 before
    assert [v.active for v in _versions(project)] == [False, True]
    # And back: the newest has predicted nothing yet, which the command says.
    assert main(["versions", str(project.root), "--activate", str(newest.id)]) == 0
    out = capsys.readouterr().out
    assert f"120 items have no prediction from it yet: run crisisdesk predict " \
           f"{project.root} --task damage" in out


def test_a_version_whose_checkpoint_is_gone_is_listed_as_such_and_not_activated(
        tmp_path, capsys) -> None:
    project = _project(tmp_path, n=120)
    assert main(["train", str(project.root), *TRAIN]) == 0
    assert main(["train", str(project.root), *TRAIN]) == 0
    newest, oldest = _versions(project)
    weights, _ = checkpoint_paths(project.folder("models") / oldest.name)
    weights.unlink()
    (gone,) = [v for v in _versions(project) if v.id == oldest.id]
    assert gone.missing == f"{weights} is gone"
    capsys.readouterr()
    assert main(["versions", str(project.root), "--activate", str(oldest.id)]) == 2
    assert "cannot be made active" in capsys.readouterr().err
    assert [v.active for v in _versions(project)] == [True, False]  # unchanged


def test_activate_an_unknown_version_or_list_an_unknown_task_exits_2(tmp_path,
                                                                     capsys) -> None:
    project = _project(tmp_path, n=120)
    assert main(["versions", str(project.root), "--activate", "99"]) == 2
    assert "no model version 99 in this project" in capsys.readouterr().err
    assert main(["versions", str(project.root), "--task", "nope"]) == 2
    assert "unknown task 'nope'" in capsys.readouterr().err
    assert main(["versions", str(project.root), "--task", "damage"]) == 0
    assert "damage: no versions yet" in capsys.readouterr().out


def test_train_no_activate_registers_without_switching(tmp_path, capsys) -> None:
    project = _project(tmp_path, n=120)
    assert main(["train", str(project.root), *TRAIN]) == 0
    assert main(["train", str(project.root), *TRAIN, "--no-activate"]) == 0
    newest, first = _versions(project)
    assert first.active and not newest.active
    out = capsys.readouterr().out
    assert f"Registered damage version {newest.id} {newest.name}, not active: " \
           f"crisisdesk versions {project.root} --activate {newest.id}" in out


def test_versions_json_is_machine_readable_and_listing_imports_no_torch(tmp_path,
                                                                        capsys) -> None:
    project = _project(tmp_path, n=120)
    assert main(["train", str(project.root), *TRAIN]) == 0
    capsys.readouterr()
    assert main(["versions", str(project.root), "--json"]) == 0
    listing = json.loads(capsys.readouterr().out)
    (damage,) = listing["damage"]
    assert damage["active"] is True and damage["kind"] == "trained"
    assert damage["variant"] == "text_only" and damage["scored_split"] == "dev"
    # Listing is instant: it must not load torch (seconds) to read a table.
    code = ("import sys; from crisisdesk.cli import main; "
            f"main(['versions', {str(project.root)!r}]); "
            "sys.exit(3 if 'torch' in sys.modules else 0)")
    assert subprocess.run([sys.executable, "-c", code], capture_output=True).returncode == 0


def test_predict_removes_the_predictions_no_queue_shows_and_keeps_the_rest(tmp_path,
                                                                           capsys) -> None:
    # Each retrain's predictions were kept for good: ~250 MB per retrain at 200,000
    # items, read by nothing (queues, panel and export show the active version's).
    project = _project(tmp_path, n=120)
    root = str(project.root)
    fusion = ["--task", "damage", "--encoder", "img-enc", "--text-encoder", "txt-enc",
              "--epochs", "2"]
    assert main(["train", root, *fusion]) == 0
    assert main(["predict", root, "--task", "damage"]) == 0
    assert main(["train", root, *fusion]) == 0
    # The newest image-only and text-only versions feed the "image vs text" queue.
    assert main(["train", root, "--task", "damage", "--encoder", "img-enc", "--epochs",
                 "2", "--no-activate"]) == 0
    assert main(["train", root, *TRAIN, "--no-activate"]) == 0
    capsys.readouterr()
    assert main(["predict", root, "--task", "damage"]) == 0
    assert "120 predictions of its older versions removed" in capsys.readouterr().out
    text_only, image_only, second, first = _versions(project)
    assert second.active
    assert [v.predicted for v in (text_only, image_only, second, first)] == [120] * 3 + [0]
    # The first made active again predicts again; the one it replaced loses its rows.
    assert main(["versions", root, "--activate", str(first.id)]) == 0
    assert main(["predict", root, "--task", "damage"]) == 0
    predicted = {v.id: v.predicted for v in _versions(project)}
    assert predicted == {text_only.id: 120, image_only.id: 120, second.id: 0,
                         first.id: 120}
    capsys.readouterr()
    assert main(["predict", root, "--task", "damage"]) == 0  # nothing left to remove
    assert "removed" not in capsys.readouterr().out
