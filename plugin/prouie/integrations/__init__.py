"""Glue for LLaMA-Factory, EasyR1, verl and TRL; each imports its framework inside functions."""
