"""Glue for LLaMA-Factory, EasyR1, verl and TRL, and the generation backends (transformers, vLLM,
any OpenAI-compatible server); each module imports its framework inside functions."""
