"""The tiny test model, built by :mod:`prouie.integrations.tinymodel` (re-exported for tests)."""

from prouie.integrations.tinymodel import CHAT_TEMPLATE, SPECIAL_TOKENS, build_tiny_model

__all__ = ["CHAT_TEMPLATE", "SPECIAL_TOKENS", "build_tiny_model"]
