"""The embed job: give every item's image and text an embedding from one encoder.

Images are decoded and preprocessed in worker threads (on a GPU: in the process's shared
pool of decoder processes, see ``decoder_pool``) while the model encodes the batch before
(a bounded window of work in flight keeps memory flat). Each batch's vectors are committed
before the job yields, so cancelling keeps them and a re-run encodes only what is
missing. On a CUDA out-of-memory error the batch is halved and retried.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

from crisisdesk.core.batching import Halving
from crisisdesk.core.decoder_pool import default_workers, lend
from crisisdesk.core.embed_report import EmbedReport, model_missing
from crisisdesk.core.encoders.base import Encoder, EncoderError, another_model
from crisisdesk.core.files import file_sha256
from crisisdesk.core.jobs import give_back_freed_memory, listed, tracked
from crisisdesk.core.progress import Progress
from crisisdesk.core.project import Project
from crisisdesk.core.store import ImageToEmbed, Store
from crisisdesk.core.words import plural

KINDS = ("image", "text")
#: Items whose texts are read at once to find those to encode: the job keeps item ids
#: only, never every text (tens of MB at 100,000 tweets, held for the whole job).
TEXT_SLICE = 5000


def default_batch_size(device: str, kind: str) -> int:
    """A batch that keeps the device busy: large on a GPU (halved on OOM), small on a CPU
    so progress moves and memory stays low."""
    if device.startswith("cuda"):
        return 256 if kind == "image" else 512
    return 16 if kind == "image" else 64


class EmbedJob:
    """Embed a project's images and texts with one encoder (a cancellable job)."""

    kind = "embed"

    def __init__(self, project: Project, encoder: str | Encoder, *,
                 kinds: Sequence[str] = KINDS, device: str = "auto",
                 batch_size: int | None = None, patches: bool = False,
                 workers: int | None = None, decode: str = "auto",
                 encode_ahead: bool | None = None) -> None:
        for kind in kinds:
            if kind not in KINDS:
                raise ValueError(f"kind must be one of {KINDS}, not {kind!r}")
        self.project, self.kinds, self.device = project, tuple(kinds), device
        self._encoder = encoder if isinstance(encoder, Encoder) else None
        # Whether the job loaded its encoder itself (from a name): then it lets the model
        # go when its run ends; a caller's encoder is the caller's to keep.
        self._loaded_here = False
        self.encoder_name = encoder if isinstance(encoder, str) else encoder.name
        if batch_size is not None and batch_size < 1:
            # 0 would be taken for "the default" and a negative size encodes nothing.
            raise ValueError(f"batch size must be at least 1, not {batch_size}")
        if decode not in ("auto", "threads", "processes"):
            raise ValueError(f"decode must be auto, threads or processes, not {decode!r}")
        self.batch_size, self.patches, self.workers = batch_size, patches, workers
        self.decode = decode
        #: Encode the next batch while storing this one (None: on a GPU only, where the
        #: model does not need the CPU cores the overlap takes).
        self.encode_ahead = encode_ahead
        self.report = EmbedReport(encoder=self.encoder_name)
        # One per kind: the chunk size that fits images says nothing about texts (an
        # image costs far more memory than a tweet), and vice versa. The message reads the
        # report, not ``self``: a job referring to itself stays alive (its model with it,
        # ~900 MB for a CLIP) until a garbage collection happens to run.
        report = self.report
        self._halving = {kind: Halving(lambda exc: EncoderError(
            f"out of GPU memory even for one item on {report.device}: {exc}"))
            for kind in KINDS}

    def _halvings(self) -> int:
        return sum(halving.halvings for halving in self._halving.values())

    def run(self) -> Iterator[Progress]:
        """The job: yields Progress after each committed batch."""
        params = {"encoder": self.encoder_name, "kinds": list(self.kinds),
                  "device": self.device, "batch_size": self.batch_size,
                  "patches": self.patches}
        return tracked(self.project, self.kind, params, self._run(),
                       problems=lambda: self.report.unreadable_count,
                       result=self.report.as_dict)

    def load(self) -> Encoder:
        """The job's encoder, loaded now if it was given by name (seconds, and ~900 MB
        for a CLIP): the CLI loads it before the job runs, after
        :meth:`nothing_to_encode`, so that a Ctrl-C or a missing model is said as such."""
        if self._encoder is None:
            from crisisdesk.core.encoders.factory import load_encoder

            self._encoder = load_encoder(self.encoder_name, self.device)
            self._loaded_here = True
        return self._encoder

    def nothing_to_encode(self) -> bool:
        """Whether no asked-for image or text lacks this encoder's embedding, looked up
        by name before the model loads: the app's Embed of a project without images
        (a text collector's) failed for want of the CLIP model it had no use for, and
        the Predict that follows a successful Embed never came."""
        if self._encoder is not None:
            return False  # loaded already (a caller's): the usual path is as cheap
        # Only the kinds the encoder makes: MiniLM's images are never "left to encode"
        # (each re-run of the default images-and-texts embed loaded it to skip them).
        from crisisdesk.core.encoders.factory import encoder_kinds

        made = encoder_kinds(self.encoder_name)
        kinds = [kind for kind in self.kinds if kind in made]
        with self.project.open_store() as store:
            if "image" in kinds and store.images_without_embedding(
                    self.encoder_name, patches=self.patches):
                return False
            if "text" in kinds:
                for texts in store.item_text_slices(TEXT_SLICE):
                    if store.missing_keys("text", self.encoder_name, [t.key for t in texts]):
                        return False
        return True

    def _run(self) -> Iterator[Progress]:
        if self.nothing_to_encode():
            from crisisdesk.core.encoders.factory import encoder_kinds

            made = encoder_kinds(self.encoder_name)
            self.report.nothing_to_encode = [kind for kind in self.kinds if kind in made]
            self.report.skipped_kinds = [kind for kind in self.kinds if kind not in made]
            self.report.model_missing = model_missing(self.encoder_name)
            yield Progress(0, 0, self.report.summary(), "cpu")
            return
        encoder = self.load()
        try:
            yield from self._encode(encoder)
        finally:
            if self._loaded_here:
                # The app may embed again, but a model kept between jobs would hold its
                # memory (a CLIP ~900 MB) through every other job; reloading it from disk
                # takes seconds, a small part of any embed with work to do.
                self._encoder, self._loaded_here = None, False

    def _encode(self, encoder: Encoder) -> Iterator[Progress]:
        """The job's work with its encoder loaded."""
        self.report.device = encoder.device
        with self.project.open_store() as store:
            _check_dim(store, encoder)
            images: list[ImageToEmbed] = []
            texts: list[int] = []  # items whose texts to encode: read again in _texts
            for kind in self.kinds:
                if kind not in encoder.kinds:
                    self.report.skipped_kinds.append(kind)
            if "image" in self.kinds and "image" in encoder.kinds:
                images = store.images_without_embedding(encoder.name,
                                                         patches=self.patches)
            if "text" in self.kinds and "text" in encoder.kinds:
                texts = store.text_items_without_embedding(encoder.name, TEXT_SLICE)
            total, done = len(images) + len(texts), 0
            yield Progress(0, total, f"{encoder.name}: {plural(len(images), 'image')}, "
                           f"{plural(len(texts), 'text')} to encode", encoder.device)
            for count in self._images(store, encoder, images):
                done += count
                yield Progress(done, total, f"images {self.report.images_encoded}/"
                               f"{len(images)}", encoder.device)
            for count in self._texts(store, encoder, texts):
                done += count
                yield Progress(done, total, f"texts {self.report.texts_encoded}/{len(texts)}",
                               encoder.device)
            # What the run did, as the app's jobs panel shows a job's last words.
            ran = tuple(kind for kind in ("image", "text")
                        if kind in self.kinds and kind in encoder.kinds)
            yield Progress(done, total, self.report.outcome(ran), encoder.device,
                           notes=self.report.notes())

    def _images(self, store: Store, encoder: Encoder, images: list[ImageToEmbed]
                ) -> Iterator[int]:
        """Encode images batch by batch; yield how many images each committed batch held."""
        if not images:
            return
        size = self.batch_size or default_batch_size(encoder.device, "image")
        on_gpu = encoder.device.startswith("cuda")
        # A GPU eats images faster than threads can decode them (measured on an H200:
        # 16 threads fed ViT-B-32 ~600 images/s, held back by the GIL), so it gets
        # worker processes on every core but one. On a CPU the model needs the cores
        # itself: two decoding threads keep ahead of it.
        processes = self.decode == "processes" or (self.decode == "auto" and on_gpu)
        workers = self.workers or (default_workers() if processes else 2)
        batches = (_decoded_in_processes if processes else _decoded_in_threads)(
            images, encoder.image_loader(), size, workers)
        ahead = on_gpu if self.encode_ahead is None else self.encode_ahead
        try:
            for batch, good, results in self._encoded(batches, encoder, ahead):
                for img, reason in batch:
                    if isinstance(reason, str):
                        if not isinstance(reason, _FileGone):
                            # A changed file: only that copy (the next run embeds the
                            # photo from an untouched one).
                            store.mark_media_unreadable(
                                img.sha256, reason,
                                path=img.path if isinstance(reason, _FileChanged) else None)
                        # Listed up to MAX_LISTED (a report of a whole unplugged drive
                        # stays small), counted all.
                        self.report.unreadable_count += 1
                        listed(self.report.unreadable, {"path": img.path, "reason": reason})
                for chunk, (vectors, patches) in results:
                    keys = [img.sha256 for img, _ in chunk]
                    with store.transaction():
                        store.put_embeddings("image", encoder.name, keys, vectors)
                        if patches is not None:
                            store.put_embeddings("image_patches", encoder.name, keys,
                                                 patches)
                self.report.images_encoded += len(good)
                self.report.batch_halvings = self._halvings()
                yield len(batch)
        finally:
            batches.close()  # stops the decoders (threads or processes) when cancelled

    def _encoded(self, batches: Iterator[list[tuple[ImageToEmbed, Any]]], encoder: Encoder,
                 ahead: bool) -> Iterator[tuple[list[tuple[ImageToEmbed, Any]], list, list]]:
        """(batch, its readable images, encoded chunks) for each decoded batch.

        With ``ahead`` the next batch is encoded in a thread while the caller stores this
        one: the GPU then never waits for SQLite (measured on an H200 with ViT-L-14, the
        writes left the GPU idle ~25% of the time). One thread: two (staging the next
        batch while the model runs), tried with a quarter-size first batch, kept the same
        per-batch rate at 10,000 images and lost ~10% at 2,000 on an H200. Closing this
        generator waits for the batch in flight, which is dropped uncommitted (a re-run
        encodes it).
        """
        def encode(batch: list[tuple[ImageToEmbed, Any]]) -> tuple[list, list]:
            good = [(img, px) for img, px in batch if not isinstance(px, str)]
            if not good:
                return good, []
            return good, self._halving["image"].run(
                good, lambda chunk: encoder.encode_images([px for _, px in chunk],
                                                          patches=self.patches))

        if not ahead:
            for batch in batches:
                yield (batch, *encode(batch))
            return
        with ThreadPoolExecutor(1, thread_name_prefix="encode") as pool:
            pending: tuple[list, Future[tuple[list, list]]] | None = None
            for batch in batches:
                future = pool.submit(encode, batch)
                if pending is not None:
                    yield (pending[0], *pending[1].result())
                pending = (batch, future)
            if pending is not None:
                yield (pending[0], *pending[1].result())

    def _texts(self, store: Store, encoder: Encoder, items: list[int]) -> Iterator[int]:
        """Encode the texts of ``items`` (each the first item of a text to encode) batch by
        batch; yield how many texts each committed batch held."""
        size = self.batch_size or default_batch_size(encoder.device, "text")
        for start in range(0, len(items), size):
            batch = items[start:start + size]
            # Read again here, a batch at a time: the job holds item ids only.
            texts = {t.key: t.text for t in store.item_texts(batch)}
            for chunk, encoded in self._halving["text"].run(
                    list(texts), lambda chunk, texts=texts: encoder.encode_texts(
                        [texts[k] for k in chunk])):
                store.put_embeddings("text", encoder.name, chunk, encoded.vectors)
                self.report.windowed_texts += encoded.windowed
            self.report.texts_encoded += len(batch)
            self.report.batch_halvings = self._halvings()
            # A batch's activation buffers (4-32 MB on a CPU) are sized by its longest
            # text, so they differ batch to batch, and glibc keeps the freed ones in its
            # heap (its mmap threshold rises by itself up to 32 MB), fragmented: over
            # 3,000 real tweets (MiniLM, CPU) the peak rose 93-215 MB, 79-116 MB with a
            # trim after each batch, for ~2.5% more CPU time; the vectors are unchanged.
            give_back_freed_memory()
            yield len(batch)


