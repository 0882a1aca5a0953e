"""Data: find image/mask pairs on disk and decode them.

``pairs`` and ``decode`` are re-exported here and never import TensorFlow, so the CLI can check a
data folder quickly. ``augment`` and ``pipeline`` (tf.data) import TensorFlow: import them by
module, never from here.
"""

from edgeseg.data.decode import IMAGE_SUFFIXES, read_image, read_mask, read_pair
from edgeseg.data.pairs import LAYOUTS, Layout, Pair, PairScan, find_pairs, find_splits, split_pairs

__all__ = [
    "IMAGE_SUFFIXES",
    "LAYOUTS",
    "Layout",
    "Pair",
    "PairScan",
    "find_pairs",
    "find_splits",
    "read_image",
    "read_mask",
    "read_pair",
    "split_pairs",
]
