"""edgeseg: skin-lesion segmentation from training to the phone.

Heavy modules (TensorFlow) load lazily, so ``import edgeseg`` and ``edgeseg --help`` stay fast.
"""

__version__ = "0.1.0"