def _check_dim(store: Store, encoder: Encoder) -> None:
    """Refuse an encoder whose vectors differ in length from those the project holds
    under its name: ``models add`` may have pointed the name at another model since.
    Stored beside them, its vectors would mix two models under one name, and every
    later training or prediction over both would fail."""
    dim = getattr(encoder, "dim", None)
    why = another_model(encoder.name, dim, store.embedding_dims(encoder.name)) \
        if dim is not None else None
    if why:
        raise EncoderError(  # read in the app's job row too: its Settings do both
            f"{why}. Register it under a name of its own and embed with that name (the "
            "app's Settings: a new Model name, Add a model folder…, then choose it as the "
            "encoder; in a terminal: crisisdesk models add NEW_NAME PATH, then crisisdesk "
            f"embed PROJECT --encoder NEW_NAME), or register the earlier model as "
            f"{encoder.name} again.")


class _FileGone(str):
    """The reason of an image whose file is not there (a drive unplugged, a folder moved).

    Reported but not marked unreadable: marked, it would be skipped by every later run
    even once the file is back. Unmarked, the next run tries it again (one failed open).
    """


class _FileChanged(str):
    """The reason of an image file whose bytes differ from those imported (another photo
    saved under its name, a face blurred in place): marks that copy only, not the other
    copies of the imported photo."""


