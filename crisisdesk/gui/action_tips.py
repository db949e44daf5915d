"""What the toolbar's buttons do, said in their tooltips with their keys.

Qt's own tooltip of a toolbar button is the button's text: "Embed images and texts",
"Predict" and "Retrain" told a new analyst nothing of what they would do to the project,
and the keys (Ctrl+I, Ctrl+E, F1) showed only in the menus.
"""

from __future__ import annotations

from PySide6.QtGui import QAction, QKeySequence

#: An action's text without its mnemonic and dots -> what it does, in the glossary's words.
TIPS: dict[str, str] = {
    "Import": "Add posts to this project: a folder of posts, a CSV/TSV table, JSON Lines, "
              "CrisisMMD files or a zip of them",
    "Export": "Write the labels and predictions to a file (CSV, JSON Lines or CrisisMMD "
              "TSV) in the project's exports folder, or where you choose",
    "Caption images": "Describe each image in words with a vision-language model (the "
                      "post's text guides it); captions can be searched and read by the "
                      "models",
    "Embed images and texts": "Turn each image and text into the vectors (embeddings) the "
                              "models read, with the encoders of the Settings; Predict "
                              "follows on its own",
    "Predict": "Score the items that have no prediction yet with each task's active model "
               "version",
    "Retrain": "Train a new model version per task on the labels given, compare it with "
               "the active one on held-back labelled items, then choose whether to switch",
    "Settings": "Your annotator name, the models and device the jobs use, image blurring",
    "Keyboard shortcuts": "Every key: label with the number keys, move with J and K, "
                          "accept a prediction with Enter",
}


def explain(action: QAction) -> None:
    """Give ``action`` its tooltip from :data:`TIPS`, with its key when it has one; a
    disabled action keeps the tooltip saying why (it is not built yet)."""
    what = TIPS.get(action.text().replace("&", "").rstrip("…"))
    if what is None or not action.isEnabled():
        return
    key = action.shortcut().toString(QKeySequence.SequenceFormat.NativeText)
    action.setToolTip(f"{what} ({key})" if key else what)
