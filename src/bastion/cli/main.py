"""Entry point. Command groups are imported only when invoked, so ``bastion --help``
and a scan of a small file start fast (scanners run in loops, hooks and CI jobs)."""

from __future__ import annotations

import importlib
from typing import Any

import click

from bastion import __version__

#: command name -> (module, attribute, one-line help). Ordered as shown in --help.
COMMANDS: dict[str, tuple[str, str, str]] = {
    "up": ("bastion.cli.server", "up", "Start the model registry server (TLS, first admin)."),
    "login": ("bastion.cli.registry", "login", "Log in to a registry (stores URL, CA, token)."),
    "push": ("bastion.cli.registry", "push", "Upload a model version; the server scans it."),
    "pull": ("bastion.cli.registry", "pull", "Download a version, verified before it is written."),
    "ls": ("bastion.cli.registry", "ls", "List namespaces, models or versions."),
    "info": ("bastion.cli.registry", "info", "Show a version: state, files, signature, findings."),
    "release": ("bastion.cli.registry", "release", "Release a quarantined version (audited)."),
    "scan": (
        "bastion.cli.scan",
        "scan",
        "Scan model files for code injection before anything loads them.",
    ),
    "keys": (
        "bastion.cli.signing",
        "keys",
        "Signing keys; rotate the registry's key-encryption key.",
    ),
    "sign": (
        "bastion.cli.signing",
        "sign",
        "Sign a model folder or file (OpenSSF model signing bundle).",
    ),
    "verify": (
        "bastion.cli.signing",
        "verify",
        "Verify a model against its signature; names each file that differs.",
    ),
    "guard": ("bastion.cli.guard", "guard", "LLM firewall: check prompts and responses; proxy."),
    "audit": ("bastion.cli.audit", "audit", "Verify, prove, search and export the audit log."),
    "users": ("bastion.cli.users", "users", "Manage users, roles, MFA and sessions (server host)."),
    "backup": (
        "bastion.cli.backup",
        "backup",
        "Back up, verify and restore the server's data (signed, sealed keys).",
    ),
    "incident": (
        "bastion.cli.incident",
        "incident",
        "Incident playbooks: contain, quarantine, rotate keys, evidence.",
    ),
    "doctor": (
        "bastion.cli.doctor",
        "doctor",
        "Check ML packages for known advisories and the server's configuration.",
    ),
    "data": (
        "bastion.cli.data",
        "data",
        "Scan training data for poisoned and private records; sign it.",
    ),
    "redteam": (
        "bastion.cli.redteam",
        "redteam",
        "Red-team an LLM app: probes, bias tests, CI gates.",
    ),
}


class LazyGroup(click.Group):
    """A click group whose subcommands are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        entry = COMMANDS.get(cmd_name)
        if entry is None:
            return None
        module = importlib.import_module(entry[0])
        command: click.Command = getattr(module, entry[1])
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, help_) for name, (_, _, help_) in COMMANDS.items()]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="bastion")
def cli() -> None:
    """Bastion: defence in depth for LLMs and the ML models behind them."""


def main(argv: list[str] | None = None) -> Any:
    return cli.main(args=argv, prog_name="bastion")