def _load_one(loader: Callable[[Path], object], image: ImageToEmbed
              ) -> tuple[ImageToEmbed, object | str]:
    """(image, preprocessed pixels), or (image, the reason it cannot be used)."""
    try:
        # Embeddings are keyed by the sha256 recorded at import: a file changed since
        # (another photo saved under the same name) would give its vector to every
        # repost of the original. Hashing costs one more read, from the page cache.
        if file_sha256(Path(image.path)) != image.sha256:
            return image, _FileChanged("the file changed since it was imported (its sha256 "
                                       "differs)")
        return image, loader(Path(image.path))
    except FileNotFoundError:
        return image, _FileGone(f"file not found: {image.path} (tried again on the next "
                                "run)")
    except Exception as exc:  # noqa: BLE001 - any decode failure marks the image
        return image, str(exc) or type(exc).__name__


def _decoded_in_threads(images: list[ImageToEmbed], loader: Callable[[Path], object],
                        size: int, workers: int) -> Iterator[list[tuple[ImageToEmbed, Any]]]:
    """Batches of decoded images, in order, with up to two batches loading ahead in
    threads while the caller encodes the current one."""
    with ThreadPoolExecutor(workers, thread_name_prefix="decode") as pool:
        pending: deque[Future[tuple[ImageToEmbed, Any]]] = deque()
        feed = iter(images)
        try:
            while True:
                while len(pending) < size * 3 and (image := next(feed, None)) is not None:
                    pending.append(pool.submit(_load_one, loader, image))
                if not pending:
                    return
                yield [pending.popleft().result() for _ in range(min(size, len(pending)))]
        finally:
            for future in pending:
                future.cancel()


