"""The app's start-up preload imports what the project's jobs will use, and only that: a
text-only project with MiniLM never loads transformers or open_clip (~550 MB, seconds);
a project with images gets the image encoder's and captioner's libraries."""

from __future__ import annotations

from pathlib import Path

from offline_python import run_offline
from test_item_model import build_large_project

from crisisdesk.core.project import Project
from crisisdesk.gui import job_libraries

HEAVY = ("transformers", "open_clip", "torchvision", "timm", "torch._dynamo")


def test_the_preload_of_a_text_only_project_leaves_transformers_and_open_clip_out(
        tmp_path: Path) -> None:
    project = build_large_project(tmp_path / "project", 50)
    code = (
        "import sys\n"
        "from crisisdesk.core.project import Project\n"
        "from crisisdesk.gui import job_libraries as libraries\n"
        f"heavy = {HEAVY!r}\n"
        "libraries.preload_job_modules()\n"
        "print('start', sorted(m for m in heavy if m in sys.modules))\n"
        f"project = Project.open({str(project.root)!r})\n"
        # The app's default settings: CLIP for images, MiniLM for texts.
        "took = libraries.preload_project_modules(project, 'clip-vit-b-32', 'minilm')\n"
        "print('project', sorted(m for m in heavy if m in sys.modules), sorted(took))\n"
        "print('torch', 'torch' in sys.modules)\n")
    out = run_offline(code)
    lines = out.stdout.splitlines()
    assert lines[:1] == ["start []"], (out.stdout, out.stderr[-2000:])
    assert out.returncode == 0, out.stderr[-2000:]
    assert lines[1:] == ["project [] []", "torch True"]


def test_a_project_with_images_preloads_its_image_encoder_and_captioner(
        demo_like_project: Project, tmp_path: Path) -> None:
    wanted = job_libraries.project_modules(demo_like_project, "clip-vit-b-32", "minilm")
    assert "open_clip" in wanted and "transformers" in wanted
    assert job_libraries.embed_modules(demo_like_project, "clip-vit-b-32", "image")
    text_only = build_large_project(tmp_path / "text-only", 5)
    assert job_libraries.project_modules(text_only, "clip-vit-b-32", "minilm") == ()
    # Its Embed of images loads no model (nothing to encode): nothing to import for it.
    assert job_libraries.embed_modules(text_only, "clip-vit-b-32", "image") == ()
    assert job_libraries.embed_modules(text_only, "minilm", "text") == ()
