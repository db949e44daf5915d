"""CLIP's resize and centre crop in Pillow alone (clip_images.PillowSteps): the same
pixels as open_clip's torchvision transform, and a loader that decoder processes run
without importing torch (the fork server then starts in a fraction of a second)."""

from __future__ import annotations

import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from torchvision import transforms

from crisisdesk.core.encoders.clip_images import (
    ClipImageLoader,
    PillowSteps,
    split_preprocess,
)


def _photo(size: tuple[int, int], seed: int = 0) -> Image.Image:
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8))


SIZES = [(640, 480), (480, 640), (224, 224), (225, 224), (223, 1000), (1, 1), (7, 3),
         (300, 299), (1001, 333), (5000, 224)]


@pytest.mark.parametrize("size", SIZES, ids=[f"{w}x{h}" for w, h in SIZES])
def test_open_clip_eval_steps_give_the_same_pixels_in_pillow_alone(size) -> None:
    import open_clip

    for side in (224, 336):
        preprocess = open_clip.image_transform(side, is_train=False)
        steps, mean, std = split_preprocess(preprocess)
        assert isinstance(steps, PillowSteps), steps  # open_clip's usual transform
        torchvision_steps = transforms.Compose(preprocess.transforms[:-2])
        image = _photo(size)
        ours = np.asarray(steps(image))
        theirs = np.asarray(torchvision_steps(image))
        assert ours.shape == theirs.shape == (side, side, 3)
        assert np.array_equal(ours, theirs)
        assert mean == tuple(preprocess.transforms[-1].mean)


@pytest.mark.parametrize("compose", [
    transforms.Compose([transforms.CenterCrop(224)]),  # larger than the image: padded
    transforms.Compose([transforms.Resize((200, 300), transforms.InterpolationMode.BILINEAR),
                        transforms.CenterCrop((150, 151))]),
    transforms.Compose([transforms.Resize(100, max_size=120), transforms.CenterCrop(90)]),
    transforms.Compose([transforms.Resize([64], transforms.InterpolationMode.NEAREST)]),
], ids=["pad", "fixed-size-bilinear", "max-size", "nearest"])
def test_other_resizes_and_crops_match_torchvision(compose) -> None:
    steps = PillowSteps.of(compose.transforms)
    assert steps is not None
    for size in [(100, 50), (50, 101), (640, 480), (3, 3)]:
        image = _photo(size, seed=size[0])
        assert np.array_equal(np.asarray(steps(image)), np.asarray(compose(image))), size


def test_a_step_it_does_not_know_keeps_torchvision() -> None:
    compose = [transforms.Resize(224), transforms.ColorJitter(0.1), transforms.CenterCrop(224)]
    assert PillowSteps.of(compose) is None
    assert PillowSteps.of([transforms.Resize(224, interpolation=
                                             transforms.InterpolationMode.NEAREST_EXACT)]) \
        is None


def test_the_loader_gives_uint8_channels_first_pixels(tmp_path: Path) -> None:
    import open_clip

    preprocess = open_clip.image_transform(224, is_train=False)
    steps, _, _ = split_preprocess(preprocess)
    loader = ClipImageLoader(224, steps, preprocess)
    path = tmp_path / "photo.jpg"
    _photo((640, 480)).save(path, quality=95)
    pixels = loader(path)
    assert isinstance(pixels, np.ndarray) and pixels.dtype == np.uint8
    assert pixels.shape == (3, 224, 224) and pixels.flags["C_CONTIGUOUS"]


def test_a_pickled_loader_runs_in_a_process_that_never_imports_torch(tmp_path: Path) -> None:
    # What a decoder worker does: unpickle the job's function, decode. With torch needed
    # the fork server imported torch and open_clip first (measured on an H200: the first
    # batch of a 2,000-image ViT-L-14 job came after 3.7 s, 83% of the job).
    import open_clip

    from crisisdesk.core.embed import _Pixels
    from crisisdesk.core.files import file_sha256

    preprocess = open_clip.image_transform(224, is_train=False)
    steps, _, _ = split_preprocess(preprocess)
    path = tmp_path / "photo.png"
    _photo((300, 200)).save(path)
    expected = ClipImageLoader(224, steps, preprocess)(path)
    fn = tmp_path / "fn.pickle"
    fn.write_bytes(pickle.dumps(_Pixels(ClipImageLoader(224, steps, preprocess))))
    script = f"""
import pickle, sys
import numpy as np
from crisisdesk.core.store import ImageToEmbed
fn = pickle.loads(open({str(fn)!r}, 'rb').read())
pixels = fn(ImageToEmbed(sha256={file_sha256(path)!r}, path={str(path)!r}))
assert not isinstance(pixels, str), pixels
np.save({str(tmp_path / 'out.npy')!r}, pixels)
print(sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'torchvision', 'open_clip')))
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]", done.stdout
    assert np.array_equal(np.load(tmp_path / "out.npy"), expected)
