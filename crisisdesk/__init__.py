"""crisisdesk: triage crisis social-media posts (image + text) on the desktop."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("crisisdesk")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+source"
