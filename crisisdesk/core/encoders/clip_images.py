"""The CPU half of CLIP image encoding: decode, orient and preprocess one image file.

Kept apart from the model so that worker processes can run it (it pickles small), and
so that the model module stays about the model. open_clip's usual resize and centre crop
run here in Pillow alone (:class:`PillowSteps`): a decoder process then never imports
torch, and the pool's fork server starts in a fraction of a second instead of seconds.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from crisisdesk.core.imaging import open_image, upright_rgb

if TYPE_CHECKING:
    import torch
    from PIL import Image as PILImage

#: The longest side an image keeps, in multiples of its shortest, before the resize.
#: CLIP's resize scales the shortest side to the input size: a 20000x1 strip (a 143-byte
#: PNG the import accepts) became 224 x 4,480,000 pixels (4.8 GB, 13 s), a 100000x1 one
#: ran out of memory, all for the centre crop's 224 x 224.
MAX_ASPECT = 100


#: torchvision's interpolation modes (their ``value``) and Pillow's resampling filters
#: (torchvision's own ``pil_modes_mapping``). NEAREST_EXACT has no Pillow filter.
_RESAMPLE = {"nearest": 0, "lanczos": 1, "bilinear": 2, "bicubic": 3, "box": 4, "hamming": 5}


@dataclass(frozen=True)
class PillowSteps:
    """torchvision's Resize / CenterCrop / mode conversion done with Pillow alone, step
    for step as torchvision does them on a Pillow image (same sizes, same rounding, same
    filter), so the pixels are identical (tests/core/test_clip_pillow_steps.py).

    Why: a decoder process that unpickles torchvision transforms imports torch first
    (3-5 s); the pool's fork server preloaded torch and open_clip for that, and on an
    H200 the first batch of a 2,000-image ViT-L-14 job waited 3.7 s for it (the job's
    other batches took 0.75 s). Each step is ("resize", size, max_size, filter),
    ("crop", height, width) or ("mode", mode).
    """

    steps: tuple[tuple[Any, ...], ...]

    @classmethod
    def of(cls, transforms: Sequence[Any]) -> PillowSteps | None:
        """The steps of a list of transforms, or None if one is not a step this knows."""
        steps: list[tuple[Any, ...]] = []
        for step in transforms:
            kind = type(step).__name__
            if kind == "Resize" and type(step).__module__.startswith("torchvision"):
                size = [step.size] if isinstance(step.size, int) else list(step.size)
                mode = getattr(step.interpolation, "value", None)
                if mode not in _RESAMPLE or len(size) not in (1, 2):
                    return None
                steps.append(("resize", tuple(size), step.max_size, _RESAMPLE[mode]))
            elif kind == "CenterCrop" and type(step).__module__.startswith("torchvision"):
                height, width = step.size  # torchvision keeps (h, w)
                steps.append(("crop", int(height), int(width)))
            elif kind == "MaybeConvertMode":  # open_clip: convert when the mode differs
                steps.append(("mode", step.mode))
            elif getattr(step, "__name__", "") == "_convert_to_rgb":  # older open_clip
                steps.append(("mode", "RGB"))
            else:
                return None
        return cls(tuple(steps))

    def __call__(self, image: PILImage.Image) -> PILImage.Image:
        for step in self.steps:
            if step[0] == "resize":
                image = _resize(image, *step[1:])
            elif step[0] == "crop":
                image = _centre_crop(image, step[1], step[2])
            elif image.mode != step[1]:
                image = image.convert(step[1])
        return image


def _resize(image: PILImage.Image, size: tuple[int, ...], max_size: int | None,
            resample: int) -> PILImage.Image:
    """torchvision.transforms.functional.resize on a Pillow image."""
    width, height = image.size
    if len(size) == 2:
        new_height, new_width = size
    else:
        short, long = (width, height) if width <= height else (height, width)
        new_short, new_long = size[0], int(size[0] * long / short)
        if max_size is not None and new_long > max_size:
            new_short, new_long = int(max_size * new_short / new_long), max_size
        new_width, new_height = (new_short, new_long) if width <= height else \
            (new_long, new_short)
    if (new_width, new_height) == (width, height):
        return image
    return image.resize((new_width, new_height), resample)


def _centre_crop(image: PILImage.Image, height: int, width: int) -> PILImage.Image:
    """torchvision.transforms.functional.center_crop on a Pillow image (black padding
    where the crop is larger than the image, split as torchvision splits it)."""
    from PIL import Image

    image_width, image_height = image.size
    if width > image_width or height > image_height:
        left = (width - image_width) // 2 if width > image_width else 0
        top = (height - image_height) // 2 if height > image_height else 0
        padded = Image.new(image.mode, (max(width, image_width), max(height, image_height)))
        padded.paste(image, (left, top))
        image = padded
        image_width, image_height = image.size
        if (width, height) == (image_width, image_height):
            return image
    top = int(round((image_height - height) / 2.0))
    left = int(round((image_width - width) / 2.0))
    return image.crop((left, top, left + width, top + height))


class ClipImageLoader:
    """Decode and preprocess one image file: the CPU half of image encoding.

    Kept apart from the model so that worker processes can run it: it pickles small,
    and with :class:`PillowSteps` it needs no torch (see there why that matters).
    """

    def __init__(self, input_side: int, pil_steps: Any, preprocess: Any) -> None:
        self.input_side, self.pil_steps = input_side, pil_steps
        # Only used without Pillow steps; not kept otherwise, since it would make the
        # loader unpickle torchvision (and so torch) in every decoder process.
        self.preprocess = preprocess if pil_steps is None else None

    def __call__(self, path: Path) -> np.ndarray | torch.Tensor:
        """The image's pixels: a [C, H, W] uint8 array after the Pillow steps (scaling and
        normalising run batched on the device: ClipEncoder.model_input), or the full
        preprocess's float tensor for transforms of another shape."""
        from PIL import Image

        path = Path(path)
        try:
            with open_image(path) as image:
                if image.format == "JPEG":
                    # Decode at 1/2, 1/4 or 1/8 scale when both sides stay >= the model's
                    # input size: Pillow picks the largest such scale (or none).
                    image.draft("RGB", (self.input_side, self.input_side))
                image.load()
                image = upright_rgb(image)
            image = centre_of(image, MAX_ASPECT)
        except FileNotFoundError:
            raise
        except Image.DecompressionBombError as exc:
            raise ValueError(f"{path}: image too large to decode safely ({exc})") from exc
        except Exception as exc:  # Pillow raises OSError, SyntaxError, EOFError, struct.error...
            reason = str(exc) or type(exc).__name__
            raise OSError(f"{path}: not a readable image ({reason})") from exc
        if self.pil_steps is None:
            return self.preprocess(image)
        # Resize and crop here; scaling to [0, 1] and the mean/std normalisation run
        # batched on the device (model_input), on 4x fewer bytes.
        pixels = np.asarray(self.pil_steps(image), dtype=np.uint8)
        return np.ascontiguousarray(pixels.transpose(2, 0, 1))


