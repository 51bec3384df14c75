"""EasyR1 reward file: ``worker.reward.reward_function=rewards/sfr_easyr1.py:compute_score``.

The logic lives in :mod:`prouie.integrations.easyr1`; this file only makes it loadable by path.
"""

import os
import sys

try:
    import prouie  # noqa: F401
except ImportError:
    # Running from a clone without `pip install`: use the package next to this file.
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "plugin"))

from prouie.integrations.easyr1 import REWARD_NAME, REWARD_TYPE, compute_score  # noqa: E402

__all__ = ["REWARD_NAME", "REWARD_TYPE", "compute_score"]
