"""Captions: a vision-language model's description of each item's image (METHOD.md step 1)."""
