"""Deep Exploration (DE, paper Section 2.5 and Eq. 1): GRPO phases DE_ner -> DE_re -> DE_ee.

Everything the DE stage is made of, and where it lives:

- the reward: :mod:`prouie.sfr` (Eqs. 2-10), its ground-truth format written by
  ``prouie export-rl`` (:mod:`prouie.rl_export`);
- the phase plan (rollouts, epochs, sample counts of A.3) and its recipe:
  :mod:`prouie.de.recipe`, ``recipes/de_trl.yaml``;
- the runs: EasyR1 (the paper's framework) with ``recipes/de_{ner,re,ee}.yaml`` and
  ``recipes/de_easyr1.sh``; verl with ``recipes/de_verl.sh``; TRL with ``prouie de``
  (:mod:`prouie.commands.de`);
- the framework glue, the only code that imports a framework: ``rewards/sfr_easyr1.py`` ->
  :mod:`prouie.integrations.easyr1`, ``rewards/sfr_verl.py`` -> :mod:`prouie.integrations.verl_reward`,
  :mod:`prouie.integrations.trl` (reward callables and the GRPOTrainer phase);
- the documentation: ``docs/de.md``.
"""

from prouie.de.recipe import (
    DEFAULT_RECIPE,
    PAPER_PHASES,
    DERecipe,
    Phase,
    PlannedPhase,
    default_recipe_path,
    load_recipe,
    phase_rows,
    plan,
)

__all__ = [
    "DEFAULT_RECIPE",
    "PAPER_PHASES",
    "DERecipe",
    "Phase",
    "PlannedPhase",
    "default_recipe_path",
    "load_recipe",
    "phase_rows",
    "plan",
]
