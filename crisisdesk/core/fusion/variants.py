"""The classifier variants by name (kept free of torch so the command line starts fast)."""

VARIANTS = ("image_only", "text_only", "concat_mlp", "guided", "guided_diff")
