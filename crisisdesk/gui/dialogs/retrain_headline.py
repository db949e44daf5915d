"""The retrain report's words: each task's comparison of the new model version with the
active one, its recommendation, and what the new one was trained on."""

from __future__ import annotations

from html import escape
from typing import TYPE_CHECKING

from crisisdesk.gui.advice import os_words
from crisisdesk.gui.dialogs.figure_notes import term_link

if TYPE_CHECKING:  # the module imports torch: the dialog loads it only in the worker
    from crisisdesk.core.retrain import TaskRetrain

GOOD, BAD = "#2e7d32", "#c62828"


def f1_text(value: float | None) -> str:
    """A macro F1 as the report shows it (a dash when there is none): a percentage, as
    the versions list under it, `crisisdesk versions` and `eval` give it."""
    return "–" if value is None else f"{value:.1%}"


def headline(entry: TaskRetrain, left: str | None = None) -> str:
    """The comparison in words: both macro F1s, the difference, the recommendation; each
    term with a "?" link to its note (``figure_notes``). ``left``: why Switch leaves the
    task as it is (a report opened again), said in the recommendation's place."""
    if entry.new is None and entry.candidate is not None:
        # Trained, but nothing to score it on: the override can still switch to it.
        # The reasons are plain words (an exception's may hold "<unk>" or "a < b").
        why = escape(entry.skipped or "") or (
            f"the new version {entry.candidate_name} sees none of the "
            f"{entry.holdout:,}&nbsp;holdout items")
        return f"<b>Not compared:</b> {why}. " + (
            _left_words(left) if left else
            "The active version stays unless you switch anyway.")
    if entry.new is None:
        return (f"<b>Not retrained:</b> {escape(entry.skipped or 'no candidate')}. "
                "The active version stays.")
    new, current = entry.new, entry.current
    macro = f"Macro&nbsp;F1{term_link('macro_f1')}"
    if current is not None:
        delta = new["macro_f1"] - current["macro_f1"]
        colour = GOOD if delta >= 0 else BAD
        # Each figure held to its word by a no-break space: "new" ended a line and
        # "72.3%" began the next.
        compare = (f"{macro}: new&nbsp;<b>{f1_text(new['macro_f1'])}</b> vs active&nbsp;"
                   f"<b>{f1_text(current['macro_f1'])}</b> "
                   f"(<span style='color:{colour}'>{delta * 100:+.1f}&nbsp;points</span>"
                   f"{term_link('points')})")
        if entry.active_optimistic:
            # The active version was tuned on this holdout: its figure flatters it.
            compare += (f"<br><i>The active version's figure is optimistic: "
                        f"{escape(entry.active_optimistic)}.</i>")
    elif entry.active_error:
        compare = (f"{macro}: new&nbsp;<b>{f1_text(new['macro_f1'])}</b>; the active version "
                   f"{entry.active_name} cannot be scored "
                   f"({escape(os_words(entry.active_error))})")
    elif entry.active_name:
        compare = (f"{macro}: new&nbsp;<b>{f1_text(new['macro_f1'])}</b>; the active version "
                   f"{entry.active_name} sees none of the holdout items the new one sees")
    else:
        compare = f"{macro}: new&nbsp;<b>{f1_text(new['macro_f1'])}</b> (no active version yet)"
    if left:
        # "Recommended: switch" (in green) stood above a Switch that was off for it.
        advice = _left_words(left)
    elif entry.recommend_switch:
        advice = (f"<span style='color:{GOOD}'><b>Recommended: switch</b></span>"
                  f"{term_link('recommendation')}")
    else:
        advice = (f"<span style='color:{BAD}'><b>Recommended: keep the active version</b>"
                  "</span> (the new one is worse in macro F1)"
                  f"{term_link('recommendation')}")
    # Both versions are scored on the same items: those both see.
    scored = int(new.get("n", entry.holdout - entry.new_unseen))
    left_out = entry.holdout - scored
    # Each count held to its word by a no-break space, as the figures above.
    holdout = (f"{entry.holdout:,}&nbsp;labelled items of the frozen "
               f"{entry.holdout_split} split" + term_link("holdout")
               + (f"; scored on the {scored:,}&nbsp;" + ("both versions see" if current else
                                                    "it sees")
                  + f", {left_out:,}&nbsp;left out (no embedding of its kind)"
                  if left_out else ""))
    return f"{compare}<br>{advice} &nbsp;·&nbsp; {holdout}{_trained_on(entry)}"


def _left_words(left: str) -> str:
    """Why Switch leaves the task as it is, in the recommendation's place."""
    return f"<b>Switch leaves it as it is:</b> {escape(left)}."


def _trained_on(entry: TaskRetrain) -> str:
    """The labels the new version trained on, early-stopped on and was scored on, and
    those waiting for Embed (a watch imports, analysts label, Embed catches up): "" when
    not known."""
    said = ""
    if entry.sizes:
        # The sizes are the training's train, early-stopping and scored splits: only the
        # first is trained on. Its own scored split is not said: the comparison above
        # is on the frozen holdout, which may be another split ("40 test" beside "40 dev").
        said = f"<br>Trained on {entry.sizes.get('train', 0):,}&nbsp;labels"
        if "validation" in entry.sizes:
            said += (f" (early-stopped on {entry.sizes['validation']:,}&nbsp;validation "
                     "labels)" + term_link("early_stopping"))
    if entry.not_embedded:
        said += f"<br><i>{escape(entry.not_embedded)}.</i>"
    return said
