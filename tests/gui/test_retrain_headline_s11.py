"""The retrain report says what the new version trained on, and what waits for Embed."""

from __future__ import annotations

from crisisdesk.core.retrain import TaskRetrain
from crisisdesk.gui.dialogs.retrain_headline import headline


def test_the_report_says_the_labels_trained_on_and_those_waiting_for_embed() -> None:
    entry = TaskRetrain("damage", candidate=7, candidate_name="damage-v7", holdout=30,
                        holdout_split="test", new={"macro_f1": 0.61, "n": 30},
                        sizes={"train": 75, "validation": 9, "dev": 18},
                        not_embedded="3 labelled items left out, not embedded yet: 3 texts "
                                     "have no minilm embedding")
    said = headline(entry).replace("&nbsp;", " ")  # a count held to its word
    assert "Trained on 75 labels (early-stopped on 9 validation labels)" in said
    # The training's own scored split (dev) is not said beside the holdout's (test).
    assert "18 dev" not in said
    assert "3 labelled items left out, not embedded yet" in said
