"""The caption job: give every (image, tweet text) pair of a project a caption.

Pairs come from the store page by page (``Store.captions_to_do``); each page is sorted by
tweet length so a batch's prompts are of similar length and pad little. Each batch's
captions are committed before the job yields, so closing the job (Ctrl+C, the app's
cancel button) keeps them and a re-run asks only for what is missing. A pair is stored
only once its caption arrived: a per-item error leaves it to the next run. An empty or
degenerate caption is stored with its flag (asked for again only with another prompt
version or captioner). On a CUDA out-of-memory error the batch is halved and retried.
"""

from __future__ import annotations

import time
from collections.abc import Generator, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from crisisdesk.core.batching import Halving
from crisisdesk.core.captions.base import Captioner, CaptionError, CaptionRequest, CaptionResult
from crisisdesk.core.captions.degenerate import caption_flag
from crisisdesk.core.captions.prompt import load_prompt
from crisisdesk.core.imaging import inspect_image
from crisisdesk.core.jobs import listed, tracked
from crisisdesk.core.progress import Progress
from crisisdesk.core.project import Project
from crisisdesk.core.store import CaptionTodo, NewCaption, Store
from crisisdesk.core.words import plural

#: Seconds between the job's yields while a cancellable captioner (a server) works on a
#: batch: a cancel (the app's button) acts at a yield, not after the whole batch.
WAIT_STEP_S = 0.5

#: Files a note of the app's jobs panel names per kind of problem (the report lists more).
NOTE_NAMES = 3


def default_batch_size(captioner: Captioner) -> int:
    """A batch that keeps the captioner busy without holding results back for long."""
    if captioner.device.startswith(("http://", "https://")):
        # A server batches on its side: keep its concurrent requests fed twice over.
        return 2 * int(getattr(captioner, "concurrency", 8))
    if captioner.device.startswith("cuda"):
        suggested = getattr(captioner, "suggested_batch_size", None)
        return suggested() if suggested else 16  # the static decoder: what memory holds
    return 4  # a CPU writes a caption in seconds: small batches keep progress moving


