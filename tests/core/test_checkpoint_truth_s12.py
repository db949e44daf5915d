"""A damaged model version must be named for what happened to it: a weights file cut
short by a partial copy is not "another save", and a head is labelled with the classes it
was trained with (its sidecar's), never with a store record's or a scheme's other list."""

from __future__ import annotations

import hashlib
import json
import struct
from pathlib import Path

import pytest
import torch
from test_explain_truth_s10 import images_only, tiny  # noqa: F401 (fixtures)
from test_fusion_checkpoint import TinyConfig, TinyHead, build_tiny, sidecar_for
from test_project_move import _project  # tests/core/ is on sys.path (pytest)
from test_received_project_s12 import _spoil

from crisisdesk.core.explain.item import explainer_for, forget_loaded
from crisisdesk.core.fusion.checkpoint import CheckpointError, load_head, save_head
from crisisdesk.core.fusion.evaluate import evaluate
from crisisdesk.core.fusion.predict import NoModel, PredictJob, load_version, predict_items
from crisisdesk.core.project import Project
from crisisdesk.core.retrain import reactivate_version, version_predictions

ANOTHER_SAVE = "another save replaced"
WHAT_TO_DO = ("copy the model folder again", "make another")


@pytest.fixture
def saved(tmp_path: Path) -> Path:
    """A tiny head's checkpoint; the sidecar's path."""
    torch.manual_seed(0)
    return save_head(tmp_path / "models", "damage-tiny", TinyHead(TinyConfig(n_classes=3)),
                     sidecar_for(TinyConfig(n_classes=3)))


def _refusal(path: Path) -> str:
    with pytest.raises(CheckpointError) as caught:
        load_head(path, build=build_tiny)
    return str(caught.value)


def _says_what_to_do(message: str) -> None:
    for words in WHAT_TO_DO:
        assert words in message.lower(), message


# -- a weights file that is not the one its sidecar was written with ---------------------

@pytest.mark.parametrize("where", ["tensors", "header"])
def test_weights_cut_short_by_a_partial_copy_say_so(saved: Path, where: str) -> None:
    weights = saved.with_suffix(".safetensors")
    whole = weights.read_bytes()
    header = struct.unpack("<Q", whole[:8])[0]
    # Cut among the tensors' bytes, or inside the JSON header itself.
    cut = (8 + header + len(whole)) // 2 if where == "tensors" else 8 + header // 2
    weights.write_bytes(whole[:cut])
    message = _refusal(saved)
    assert ANOTHER_SAVE not in message
    assert "cut short" in message and str(weights) in message
    # The file's length, and the length its header says it has.
    said = len(whole) if where == "tensors" else 8 + header
    assert f"{cut} bytes" in message and f"{said}" in message, message
    _says_what_to_do(message)


def test_an_empty_weights_file_says_it_is_empty(saved: Path) -> None:
    weights = saved.with_suffix(".safetensors")
    weights.write_bytes(b"")
    message = _refusal(saved)
    assert ANOTHER_SAVE not in message and "empty" in message
    _says_what_to_do(message)


def test_weights_that_are_not_safetensors_say_so(saved: Path) -> None:
    weights = saved.with_suffix(".safetensors")
    weights.write_bytes(b"<html>503 Service Unavailable</html>" * 4)  # a failed download
    message = _refusal(saved)
    assert ANOTHER_SAVE not in message
    assert "not readable as safetensors" in message
    _says_what_to_do(message)


def test_complete_weights_of_other_bytes_name_the_sha_difference(saved: Path) -> None:
    torch.manual_seed(5)
    other = save_head(saved.parent, "other", TinyHead(TinyConfig(n_classes=3)),
                      sidecar_for(TinyConfig(n_classes=3)))
    weights = saved.with_suffix(".safetensors")
    other.with_suffix(".safetensors").replace(weights)
    message = _refusal(saved)
    sha = hashlib.sha256(weights.read_bytes()).hexdigest()
    recorded = json.loads(saved.read_text(encoding="utf-8"))["weights_sha256"]
    assert "sha256" in message and sha[:12] in message and recorded[:12] in message
    assert "not the ones its sidecar was written with" in message
    _says_what_to_do(message)


# -- the classes a head's probabilities are labelled with ----------------------------------

