"""verl reward file: ``reward.custom_reward_function.path=rewards/sfr_verl.py``
(``reward.custom_reward_function.name=compute_score``).

The logic lives in :mod:`prouie.integrations.verl_reward`; this file only makes it loadable by path.
Without a file, ``path=pkg://prouie.integrations.verl_reward`` loads the same function.
"""

import os
import sys

try:
    import prouie  # noqa: F401
except ImportError:
    # Running from a clone without `pip install`: use the package next to this file.
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "plugin"))

from prouie.integrations.verl_reward import compute_score  # noqa: E402

__all__ = ["compute_score"]