@dataclass
class CaptionReport:
    """What a caption run did. Units are (image, tweet text) pairs: a photo reposted with
    the same text is captioned once for all its items."""

    captioner: str = ""
    device: str = ""
    prompt_version: str = ""
    to_caption: int = 0  # pairs without a caption when the run started
    captioned: int = 0  # captions stored this run (flagged ones included)
    items_captioned: int = 0
    already_captioned: int = 0
    skipped_no_image: int = 0  # text-only items and items whose file is missing
    skipped_unreadable: int = 0  # items whose image was already known to be unreadable
    batch_halvings: int = 0
    seconds: float = 0.0
    unreadable: list[dict[str, str]] = field(default_factory=list)
    flagged: list[dict[str, str]] = field(default_factory=list)
    failed: list[dict[str, str]] = field(default_factory=list)
    failed_count: int = 0
    flagged_count: int = 0
    unreadable_count: int = 0  # exact; ``unreadable`` lists the first MAX_LISTED

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)

    @property
    def rate(self) -> float:
        """Captions per second of captioning (model loading not counted)."""
        return self.captioned / self.seconds if self.seconds > 0 else 0.0

    def notes(self) -> tuple[str, ...]:
        """What the app's jobs panel shows when the run ends (it drives the job and never
        sees this report, which the CLI prints): one line per kind of problem, naming a
        few files and what happens to them next."""
        out = []
        for count, rows, what in (
                (self.unreadable_count, self.unreadable,
                 "could not be read, so got no caption"),
                (self.failed_count, self.failed,
                 "got no caption this run (tried again on the next run)"),
                (self.flagged_count, self.flagged,
                 "got a caption set aside as empty or degenerate (kept, not used as text)")):
            if count:
                named = "; ".join(f"{row['path']} ({row['reason']})"
                                  for row in rows[:NOTE_NAMES])
                more = f"; and {count - NOTE_NAMES} more" if count > NOTE_NAMES else ""
                out.append(f"{plural(count, 'image')} {what}: {named}{more}")
        return tuple(out)

    def written(self) -> str:
        """What the run did so far: "8 captions written, 1 failed", with the images it
        could not read (a step's words: the jobs panel gives the rate and time left)."""
        return (f"{plural(self.captioned, 'caption')} written"
                + (f", {self.failed_count:,} failed" if self.failed_count else "")
                + (f", {self.unreadable_count:,} unreadable" if self.unreadable_count else ""))

    def outcome(self) -> str:
        """The run's last words for the app's jobs panel: :meth:`written` and the items
        skipped; the notes name the files (the row read only its rate, "685.00
        captions/s", or only the notes)."""
        return self.written() + (
            f"; {plural(self.skipped_no_image, 'item')} without an image skipped"
            if self.skipped_no_image else "") + (
            f"; {plural(self.skipped_unreadable, 'item')} with an image known to be "
            "unreadable skipped" if self.skipped_unreadable else "")

    def summary(self) -> str:
        lines = [
            f"{self.captioner} on {self.device} (prompt {self.prompt_version}): "
            f"{plural(self.captioned, 'caption')} written for "
            f"{plural(self.items_captioned, 'item')}"
            + (f" at {self.rate:.2f} captions/s" if self.captioned else "")
            + f"; {plural(self.already_captioned, 'caption')} written before",
            f"skipped: {plural(self.skipped_no_image, 'item')} without an image, "
            f"{self.skipped_unreadable} with an image known to be unreadable",
        ]
        if self.batch_halvings:
            lines.append(f"out of GPU memory {plural(self.batch_halvings, 'time')}: "
                         "batch halved")
        for title, rows, count in (
                ("unreadable images", self.unreadable, self.unreadable_count),
                ("flagged captions (stored, never used as text)", self.flagged,
                 self.flagged_count),
                ("no caption (retried on the next run)", self.failed, self.failed_count)):
            if count:
                lines.append(f"{title}: {count}")
            for row in rows[:20]:
                lines.append(f"  {row['path']}: {row['reason']}")
            if count > 20:
                lines.append(f"  ... and {count - 20} more")
        return "\n".join(lines)