# -- helpers -----------------------------------------------------------------------------

def centre_of(image: PILImage.Image, max_aspect: int) -> PILImage.Image:
    """``image``, or its centre cut to at most ``max_aspect`` times as long as it is wide
    (or high): what a shortest-side resize and a centre crop keep of a thin strip, at a
    bounded size. An image within the ratio is handed back as it is."""
    width, height = image.size
    short, long = min(width, height), max(width, height)
    keep = short * max_aspect
    if long <= keep:
        return image
    keep += (long - keep) % 2  # an even margin: the cut's centre is the image's centre
    start = (long - keep) // 2
    box = (start, 0, start + keep, height) if width > height else (0, start, width,
                                                                     start + keep)
    return image.crop(box)


def split_preprocess(preprocess: Any) -> tuple[Any, tuple[float, ...], tuple[float, ...]]:
    """(the Pillow steps, mean, std) of an open_clip eval transform that ends with
    to-tensor + normalise; (None, (0,), (1,)) when it has another shape. The steps are
    :class:`PillowSteps` where each is one it knows (open_clip's usual ones), else
    torchvision's."""
    from torchvision import transforms

    steps = list(getattr(preprocess, "transforms", []))
    if len(steps) >= 2 and type(steps[-2]).__name__ in ("MaybeToTensor", "ToTensor") and \
            isinstance(steps[-1], transforms.Normalize):
        pillow = PillowSteps.of(steps[:-2]) or transforms.Compose(steps[:-2])
        return pillow, tuple(steps[-1].mean), tuple(steps[-1].std)
    return None, (0.0,), (1.0,)


def torch_from_hwc(pixels: np.ndarray) -> torch.Tensor:
    """An [H, W, C] uint8 array as a contiguous [C, H, W] uint8 tensor.

    Contiguous on purpose: a permuted view makes every later ``torch.stack`` a strided
    uint8 copy (measured: 3 s per batch of 256 224x224 images, against ~10 ms for a
    plain copy), which capped the GPU pipeline at ~900 images/s.
    """
    import torch

    return torch.from_numpy(np.ascontiguousarray(pixels.transpose(2, 0, 1)))
