"""The retrain report writes macro F1 as every other place does: a percentage."""

from __future__ import annotations

from crisisdesk.core.retrain import TaskRetrain
from crisisdesk.gui.dialogs.retrain_headline import headline


def test_the_headline_gives_macro_f1_in_percent_and_the_difference_in_points() -> None:
    # The versions list under it, `crisisdesk versions` and `eval` say 72.9%: the
    # headline said 0.729 beside them, one figure in two forms in one dialog.
    entry = TaskRetrain("damage", candidate=7, candidate_name="damage-v7", holdout=30,
                        holdout_split="test", new={"macro_f1": 0.7294, "n": 30},
                        current={"macro_f1": 0.70, "n": 30})
    said = headline(entry)
    # Each figure held to its word by a no-break space (a line never parts them).
    assert "new&nbsp;<b>72.9%</b> vs active&nbsp;<b>70.0%</b>" in said
    assert "+2.9&nbsp;points" in said
    assert "0.729" not in said
