"""Data files shipped with crisisdesk (label schemes, prompts, demo, icons).

Read them with ``importlib.resources.files("crisisdesk.resources")``, never by a path
relative to the source tree: in an installed wheel this folder lives inside the package.
"""
