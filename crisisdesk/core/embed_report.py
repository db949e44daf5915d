"""What an embed job did (:class:`EmbedReport`): counts, what it skipped or could not
read, and a run that found nothing to encode (the model never loaded), said in one summary
for the CLI and the app alike; why its model is missing (model_missing)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from crisisdesk.core.jobs import named
from crisisdesk.core.words import plural


@dataclass
class EmbedReport:
    """What an embed run did."""

    encoder: str = ""
    device: str = ""
    images_encoded: int = 0
    texts_encoded: int = 0
    windowed_texts: int = 0
    batch_halvings: int = 0
    unreadable: list[dict[str, str]] = field(default_factory=list)
    unreadable_count: int = 0  # exact; ``unreadable`` lists the first MAX_LISTED
    skipped_kinds: list[str] = field(default_factory=list)
    #: None once the model ran; else the kinds asked for that the encoder makes (MiniLM:
    #: texts, never images), none of which lacked its embedding: the model never loaded.
    nothing_to_encode: list[str] | None = None
    #: With nothing to encode, why the model (then not needed) cannot load here: a note.
    model_missing: str = ""

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)

    def outcome(self, kinds: tuple[str, ...]) -> str:
        """One line for the app's jobs panel, on the ``kinds`` this run encoded:
        "9 images encoded, 1 unreadable" (the row's last step read "images 9/10")."""
        counts = {"image": self.images_encoded, "text": self.texts_encoded}
        line = " and ".join(plural(counts[kind], kind) for kind in kinds) + " encoded"
        return line + (f", {self.unreadable_count} unreadable"
                       if self.unreadable_count else "")

    def notes(self) -> tuple[str, ...]:
        """What the jobs panel shows beside the outcome: the images it could not read."""
        if not self.unreadable_count:
            return ()
        return (f"{plural(self.unreadable_count, 'image')} could not be read, so got no "
                f"embedding: {named(self.unreadable, self.unreadable_count)}",)

    def summary(self) -> str:
        if self.nothing_to_encode is not None:  # no device to name: the model never loaded
            why = (f"no {' or '.join(self.nothing_to_encode)} lacks its embedding"
                   if self.nothing_to_encode else f"{self.encoder} does not encode "
                   + " or ".join(f"{kind}s" for kind in self.skipped_kinds))
            note = [f"note: {self.model_missing}"] if self.model_missing else []
            return "\n".join([f"{self.encoder}: nothing to encode ({why})", *note])
        lines = [f"{self.encoder} on {self.device}: {plural(self.images_encoded, 'image')} "
                 f"and {plural(self.texts_encoded, 'text')} encoded; "
                 f"{plural(self.windowed_texts, 'text was', 'texts were')} longer than the "
                 "encoder's context and encoded in windows"]
        if self.batch_halvings:
            lines.append(f"out of GPU memory {plural(self.batch_halvings, 'time')}: "
                         "batch halved")
        if self.skipped_kinds:
            lines.append(f"{', '.join(self.skipped_kinds)} skipped: {self.encoder} does not "
                         "encode them")
        if self.unreadable_count:
            lines.append(f"unreadable images: {self.unreadable_count}")
        for bad in self.unreadable[:20]:
            lines.append(f"  unreadable image {bad['path']}: {bad['reason']}")
        if self.unreadable_count > 20:
            lines.append(f"  ... and {self.unreadable_count - 20} more")
        return "\n".join(lines)


def model_missing(name: str) -> str:
    """Why encoder ``name``'s model is not on this machine ("" if it is), for a run with
    nothing to encode, which needs none (in the app as in the CLI): said, not failed. A
    name no encoder answers to (a typo) is an EncoderError all the same."""
    from crisisdesk.core.encoders.factory import check_encoder, folder_problem
    from crisisdesk.core.models.registry import ModelMissing

    try:
        check_encoder(name)
    except ModelMissing as exc:
        # In short: the fixes (download, add, copy) are said in full by the run that
        # needs the model, in the CLI's words or with the app's Download button.
        why = getattr(exc, "reason", "not installed on this machine")
        return f"model {name!r} is {why}; an embed with something to encode needs it"
    # A folder that broke since it was added: said now, not at the next run that needs it.
    problem = folder_problem(name)
    return f"{problem}; an embed with something to encode stops on it" if problem else ""
