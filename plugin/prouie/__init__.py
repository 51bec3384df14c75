"""prouie: ProUIE (CM -> SA -> DE with the Stepwise Fine-grained Reward) and Robust-UIE recipes
for LLaMA-Factory, EasyR1, verl and TRL.

The package's core (records, readers, targets, units, parsing, metrics, SFR) imports no ML framework;
framework glue lives in :mod:`prouie.integrations`.
"""

__version__ = "0.1.0"