class _Pixels:
    """The decode step run in the pool's worker processes: an image's preprocessed pixels,
    or the reason it cannot be used (picklable: the loader and a module-level function)."""

    def __init__(self, loader: Callable[[Path], object]) -> None:
        self.loader = loader

    def __call__(self, image: ImageToEmbed) -> object | str:
        return _load_one(self.loader, image)[1]


def _decoded_in_processes(images: list[ImageToEmbed], loader: Callable[[Path], object],
                          size: int, workers: int
                          ) -> Iterator[list[tuple[ImageToEmbed, Any]]]:
    """Batches of ``size`` decoded images from the process's decoder pool.

    The pool's workers live as long as the process (see ``decoder_pool``): a job pays no
    start-up, warm-up or shutdown. Each worker decodes a small chunk, not a whole batch:
    with 256-image chunks the first batch waits for one worker to decode 256 images alone
    (~0.5 s on a fast CPU, most of a short job on a GPU), and a job of a few batches never
    uses most workers. Chunks of ~size/workers keep every worker busy from the start; they
    are regrouped here.
    """
    chunk = max(1, min(32, -(-size // workers)))
    # About two batches ahead plus one chunk per worker: the GPU never waits for a batch,
    # and memory stays flat (as with the DataLoader's prefetch this replaced).
    window = 2 * -(-size // chunk) + workers
    with lend(workers) as pool:
        chunks = (images[i:i + chunk] for i in range(0, len(images), chunk))
        decoded = pool.map_chunks(_Pixels(loader), chunks, window)
        try:
            batch: list[tuple[ImageToEmbed, Any]] = []
            for pairs in decoded:
                batch.extend(pairs)
                if len(batch) >= size:
                    yield batch[:size]
                    batch = batch[size:]
            if batch:
                yield batch
        finally:
            decoded.close()  # chunks still running finish in the workers and are dropped
