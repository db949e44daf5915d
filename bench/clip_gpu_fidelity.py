"""Does crisisdesk's CUDA CLIP compute what open_clip's fp32 model computes?

On a GPU :class:`ClipEncoder` runs every weight in fp16 (LayerNorms too) and folds
QuickGELU into SiLU (``clip_loading.fold_quick_gelu``). This loads one random-weight
checkpoint three ways (crisisdesk on the GPU, plain open_clip fp32 on the CPU, and
open_clip's own "fp16" precision on the GPU, the usual way) and prints the smallest
cosine similarity of each image and text vector to the fp32 one. Random weights are the
hard case (trained models have tamer activations). Needs CUDA; prints one JSON line.

    python bench/clip_gpu_fidelity.py --arch ViT-L-14-quickgelu
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# This checkout's crisisdesk first: run from a copy, the editable install's is another tree.
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

from embed_bench import random_checkpoint  # noqa: E402
from import_bench import make_fixture  # noqa: E402

TEXTS = ["flood water covers the main road near the bridge",
         "volunteers hand out water and food at the shelter " * 6,  # windowed
         "RT @user: earthquake damage downtown, buildings collapsed #quake",
         "thoughts and prayers"]


def min_cosine(a, b) -> float:
    import numpy as np

    a = a / np.linalg.norm(a, axis=1, keepdims=True)
    b = b / np.linalg.norm(b, axis=1, keepdims=True)
    return round(float((a * b).sum(axis=1).min()), 5)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arch", default="ViT-L-14-quickgelu")
    parser.add_argument("--images", type=int, default=16)
    parser.add_argument("--device", default="cuda", help="cpu only to try the script")
    args = parser.parse_args()

    import open_clip
    import torch

    from crisisdesk.core.encoders.clip import ClipEncoder

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        make_fixture(work / "posts", args.images)
        paths = sorted((work / "posts").rglob("*.jpg"))[:args.images]
        checkpoint = random_checkpoint(args.arch, work)
        gpu = ClipEncoder.load("gpu", arch=args.arch, route="file", source=checkpoint,
                               device=args.device)
        cpu = ClipEncoder.load("cpu", arch=args.arch, route="file", source=checkpoint,
                               device="cpu")
        images = [cpu.load_image(p) for p in paths]
        ours_img, _ = gpu.encode_images(images)
        ref_img, _ = cpu.encode_images(images)
        ours_txt = gpu.encode_texts(TEXTS).vectors
        ref_txt = cpu.encode_texts(TEXTS).vectors
        # open_clip's usual fp16 (LayerNormFp32, QuickGELU as is) on the same input.
        cuda = args.device.startswith("cuda")
        usual = open_clip.create_model(args.arch, pretrained=str(checkpoint),
                                       precision="fp16" if cuda else "fp32",
                                       device=args.device).eval()
        with torch.inference_mode():
            batch = cpu.model_input(images).to(args.device,
                                               torch.float16 if cuda else torch.float32)
            usual_img = usual.encode_image(batch).float().cpu().numpy()
        figures = {"arch": args.arch, "device": torch.cuda.get_device_name(0) if cuda else "cpu",
                   "images": len(images), "texts": len(TEXTS),
                   "crisisdesk_gpu_vs_fp32_image_min_cos": min_cosine(ours_img, ref_img),
                   "crisisdesk_gpu_vs_fp32_text_min_cos": min_cosine(ours_txt, ref_txt),
                   "open_clip_fp16_vs_fp32_image_min_cos": min_cosine(usual_img, ref_img)}
        print(json.dumps(figures), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
