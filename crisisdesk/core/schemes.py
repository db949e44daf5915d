"""Label schemes: the classes of each task and how source labels merge into them.

The shipped schemes (``resources/label_schemes/*.json``) are the built-in tasks; a project
may add its own in its store (:meth:`crisisdesk.core.store.Store.add_scheme`), in the same
JSON shape, checked by :func:`scheme_from_json`.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from crisisdesk.core.resources import read_json, resource

#: What a task name may be: it names columns (``label_<task>``), files and CLI options.
TASK_NAME = re.compile(r"[a-z][a-z0-9_]*")


class SchemeError(ValueError):
    """A label scheme that cannot be used; the message names the file and the key."""


#: A blank (any Unicode space: a spreadsheet's no-break space too) or a hyphen.
_SEPARATORS = re.compile(r"[\s-]")
_BLANKS = re.compile(r"\s+")


def normalise_label(raw: str) -> str:
    """A label as the schemes compare them: composed accents (NFC), no invisible format
    characters, lower case (a Turkish "İ" as "i"), no surrounding blanks, each run of
    blanks and each hyphen an underscore."""
    # NFC: macOS and some of its apps write "é" as "e" + a combining accent, which looks
    # the same but compares unequal. A run of blanks is one: a hand-typed "Drinking  water"
    # or a no-break space pasted from a web page is the label meant. Format characters
    # (zero-width spaces, soft hyphens, a BOM, the direction marks right-to-left keyboards
    # put around a word) are not seen: kept, "ضرر شديد" + a mark was "not a class".
    shown = "".join(c for c in unicodedata.normalize("NFC", raw)
                    if unicodedata.category(c) != "Cf")
    text = _BLANKS.sub(" ", shown.strip().lower())
    # Python lower-cases the Turkish capital "İ" to "i" + a combining dot above: drawn
    # with a stray dot ("i̇htiyaç") and unequal to the "ihtiyaç" a Turkish analyst types.
    return _SEPARATORS.sub("_", text.replace("i\u0307", "i"))


def _former_label(raw: str) -> str:
    """A label as :func:`normalise_label` wrote it before it composed accents and took a
    run of blanks as one: how a scheme added then stored its classes and merges."""
    return raw.strip().lower().replace(" ", "_").replace("-", "_")


@dataclass(frozen=True)
class LabelScheme:
    """A task's classes in display order, plus merges of source labels into them."""

    task: str
    classes: tuple[str, ...]
    merges: dict[str, str] = field(default_factory=dict)
    description: str = ""

    def normalise(self, raw: str) -> str | None:
        """Map a label as written in a source to one of the classes, or None if unknown.

        Matching ignores case and surrounding blanks, and spaces count as underscores,
        because hand-made spreadsheets write "Severe damage" as often as "severe_damage".
        """
        key = normalise_label(raw)
        # A scheme stored before labels were composed (NFC) and blanks collapsed keeps
        # its classes and merges as they were normalised then: a label written as its
        # file wrote them ("High  risk", stored "high__risk") is read as it was then.
        for form in (key, _former_label(raw)):
            if form in self.classes:
                return form
            if form in self.merges:
                return self.merges[form]
        return self._stored_forms().get(key)

    def _stored_forms(self) -> dict[str, str]:
        """Each class and merged label, normalised as now, to the class it gives."""
        forms = {normalise_label(raw): into for raw, into in self.merges.items()}
        forms.update((normalise_label(c), c) for c in self.classes)
        return forms

    def spelled_as(self, stored: LabelScheme | None, written: Sequence[str]
                   ) -> LabelScheme:
        """This scheme, read from a file whose classes are ``written``, with the class
        names of ``stored`` (the project's scheme of the task) where they are the same
        classes: a scheme added before labels were composed and blanks collapsed stored
        "high__risk" where its file, read now, gives "high_risk". Kept as stored, the
        journal's labels stay classes, so the same file added again is the same scheme
        (not "classes changed", refused once the task has labels)."""
        if stored is None or stored.classes == self.classes or \
                len(stored.classes) != len(self.classes) or not all(
                    old in (_former_label(raw), now) or normalise_label(old) == now
                    for old, now, raw in zip(stored.classes, self.classes, written,
                                             strict=True)):
            return self
        spelled = dict(zip(self.classes, stored.classes, strict=True))
        return LabelScheme(self.task, stored.classes,
                           {raw: spelled[into] for raw, into in self.merges.items()},
                           self.description)

    def as_json(self) -> dict[str, Any]:
        """The scheme in the shape of ``resources/label_schemes/*.json``."""
        return {"task": self.task, "description": self.description,
                "classes": list(self.classes), "merges": dict(self.merges)}


#: Forms of the columns that carry a task's labels in imports and exports (and the
#: "tasks" object of JSONL exports): a task named like one would read another's cells.
TASK_COLUMN_FORMS = (
    re.compile(r"label_.+"), re.compile(r"tasks"),
    re.compile(r".+_(label|split|label_source|annotator|labelled_at|prediction|confidence"
               r"|model_version)"),
)