class CaptionJob:
    """Caption a project's images with one captioner and prompt version (cancellable)."""

    kind = "caption"

    def __init__(self, project: Project, captioner: Captioner | str | None = None, *,
                 prompt_version: str | None = None, batch_size: int | None = None,
                 limit: int | None = None, quant: str = "auto", device: str = "auto",
                 max_new_tokens: int = 128, page: int = 2048) -> None:
        if batch_size is not None and batch_size < 1:
            raise ValueError(f"batch size must be at least 1, not {batch_size}")
        if limit is not None and limit < 0:
            raise ValueError(f"limit must not be negative, not {limit}")
        self.project = project
        self._captioner = None if captioner is None or isinstance(captioner, str) \
            else captioner
        self.captioner_name = captioner if isinstance(captioner, str) or captioner is None \
            else captioner.name
        self.prompt = load_prompt(prompt_version)  # an unknown version fails here, at once
        self.batch_size, self.limit, self.page = batch_size, limit, page
        self.load_options = {"quant": quant, "device": device, "max_new_tokens": max_new_tokens}
        self.report = CaptionReport(prompt_version=self.prompt.version)
        self._halving = Halving(lambda exc: CaptionError(
            f"out of GPU memory even for one image: {exc}"))

    def run(self) -> Iterator[Progress]:
        """The job: yields Progress after each committed batch."""
        params = {"captioner": self.captioner_name, "prompt_version": self.prompt.version,
                  "batch_size": self.batch_size, "limit": self.limit}
        if self._captioner is None:
            params.update(self.load_options)
        return tracked(self.project, self.kind, params, self._run(),
                       problems=lambda: (self.report.unreadable_count + self.report.failed_count
                                         + self.report.flagged_count),
                       result=self.report.as_dict)

    def _load(self) -> Captioner:
        if self._captioner is None:
            from crisisdesk.core.captions.factory import load_captioner

            self._captioner = load_captioner(self.captioner_name, **self.load_options)
        return self._captioner

    def _run(self) -> Iterator[Progress]:
        captioner = self._load()
        report = self.report
        report.captioner, report.device = captioner.name, captioner.device
        model = str(getattr(captioner, "description", "") or captioner.name)
        with self.project.open_store() as store:
            counts = store.caption_counts(captioner.name, self.prompt.version)
            report.to_caption, report.already_captioned = counts.to_caption, counts.captioned
            report.skipped_no_image = counts.without_image
            report.skipped_unreadable = counts.unreadable_image
            total = counts.to_caption if self.limit is None else min(self.limit,
                                                                     counts.to_caption)
            size = self.batch_size or default_batch_size(captioner)
            done = 0
            # Counted in captions, one per (image, tweet) pair: a photo posted with two
            # texts is captioned twice (the prompt holds the tweet), so "images" miscounted.
            yield Progress(0, total, f"{captioner.name}: {plural(total, 'caption')} to write",
                           captioner.device)
            if total == 0:
                # Its last words too: "0 captions written; 2 items without an image
                # skipped" (the row said "0 captions to write", never why).
                yield Progress(0, 0, report.outcome(), captioner.device)
                return
            started = time.monotonic()
            for page in store.captions_to_do(captioner.name, self.prompt.version,
                                             page=self.page):
                page = page[:total - done]
                # Similar tweet lengths in a batch: the prompts pad little.
                page.sort(key=lambda todo: len(todo.tweet_text))
                for start in range(0, len(page), size):
                    batch = page[start:start + size]
                    yield from self._caption_batch(store, captioner, batch, model,
                                                   Progress(done, total, report.written(),
                                                            captioner.device))
                    done += len(batch)
                    report.seconds = time.monotonic() - started
                    # What was written, not a rate: the front end measures the rate
                    # (this one, in another unit and clock format, disagreed with it).
                    yield Progress(done, total, report.written(), captioner.device)
                if done >= total:
                    break
            # The app's jobs panel shows the last words: what the run did, and the notes.
            yield Progress(done, total, report.outcome(), captioner.device,
                           notes=report.notes())

    def _caption_batch(self, store: Store, captioner: Captioner, batch: list[CaptionTodo],
                       model: str, waiting: Progress) -> Generator[Progress, None, None]:
        """Check the images, caption the readable ones, store what arrived; yields
        ``waiting`` while a cancellable captioner works (see :meth:`_wait`)."""
        readable = []
        for todo, (reason, gone) in zip(batch, _check_images(batch), strict=True):
            if reason is None:
                readable.append(todo)
                continue
            if gone:
                # Not marked: marked, it would be skipped for good even once the file is
                # back (a drive plugged in again); the next run tries it again.
                reason = f"{reason} (tried again on the next run)"
            else:
                # A changed file: only that copy (its untouched copies still hold the photo).
                store.mark_media_unreadable(todo.image_sha256, reason,
                                            path=todo.path if reason == CHANGED else None)
            self.report.unreadable_count += 1
            listed(self.report.unreadable, {"path": todo.path, "reason": reason})
        if callable(getattr(captioner, "cancel", None)) and readable:
            # A server: no GPU memory of ours to run out of, but it may keep the job
            # waiting for long (timeouts, Retry-After): wait where a cancel can act.
            results = yield from self._wait(captioner, readable, waiting)
            self._store(store, captioner, readable, results, model)
            return
        # Each chunk is stored as soon as its captions arrive (a later failure keeps them).
        self._halving.run(readable, lambda chunk: self._store(
            store, captioner, chunk, self._caption(captioner, chunk), model))
        self.report.batch_halvings = self._halving.halvings

    def _wait(self, captioner: Captioner, chunk: list[CaptionTodo], waiting: Progress
              ) -> Generator[Progress, None, list[CaptionResult]]:
        """The chunk's results, captioned in a helper thread while this generator yields
        ``waiting`` every WAIT_STEP_S. Closed meanwhile (cancel, Ctrl+C), it tells the
        captioner to stop and drops what arrives later: those pairs are not stored, so
        the next run asks for them again."""
        pool = ThreadPoolExecutor(1, thread_name_prefix="caption-wait")
        future: Future[list[CaptionResult]] = pool.submit(self._caption, captioner, chunk)
        try:
            while True:
                try:
                    return future.result(timeout=WAIT_STEP_S)
                except FutureTimeout:
                    yield waiting
        except BaseException:
            if not future.done():
                captioner.cancel()  # type: ignore[attr-defined] - checked by the caller
            raise
        finally:
            pool.shutdown(wait=False)

    def _caption(self, captioner: Captioner, chunk: list[CaptionTodo]) -> list[CaptionResult]:
        requests = [CaptionRequest(_key(todo), Path(todo.path), todo.tweet_text)
                    for todo in chunk]
        results = captioner.caption(requests, self.prompt)
        if results and all(result.refused for result in results):
            # A wrong key, model name or URL: every later request would be refused too,
            # after sending its image; one batch is enough to say so.
            def refused(error: str | None) -> str:
                return (f"{captioner.device} refused every request of a batch: {error}. "
                        "Check the API key (CRISISDESK_API_KEY or OPENAI_API_KEY), the "
                        "server's model name and its URL.")

            logged = results[0].logged_error
            raise CaptionError(refused(results[0].error),
                               log_message=refused(logged) if logged else None)
        return results

    def _store(self, store: Store, captioner: Captioner, chunk: list[CaptionTodo],
               results: Sequence[CaptionResult], model: str) -> None:
        """Store the captions that arrived (one transaction); report the rest."""
        by_key = {result.key: result for result in results}
        new: list[NewCaption] = []
        for todo in chunk:
            result = by_key.get(_key(todo))
            if result is None or result.caption is None:
                reason = "the captioner returned no result for it" if result is None \
                    else (result.error or "no caption and no reason given")
                self.report.failed_count += 1
                listed(self.report.failed, {"path": todo.path, "reason": reason})
                continue
            flag = caption_flag(result.caption)
            new.append(NewCaption(todo.image_sha256, todo.tweet_text, result.caption, flag))
            if flag is not None:
                self.report.flagged_count += 1
                listed(self.report.flagged, {"path": todo.path, "reason": flag})
        if new:
            store.put_captions(captioner.name, self.prompt.version, new, model=model)
        self.report.captioned += len(new)
        arrived = {(c.image_sha256, c.tweet_text) for c in new}
        self.report.items_captioned += sum(todo.items for todo in chunk
                                           if (todo.image_sha256, todo.tweet_text) in arrived)


def _key(todo: CaptionTodo) -> str:
    return f"{todo.image_sha256}:{todo.text_sha256}"


#: Why an image file whose bytes differ from those imported is not captioned.
CHANGED = "the file changed since it was imported (its sha256 differs)"


def _check_images(batch: list[CaptionTodo]) -> list[tuple[str | None, bool]]:
    """Per image: (None, False) when it decodes and still has the hash it was imported
    with, else (why it cannot be captioned, whether its file is not there at all).
    Checked in threads (Pillow decodes without the GIL), at reduced scale for JPEG, so
    the check costs little next to captioning."""

    def check(todo: CaptionTodo) -> tuple[str | None, bool]:
        facts = inspect_image(Path(todo.path))
        if facts.status != "ok":
            return facts.reason or facts.status, facts.status == "missing"
        if facts.sha256 != todo.image_sha256:
            return CHANGED, False
        return None, False

    with ThreadPoolExecutor(max(1, min(4, len(batch))), thread_name_prefix="check") as pool:
        return list(pool.map(check, batch))
