"""The libraries the app's jobs need, imported in the background once the window is
painted (torch and crisisdesk's job modules; open_clip and transformers only where the
project will use them), and the thread settings that keep a core for the UI while jobs
compute. Core never imports Qt; neither does this module."""

from __future__ import annotations

import gc
import importlib
import os
import sys
import threading
import time
from pathlib import Path

from crisisdesk.core.gpu_library_pages import release_unused_gpu_libraries

#: What every project's jobs import, in the order they need it. Loading torch's shared
#: libraries and registering its operators holds the GIL for ~0.3-0.5 s at a time (C
#: code that never lets go): paid mid-job, that froze the UI thread for as long
#: (measured: 0.7 s gaps of a 10 ms timer at the start of an embed job). Paid once, right
#: after the first paint, the analyst sees it as the app finishing its start, and no job
#: pays it again. MiniLM (the default text encoder) is a plain BERT that
#: crisisdesk.core.encoders.bert runs with torch, safetensors and tokenizers alone.
PRELOAD_MODULES = (
    "numpy",
    "torch",
    "safetensors.torch",
    "tokenizers",
    "crisisdesk.core.embed",
    "crisisdesk.core.encoders.factory",
    "crisisdesk.core.encoders.bert",
    "crisisdesk.core.encoders.text",
    "crisisdesk.core.fusion.predict",
    "crisisdesk.core.retrain",
    "crisisdesk.core.captions.job",
)
#: transformers' model code: the captioners (LLaVA) and any text encoder that is not a
#: plain BERT. Not preloaded for every project: it costs ~310 MB of memory and ~4 s
#: (transformers.modeling_utils imports image_utils, torchvision and torch._dynamo:
#: sympy, triton, inductor), and a text-only project with MiniLM never uses it.
TRANSFORMERS_MODULES = ("transformers", "transformers.modeling_utils")
#: The CLIP image encoder (open_clip imports torchvision and timm too: ~240 MB, ~5 s).
#: open_clip imports transformers itself (its Hugging Face text towers).
CLIP_MODULES = (*TRANSFORMERS_MODULES, "open_clip", "crisisdesk.core.encoders.clip")
#: A local captioner's (the caption job loads it whenever it runs).
CAPTION_MODULES = TRANSFORMERS_MODULES


def encoder_modules(encoder: str) -> tuple[str, ...]:
    """The libraries loading ``encoder`` imports beyond :data:`PRELOAD_MODULES`: none for
    a plain BERT (MiniLM), an encoder not installed or a text model folder whose files
    cannot be read (its job says so); transformers for another text model; open_clip
    for a CLIP (or a name not registered: taken for one)."""
    from crisisdesk.core.encoders.base import EncoderError
    from crisisdesk.core.encoders.factory import AD_HOC_PREFIX
    from crisisdesk.core.models.registry import ModelMissing, get_spec, locate

    if encoder.startswith(AD_HOC_PREFIX):
        return CLIP_MODULES
    try:
        spec = get_spec(encoder)
        if spec.kind != "text":
            return CLIP_MODULES if spec.kind == "clip" else ()
        folder = locate(spec).path
    except (KeyError, ModelMissing, OSError, ValueError):
        return ()  # the job reports it
    from crisisdesk.core.encoders.bert import plain_bert_folder

    try:
        plain = plain_bert_folder(Path(folder))
    except EncoderError:
        # A broken config.json or tokenizer.json: raised here, it stopped the start-up
        # preload (the images' libraries never came) and failed whatever job or overlay
        # asked, needing the model or not (an Embed with no text left to encode). Its
        # load fails on the same file before transformers is needed, naming it.
        return ()
    return () if plain else TRANSFORMERS_MODULES


def project_modules(project: object, image_encoder: str, text_encoder: str
                    ) -> tuple[str, ...]:
    """What this project's jobs will import beyond :data:`PRELOAD_MODULES`: with images,
    the image encoder's and a captioner's libraries; the text encoder's where it is not
    a plain BERT. Reads the store (its own connection: call it off the UI thread)."""
    with project.open_store() as store:  # type: ignore[attr-defined]
        images = store.has_images()
    wanted = list(encoder_modules(text_encoder))
    if images:
        wanted += [*encoder_modules(image_encoder), *CAPTION_MODULES]
    return tuple(dict.fromkeys(wanted))  # once each, in order


def embed_modules(project: object, encoder: str, kind: str) -> tuple[str, ...]:
    """What an embed job of ``kind`` ("image" or "text") with ``encoder`` imports beyond
    :data:`PRELOAD_MODULES`: nothing for images in a project without any (the job then
    loads no model). Reads the store: call it in the job's thread."""
    if kind == "image":
        with project.open_store() as store:  # type: ignore[attr-defined]
            if not store.has_images():
                return ()
    return encoder_modules(encoder)


