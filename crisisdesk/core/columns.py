"""Column names that crisisdesk's exports write and its importers read back.

Kept apart from both: the exporter imports the store, and a parser should not pull the
store in to learn a column's name. An export imported into another project keeps who
gave each label only while the two sides use these same names.
"""

from __future__ import annotations

#: Per task, beside its label (``<task>_<key>``): who gave the label, and when.
PROVENANCE_KEYS = ("label_source", "annotator", "labelled_at")
