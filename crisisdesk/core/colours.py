"""The heat-map colour map shared by the report PNG and the app's overlay.

Its own module, with numpy only, so the app can colour a map without importing the
explain package (which loads torch).
"""

from __future__ import annotations

import numpy as np

#: Anchors of matplotlib's "inferno" colour map (perceptually uniform, grey-scale safe).
INFERNO = np.array([(0, 0, 4), (40, 11, 84), (101, 21, 110), (159, 42, 99),
                    (212, 72, 66), (245, 125, 21), (250, 193, 39), (252, 255, 164)],
                   dtype=np.float64)
#: Where the model saw nothing (margins CLIP's centre crop cut away): neutral grey.
UNSEEN_RGB = (128, 128, 128)


def colour_map(values: np.ndarray) -> np.ndarray:
    """[H, W] values in [0, 1] -> [H, W, 3] uint8 inferno colours (NaN -> grey)."""
    clean = np.nan_to_num(np.clip(values, 0.0, 1.0), nan=0.0)
    position = clean * (len(INFERNO) - 1)
    low = np.floor(position).astype(int)
    high = np.minimum(low + 1, len(INFERNO) - 1)
    frac = (position - low)[..., None]
    rgb = INFERNO[low] * (1 - frac) + INFERNO[high] * frac
    rgb[np.isnan(values)] = UNSEEN_RGB
    return rgb.astype(np.uint8)