def scheme_from_json(data: Any, where: str) -> LabelScheme:
    """A label scheme from its JSON shape ({"task", "classes", "merges", "description"}).

    Classes and merges are stored normalised (:func:`normalise_label`), as labels are
    compared. Raises SchemeError naming ``where`` (the file) and the key at fault.
    """
    if not isinstance(data, dict):
        raise SchemeError(f"{where}: a label scheme is a JSON object, not "
                          f"{type(data).__name__}")
    unknown = sorted(set(data) - {"task", "classes", "merges", "description"})
    if unknown:
        raise SchemeError(f"{where}: unknown key {unknown[0]!r} (keys: task, classes, "
                          "merges, description)")
    task = data.get("task")
    if not isinstance(task, str) or not TASK_NAME.fullmatch(task):
        raise SchemeError(f"{where}: key 'task': {task!r} is not a task name (lower-case "
                          "letters, digits and _, starting with a letter)")
    if task in post_columns():
        raise SchemeError(f"{where}: key 'task': {task!r} is the name of a post column "
                          "of imports and exports; choose another name")
    clash = next((f for f in TASK_COLUMN_FORMS if f.match(task)), None)
    if clash is not None:
        raise SchemeError(f"{where}: key 'task': {task!r} reads like a column another "
                          "task's labels use (label_<task>, <task>_label, <task>_split, "
                          "<task>_annotator...); choose another name")
    raw_classes = data.get("classes")
    if not isinstance(raw_classes, list) or not all(
            isinstance(c, str) and normalise_label(c) for c in raw_classes):
        raise SchemeError(f"{where}: key 'classes': a list of class names is needed")
    classes = [normalise_label(c) for c in raw_classes]
    if len(classes) < 2:
        raise SchemeError(f"{where}: key 'classes': a task needs at least 2 classes, "
                          f"not {len(classes)}")
    twice = sorted({c for c in classes if classes.count(c) > 1})
    if twice:
        raise SchemeError(f"{where}: key 'classes': {twice[0]!r} is given more than once "
                          "(case, spaces and hyphens aside)")
    raw_merges = data.get("merges", {})
    if not isinstance(raw_merges, dict):
        raise SchemeError(f"{where}: key 'merges': an object mapping source labels to "
                          "classes is needed")
    merges: dict[str, str] = {}
    written: dict[str, str] = {}  # each merged label as normalised -> as the file wrote it
    for raw, target in raw_merges.items():
        into = normalise_label(target) if isinstance(target, str) else None
        if into not in classes:
            raise SchemeError(f"{where}: key 'merges': {raw!r} merges into {target!r}, "
                              f"which is not a class ({', '.join(classes)})")
        key = normalise_label(raw)
        if not key:
            raise SchemeError(f"{where}: key 'merges': an empty source label merges into "
                              f"{target!r}")
        # A label that is a class is read as that class before any merge: a merge of it
        # into another class would never apply (and two such would be a cycle).
        if key in classes and key != into:
            raise SchemeError(f"{where}: key 'merges': {raw!r} is a class of the task, "
                              f"so it cannot merge into {target!r} (remove the class or "
                              "the merge)")
        if key in merges and merges[key] != into:
            raise SchemeError(f"{where}: key 'merges': {written[key]!r} and {raw!r} are "
                              f"the same source label (case, spaces and hyphens aside), "
                              f"merged into {merges[key]!r} and {into!r}")
        if key != into:  # a class merged into itself is read as the class anyway
            merges[key], written[key] = into, raw
    description = data.get("description", "")
    if not isinstance(description, str):
        raise SchemeError(f"{where}: key 'description': text is needed")
    return LabelScheme(task, tuple(classes), merges, description)


@cache
def post_columns() -> frozenset[str]:
    """Column names imports and exports give post fields: a task of that name would have
    its labels read from, and written to, the same column."""
    # Imported here: both modules import this one.
    from crisisdesk.core.exporters import CAPTION_COLUMNS, POST_COLUMNS
    from crisisdesk.core.importers.tabular import DEFAULT_COLUMNS

    # The caption columns too: a task "caption" was read back from the caption's cell.
    return frozenset(POST_COLUMNS).union(CAPTION_COLUMNS, *DEFAULT_COLUMNS.values())


@cache
def builtin_schemes() -> dict[str, LabelScheme]:
    """The shipped schemes (informative, humanitarian, damage), by task name.

    A project's schemes are these plus its own: use ``store.schemes()`` where a store is
    at hand."""
    schemes = {}
    for entry in sorted(resource("label_schemes").iterdir(), key=lambda e: e.name):
        if not entry.name.endswith(".json"):
            continue
        scheme = scheme_from_json(read_json("label_schemes", entry.name),
                                  f"label_schemes/{entry.name}")
        schemes[scheme.task] = scheme
    return schemes


def scheme_for(task: str, schemes: Mapping[str, LabelScheme] | None = None) -> LabelScheme:
    """The scheme of ``task`` among ``schemes`` (default: the built-in ones; pass
    ``store.schemes()`` for a project's); raises KeyError naming the known tasks."""
    schemes = builtin_schemes() if schemes is None else schemes
    if task not in schemes:
        raise KeyError(f"unknown task {task!r}; known tasks: {', '.join(schemes)}")
    return schemes[task]


def display_name(name: str) -> str:
    """A class, task or event name as a person reads it: "little or no damage" for the
    stored ``little_or_no_damage`` (the store and files keep the stored name)."""
    return name.replace("_", " ")
