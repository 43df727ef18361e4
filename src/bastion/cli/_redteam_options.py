"""Options and helpers shared by the ``bastion redteam`` subcommands."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from bastion.errors import BastionError

F = TypeVar("F", bound=Callable[..., Any])

EXIT_HELP = (
    "\b\nExit codes:\n  0  every gate holds\n  1  a configured gate failed\n"
    "  2  usage or run error (bad options or probe files, target unreachable,\n"
    "     attempts left without an answer: rerun with --resume)"
)


def target_options(func: F) -> F:
    options = [
        click.option(
            "--target",
            "target_url",
            required=True,
            metavar="URL",
            help="OpenAI-compatible API base, e.g. http://127.0.0.1:8000/v1.",
        ),
        click.option("--model", required=True, help="Model name sent in each request."),
        click.option(
            "--api-key-env",
            metavar="VAR",
            default=None,
            help="Environment variable holding the API key (keys are never arguments).",
        ),
        click.option(
            "--concurrency",
            type=click.IntRange(1, 256),
            default=8,
            show_default=True,
            help="Requests in flight at once.",
        ),
        click.option(
            "--rate",
            type=click.FloatRange(0),
            default=0.0,
            show_default=True,
            help="Max requests per second (0: unlimited).",
        ),
        click.option(
            "--retries",
            type=click.IntRange(0, 20),
            default=4,
            show_default=True,
            help="Retries on 429, 5xx and network errors, with exponential backoff.",
        ),
        click.option(
            "--backoff",
            type=click.FloatRange(0),
            default=0.5,
            show_default=True,
            help="First retry delay in seconds; doubles each retry (Retry-After wins if longer).",
        ),
        click.option(
            "--timeout",
            type=click.FloatRange(1),
            default=60.0,
            show_default=True,
            help="Seconds per request.",
        ),
        click.option(
            "--seed",
            type=int,
            default=0,
            show_default=True,
            help="Seed for buffs and sampling: same seed, same prompts.",
        ),
        click.option("--max-tokens", type=click.IntRange(1), default=512, show_default=True),
        click.option(
            "--out",
            "out_dir",
            type=click.Path(file_okay=False, path_type=Path),
            default=Path("redteam-out"),
            show_default=True,
            help="Folder for the reports.",
        ),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def _api_key(var: str | None) -> str | None:
    if var is None:
        return None
    value = os.environ.get(var)
    if not value:
        raise BastionError(
            f"environment variable {var} is not set",
            hint="Export the target's API key in it, or drop --api-key-env.",
        )
    return value


def http_target(opts: dict[str, Any], **extra: Any) -> Any:
    from bastion.redteam import HttpTarget

    return HttpTarget(
        opts["target_url"],
        opts["model"],
        api_key=_api_key(opts["api_key_env"]),
        concurrency=opts["concurrency"],
        rate=opts["rate"],
        retries=opts["retries"],
        backoff=opts["backoff"],
        timeout=opts["timeout"],
        **extra,
    )
