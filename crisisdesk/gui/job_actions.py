"""The main window's job actions: caption, embed, predict, retrain and watch a folder.

:class:`JobActions` is a part of :class:`~crisisdesk.gui.window_actions.WindowActions`
(mixed in), kept here so that that module stays a readable size. Each job is made by a
factory the jobs panel calls in the job's own thread: torch-using code is imported there,
never on the UI thread, after the libraries it needs (see
:mod:`crisisdesk.gui.job_libraries`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from crisisdesk.core.progress import Progress
from crisisdesk.gui import job_libraries as libraries

if TYPE_CHECKING:
    from crisisdesk.gui.main_window import MainWindow


class JobActions:
    """Starts the window's jobs in the jobs panel (mixed into the window's actions, whose
    ``window``, ``jobs``, ``folder_watch`` and ``_retrained`` it uses)."""

    window: MainWindow
    jobs: Any  # the JobsPanel
    folder_watch: Any  # the FolderWatch
    _retrained: Callable[[str, Any], None]  # shows a done retrain's report
    open_retrain_report: Callable[[int | None], None]  # a retrain's, by its jobs row

    def watch_folder(self) -> None:
        """File > Watch a folder…: import what a collector writes there until Cancel."""
        self.folder_watch.ask()

    def run_caption(self) -> None:
        """Caption the project's images with the captioner of the settings: a local model
        (captioner, quantization, device) or an OpenAI-compatible server (URL + model)."""
        from crisisdesk.gui.dialogs.settings_dialog import choice, setting

        project = self.window.project
        name = setting("captioner").strip() or None  # None: the core picks by device
        server, server_model = setting("caption_server").strip(), \
            setting("caption_server_model").strip()
        if server and not server_model:
            self.window.statusBar().showMessage(
                "Captions from a server need the model it serves (Settings: server model)",
                15000)
            return

        def make() -> Iterator[Progress]:
            from crisisdesk.core.captions.job import CaptionJob  # torch loads in the worker

            if server:
                from crisisdesk.core.captions.server import ServerCaptioner

                return CaptionJob(project, ServerCaptioner(server, server_model)).run()
            # Read at each run, not when the action was triggered: Retry after the
            # device or quantization was changed in the settings uses the new one.
            quant, device = choice("quantization"), choice("device")
            libraries.import_for_job(libraries.CAPTION_MODULES)  # if not preloaded
            # The model loads inside the job, in the worker: a missing one fails the job
            # with ModelMissing, and its row offers the download or a local folder.
            return CaptionJob(project, name, quant=quant, device=device).run()

        from crisisdesk.core.http_get import shown_url  # stdlib only: no job library

        # The title is on screen (and in screenshots): a password in the URL as ***.
        where = f"{server_model} via {shown_url(server)}" if server else (
            name or "default captioner")
        # The job counts captions, one per (image, tweet) pair: a photo posted with two
        # texts is two, and "images" in the row disagreed with the captions written.
        self.jobs.run(f"Caption images ({where})", make, unit="captions")

    def run_embed(self) -> None:
        """Embed images (image encoder) and texts (text encoder) from the settings."""
        from crisisdesk.gui.dialogs.settings_dialog import choice, setting

        project = self.window.project
        # New embeddings (a caption's text, images) make predictions stale: once both
        # kinds have ended well, Predict redoes those (and only those). Each job's latest
        # run counts: a failed one retried from its row (which reruns ``then`` too) and
        # done chains Predict as the first run does.
        states: dict[str, str] = {}

        def ended(kind: str, state: str) -> None:
            states[kind] = state
            if len(states) == 2 and set(states.values()) == {"done"}:
                self.run_predict()

        for kind, encoder in (("image", setting("image_encoder")),
                              ("text", setting("text_encoder"))):
            def make(kind: str = kind, encoder: str = encoder) -> Iterator[Progress]:
                from crisisdesk.core.embed import EmbedJob  # torch loads in the worker

                libraries.import_for_job(libraries.embed_modules(project, encoder, kind))
                # Read at each run: Retry after the device was changed in the settings
                # (as a failed row's message says to) uses the new one.
                return EmbedJob(project, encoder, kinds=[kind], device=choice("device")).run()

            # Each job counts what it encodes: images, or texts ("items" were neither).
            self.jobs.run(f"Embed {kind}s ({encoder})", make, unit=f"{kind}s",
                          then=lambda state, _value, kind=kind: ended(kind, state))

    def run_predict(self, tasks: list[str] | None = None) -> None:
        """Predict the items that lack a prediction from their task's active version
        (``tasks``: those tasks only; None: every task). The window refreshes at its end,
        as at every job's."""
        project = self.window.project

        def make() -> Iterator[Progress]:
            # A zero-shot version loads its CLIP: open_clip and transformers imported
            # while the start-up preload's second part imports them failed.
            libraries.import_for_job(libraries.version_modules(project, tasks,
                                                               zero_shot_only=True))
            from crisisdesk.core.fusion.predict import PredictJob

            return PredictJob(project, tasks).run()

        # One prediction per item and task: "18 items" of a 6-item project misled.
        self.jobs.run(f"Predict ({', '.join(tasks)})" if tasks else "Predict", make,
                      unit="predictions")

    def run_retrain(self) -> None:
        """Train a new version per task; the report dialog decides the switch."""
        # One holder per run: two retrains at once each report their own job.
        project = self.window.project
        holder: dict[str, Any] = {}

        def make() -> Iterator[Progress]:
            # It scores the holdout with each active version: a zero-shot one loads its
            # CLIP (see run_predict).
            libraries.import_for_job(libraries.version_modules(project,
                                                               zero_shot_only=True))
            from crisisdesk.core.retrain import RetrainJob
            from crisisdesk.gui.dialogs.settings_dialog import setting

            # The Settings' encoders first (read at each run, as Embed reads them), where
            # the project holds their embeddings: else the project's most used ones.
            job = RetrainJob(project, prefer=(setting("image_encoder"),
                                              setting("text_encoder")))
            holder["job"] = job
            return job.run() if hasattr(job, "run") else iter(job)

        # Progress is 100 per task: "300 items" read as what it had trained on, and
        # "300 steps" as training steps it never counted. The row says "task 2 of 3".
        runner = self.jobs.run("Retrain", make, unit="tasks", scale=100,
                               then=lambda state, _value: self._retrained(
                                   state, holder.get("job")))
        # Once done, its row opens the report again (from the project: what changed
        # since is said), after Esc or Keep closed the one that opened by itself.
        self.jobs.row_of(runner).offer_report(
            lambda: self.open_retrain_report(holder["job"].job))
