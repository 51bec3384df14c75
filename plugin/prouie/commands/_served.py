"""Options of the commands that call an OpenAI-compatible server (``predict``, ``perturb``)."""

from __future__ import annotations

import argparse
from typing import Any


def add_served_args(group: argparse._ArgumentGroup, *, timeout: float) -> None:
    """``--base-url``, ``--api-key-env``, ``--concurrency``, ``--timeout`` and ``--max-retries``.

    The names match :class:`prouie.integrations.openai_client.ChatClient`'s parameters, so
    :func:`client_options` hands them over as they are.
    """
    group.add_argument(
        "--base-url", help="OpenAI-compatible endpoint, e.g. http://localhost:8000/v1"
    )
    group.add_argument(
        "--api-key-env",
        default="OPENAI_API_KEY",
        help="environment variable holding the API key (never logged or written; unset is fine "
        "for a local server)",
    )
    group.add_argument("--concurrency", type=int, default=8, help="requests in flight at once")
    group.add_argument("--timeout", type=float, default=timeout, help="seconds per request")
    group.add_argument(
        "--max-retries", type=int, default=3, help="retries per request, with exponential backoff"
    )


def client_options(args: argparse.Namespace) -> dict[str, Any]:
    """The :class:`~prouie.integrations.openai_client.ChatClient` keyword arguments of ``args``."""
    return {
        "api_key_env": args.api_key_env,
        "concurrency": args.concurrency,
        "timeout": args.timeout,
        "max_retries": args.max_retries,
    }