def _sidecar_labelled(project: Project, items: list[int]) -> dict[int, dict[str, float]]:
    """What the active damage head gives ``items``, labelled with its sidecar's classes."""
    with project.open_store() as store:
        version = store.active_model_version("damage")
        model, sidecar = load_version(version)
        kept, probs = predict_items(store, model, sidecar, items)
    return {item: dict(zip(sidecar["classes"], map(float, row), strict=True))
            for item, row in zip(kept, probs, strict=True)}


def test_predict_labels_with_the_sidecars_classes_not_the_records(tmp_path: Path) -> None:
    project = _project(tmp_path, n=60)
    with project.open_store() as store:
        version = store.active_model_version("damage")
        classes = json.loads(Path(version["path"]).read_text(encoding="utf-8"))["classes"]
    # A crafted (or damaged) record: the same classes in another order.
    _spoil(project, "UPDATE model_versions SET config = json_set(config, '$.classes',"
           " json(?)) WHERE id = ?", [json.dumps(classes[::-1]), version["id"]])
    job = PredictJob(project, ["damage"])
    list(job.run())
    assert "error" not in job.report.tasks["damage"]
    with project.open_store() as store:
        stored = store.predictions_of(version["id"], range(1, 200))
        items = sorted(stored)
        predicted = version_predictions(store, "damage", store.model_version(version["id"]),
                                        items)
    expected = _sidecar_labelled(project, items)
    assert {i: max(p, key=p.__getitem__) for i, p in stored.items()} == \
        {i: max(p, key=p.__getitem__) for i, p in expected.items()}
    # retrain compares versions on the same labels
    assert predicted == {i: max(p, key=p.__getitem__) for i, p in expected.items()}


def test_a_head_whose_classes_are_not_the_schemes_is_refused(tmp_path: Path) -> None:
    project = _project(tmp_path, n=60)
    with project.open_store() as store:
        version = store.active_model_version("damage")
    sidecar_path = Path(version["path"])
    sidecar = json.loads(sidecar_path.read_text(encoding="utf-8"))
    trained = sidecar["classes"]
    sidecar["classes"] = trained[::-1]  # the head's own file, crafted or from elsewhere
    sidecar_path.write_text(json.dumps(sidecar), encoding="utf-8")
    job = PredictJob(project, ["damage"])
    with pytest.raises(NoModel, match=version["name"]) as caught:
        list(job.run())
    for text in (str(caught.value), job.report.tasks["damage"]["error"]):
        assert version["name"] in text
        assert str(trained[::-1]) in text and str(trained) in text, text
    assert job.report.tasks["damage"]["predicted"] == 0
    with project.open_store() as store:
        with pytest.raises(CheckpointError, match="classes"):
            evaluate(store, "damage", "test")
        with pytest.raises(CheckpointError, match="classes"):
            explainer_for(store, "damage", version, device="cpu")
        with pytest.raises(CheckpointError, match="cannot be made active.*classes"):
            reactivate_version(store, version["id"])


def test_zero_shot_explanations_use_the_schemes_classes_not_the_records(
        images_only: Project) -> None:  # noqa: F811
    with images_only.open_store() as store:
        version = store.active_model_version("informative")
        scheme = list(store.schemes()["informative"].classes)
    for config in (json.dumps({"zero_shot": True, "classes": scheme[::-1]}), "{not json"):
        _spoil(images_only, "UPDATE model_versions SET config = ? WHERE id = ?",
               [config, version["id"]])
        forget_loaded()
        with images_only.open_store() as store:
            explainer = explainer_for(store, "informative",
                                      store.model_version(version["id"]), device="cpu")
        assert explainer.classes == scheme
    forget_loaded()


def test_the_shipped_heads_are_trained_with_the_built_in_schemes_classes() -> None:
    """predict, eval and explain refuse a head whose classes are not its task's scheme's,
    in order (check_classes): a scheme file reordered, or a head retrained under another
    order, would make every fresh install refuse its shipped heads."""
    import json
    from pathlib import Path

    from crisisdesk.core.schemes import builtin_schemes

    heads = Path(__file__).resolve().parents[2] / "resources" / "heads"
    sidecars = sorted(heads.glob("*.json"))
    assert {p.stem for p in sidecars} == set(builtin_schemes())
    for sidecar in sidecars:
        config = json.loads(sidecar.read_text(encoding="utf-8"))
        assert config["task"] == sidecar.stem
        assert list(config["classes"]) == list(builtin_schemes()[sidecar.stem].classes)
