"""Frozen encoders that map images and texts to vectors (CLIP through open_clip, MiniLM)."""
