"""What a failed job's message says of a missing model: which model (for the jobs
panel's Download and Choose local folder), and whether its registration is what jobs
refuse (then only registering where the model is now helps, not a download)."""

from __future__ import annotations

import re

from crisisdesk.core.models import registry
from crisisdesk.gui.worker import JobRunner

# The name as Python's repr quotes it: in double quotes when it holds an apostrophe.
_MISSING_MODEL = re.compile(
    r"model (?:'([^']+)'|\"([^\"]+)\") (is not installed|has no hub source|"
    r"is registered at)")
#: The phrase of a registration jobs refuse (its folder gone or incomplete).
_REGISTERED = "is registered at"


def missing_model(runner: JobRunner) -> str | None:
    """The name of the model a failed job was missing, or None."""
    found = _missing(runner)
    return (found.group(1) or found.group(2)) if found else None


def registration_refused(runner: JobRunner) -> bool:
    """Whether a failed job's model is refused for its registration (a folder gone or
    incomplete), where only registering where the model is now helps, not a download.
    Read from the words too: Predict carries a zero-shot CLIP's refusal as NoModel."""
    found = _missing(runner)
    return (isinstance(runner.exception, registry.RegisteredPathGone)
            or (found is not None and found.group(3) == _REGISTERED))


def _missing(runner: JobRunner) -> re.Match[str] | None:
    """The words of a failed job's message naming the model it missed, or None."""
    if isinstance(runner.exception, registry.ModelMissing) or runner.error:
        text = str(runner.exception or "") + "\n" + (runner.error or "")
        return _MISSING_MODEL.search(text)
    return None
