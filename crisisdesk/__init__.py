"""crisisdesk: triage crisis social-media posts (image + text) on the desktop."""

import os
from importlib.metadata import PackageNotFoundError, version

# Offline unless a command explicitly downloads (crisisdesk models download): a job must
# never fetch weights on its own, and a missing model otherwise costs ~45 s of retries.
os.environ.setdefault("HF_HUB_OFFLINE", "1")

try:
    __version__ = version("crisisdesk")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+source"