def preload_project_modules(project: object, image_encoder: str, text_encoder: str
                            ) -> dict[str, float]:
    """The start-up preload's second part, after :func:`preload_job_modules`: the
    libraries this project will use (:func:`project_modules`), so that its jobs do not
    pay their imports mid-job (measured after torch: open_clip's held the UI up to
    0.2 s, transformers' 0.15 s). A text-only project with MiniLM imports nothing more."""
    return preload_job_modules(project_modules(project, image_encoder, text_encoder))


def version_modules(project: object, tasks: list[str] | None = None, *,
                    zero_shot_only: bool = False) -> tuple[str, ...]:
    """What loading the encoders of ``tasks``' active versions (None: every task's)
    imports beyond :data:`PRELOAD_MODULES`: the overlay's explanation loads them all;
    Predict only a zero-shot version's CLIP (``zero_shot_only``: a trained head reads
    stored embeddings, and a text-only project's Predict must not load open_clip). A task
    with no version yet may get a zero-shot start over CLIP where the project has images.
    Reads the store: call it off the UI thread."""
    from crisisdesk.core.fusion.starts import ZERO_SHOT
    from crisisdesk.core.fusion.versions import version_encoders

    wanted: list[str] = []
    with project.open_store() as store:  # type: ignore[attr-defined]
        images: bool | None = None  # asked once, and only for a task with no version
        for task in tasks or list(store.schemes()):
            version = store.active_model_version(task)
            if version is None:
                images = store.has_images() if images is None else images
                wanted += CLIP_MODULES if images else ()
            elif not zero_shot_only or str(version["path"]).startswith(ZERO_SHOT):
                for encoder in version_encoders(store, version):
                    wanted += encoder_modules(encoder) if encoder else ()
    return tuple(dict.fromkeys(wanted))  # once each, in order


def import_for_job(modules: tuple[str, ...]) -> None:
    """Import ``modules`` in a job's (or the overlay's) thread, one thread at a time:
    what the start-up preload left out (a project that got its first images since) is
    imported where it is used, and never by two threads at once (see
    :data:`_PRELOADING`). Returns once they are loaded: a preload importing them now is
    waited for (a module is in ``sys.modules`` from the start of its import: taken for
    loaded, a job went on with half a library)."""
    if not modules:
        return
    with _PRELOADING:
        missing = tuple(name for name in modules if name not in sys.modules)
        if missing:
            _preload(missing)


def leave_a_core_to_the_ui() -> None:
    """Keep the jobs' compute threads from starving the UI thread of a CPU core.

    Measured on a 2-core machine: with as many compute threads as cores, torch's OpenMP
    threads spin-waiting between operations made the UI thread miss its 10 ms timer by
    0.3-0.4 s while a job ran. One core fewer than the machine has leaves the UI its own
    core. The wait policy is left alone: making the threads sleep (OMP_WAIT_POLICY=
    PASSIVE) slowed a training step of the fusion head 2.3x (16.7 against 7.3 ms), and
    spinning threads only spin on the cores they were given. Only defaults are set: an
    analyst's own OMP_* settings win. Must run before torch is imported (libgomp reads
    them once).
    """
    cores = os.cpu_count() or 2
    os.environ.setdefault("OMP_NUM_THREADS", str(max(1, cores - 1)))
    os.environ.setdefault("RAYON_NUM_THREADS", str(max(1, cores - 1)))  # tokenizers


#: Held while the preload imports: transformers' lazy modules imported by two threads at
#: once failed ("cannot import name 'AutoModel'"), so a job started meanwhile waits.
_PRELOADING = threading.Lock()


def wait_for_preload() -> None:
    """Return once no preload is importing (at once when none runs). Called by each job's
    thread before the job begins; never on the UI thread."""
    with _PRELOADING:
        pass


def preload_job_modules(modules: tuple[str, ...] = PRELOAD_MODULES) -> dict[str, float]:
    """Import what the jobs need (runs in a background thread); seconds per module.

    A module that is not installed (open_clip on a text-only install) is skipped: the job
    that needs it reports that when it runs. Jobs started meanwhile wait for it
    (:func:`wait_for_preload`).
    """
    with _PRELOADING:
        return _preload(modules)


def _preload(modules: tuple[str, ...]) -> dict[str, float]:
    if "torch" not in sys.modules:
        leave_a_core_to_the_ui()
    took: dict[str, float] = {}
    for name in modules:
        start = time.perf_counter()
        # Python's cyclic garbage collector walks every tracked object in a full
        # collection, holding the GIL: with torch and transformers loaded (millions of
        # objects) that took ~0.3 s, triggered by any thread allocating (a job building
        # 100,000 rows, or an import), and the UI thread stood still. The modules' objects
        # live as long as the app: freezing them leaves them out of every collection.
        gc.freeze()
        try:
            importlib.import_module(name)
        except ImportError:
            continue
        took[name] = time.perf_counter() - start
    gc.freeze()
    # torch's CUDA build keeps ~135 MB of GPU library code resident that a machine
    # without a GPU never runs again (core.gpu_library_pages says how it is measured).
    release_unused_gpu_libraries()
    return took
