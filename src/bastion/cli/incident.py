"""``bastion incident``: the incident-response playbooks, run on the server host.

Each playbook is one audited step in the data directory's tamper-evident log (under
``operator:<login name>``); ``--dry-run`` prints what would change and changes nothing.
Exit codes: 0 done, 1 evidence failed verification, 2 error.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from bastion.cli._common import EXIT_FINDINGS, fail, operator_actor
from bastion.errors import BastionError, VerificationError


def _common(func: Callable[..., Any]) -> Callable[..., Any]:
    func = click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")(func)
    func = click.option("--dry-run", is_flag=True, help="Show what would change; change nothing.")(
        func
    )
    func = click.option("--reason", required=True, help="Why (kept in the audit log).")(func)
    func = click.option(
        "--database-url", help="[default: $BASTION_DATABASE_URL, settings, or SQLite in data dir]"
    )(func)
    return click.option(
        "--data-dir",
        type=click.Path(file_okay=False, path_type=Path),
        help="The server's data directory.  [default: $BASTION_DATA_DIR or ~/.bastion]",
    )(func)


@contextmanager
def _workspace(data_dir: Path | None, database_url: str | None) -> Iterator[Any]:
    from bastion.config import Settings
    from bastion.incident import workspace

    settings = Settings.load().server
    if data_dir is not None:
        settings = replace(settings, data_dir=data_dir)
    url = database_url or settings.database_url
    with workspace(settings.data_dir, url, actor=operator_actor()) as ws:
        yield ws


def _report(result: Any, as_json: bool) -> None:
    if as_json:
        doc = {
            "playbook": result.playbook,
            "dry_run": result.dry_run,
            "changes": [vars_of(c) for c in result.changes],
            "notes": list(result.notes),
        }
        click.echo(json.dumps(doc, indent=2))
        return
    verb = "would change" if result.dry_run else "changed"
    click.echo(f"{result.playbook}: {verb} {len(result.changes)} thing(s)")
    for change in result.changes:
        detail = f"  ({change.detail})" if change.detail else ""
        click.echo(f"  {change.action:<18} {change.target}{detail}")
    for note in result.notes:
        click.echo(f"note: {note}")


def vars_of(change: Any) -> dict[str, str]:
    return {"action": change.action, "target": change.target, "detail": change.detail}


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def incident() -> None:
    """Incident playbooks: contain, quarantine, rotate-keys, evidence, verify-evidence.

    Exit codes: 0 done, 1 evidence failed verification, 2 error.
    """


@incident.command("contain")
@click.argument("principal")
@click.option(
    "--proxy-keys",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="The LLM proxy's key file: keys with the principal's name are removed.",
)
@click.option("--proxy-key", "proxy_key_ids", multiple=True, help="Also block this proxy key id.")
@_common
def contain(
    principal: str,
    proxy_keys: Path | None,
    proxy_key_ids: tuple[str, ...],
    data_dir: Path | None,
    database_url: str | None,
    reason: str,
    dry_run: bool,
    as_json: bool,
) -> None:
    """Contain PRINCIPAL (user:NAME, token:NAME or a user name): disable the user, revoke
    every session and API token it holds or made, block its proxy keys."""
    from bastion.incident import contain_principal

    try:
        with _workspace(data_dir, database_url) as ws:
            result = contain_principal(
                ws,
                principal,
                reason=reason,
                proxy_keys=proxy_keys,
                proxy_key_ids=proxy_key_ids,
                dry_run=dry_run,
            )
    except BastionError as exc:
        fail(exc)
    _report(result, as_json)


def _utc(value: datetime | None) -> datetime | None:
    return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value


@incident.command("quarantine")
@click.argument("versions", nargs=-1)
@click.option("--namespace", help="Every version in this namespace.")
@click.option("--uploaded-by", help="Versions this principal uploaded (e.g. token:ci).")
@click.option("--since", type=click.DateTime(), help="Uploaded at or after (UTC).")
@click.option("--until", type=click.DateTime(), help="Uploaded before (UTC).")
@_common
def quarantine(
    versions: tuple[str, ...],
    namespace: str | None,
    uploaded_by: str | None,
    since: datetime | None,
    until: datetime | None,
    data_dir: Path | None,
    database_url: str | None,
    reason: str,
    dry_run: bool,
    as_json: bool,
) -> None:
    """Quarantine VERSIONS (NAMESPACE/MODEL:VERSION) and/or every version the filters
    select; a quarantined version is not served until an admin releases it."""
    from bastion.incident import quarantine_versions

    try:
        with _workspace(data_dir, database_url) as ws:
            result = quarantine_versions(
                ws,
                reason=reason,
                versions=versions,
                namespace=namespace,
                uploaded_by=uploaded_by,
                since=_utc(since),
                until=_utc(until),
                dry_run=dry_run,
            )
    except BastionError as exc:
        fail(exc)
    _report(result, as_json)


@incident.command("rotate-keys")
@click.option(
    "--kek/--no-kek",
    default=True,
    show_default=True,
    help="Rotate the registry's key-encryption key and re-wrap every data key.",
)
@click.option(
    "--distrust-key",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    multiple=True,
    help="A signing public key (PEM) to drop from every policy.",
)
@click.option(
    "--trust-key",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    multiple=True,
    help="Its replacement (PEM), trusted wherever a distrusted key was.",
)
@_common
def rotate_keys(
    kek: bool,
    distrust_key: tuple[Path, ...],
    trust_key: tuple[Path, ...],
    data_dir: Path | None,
    database_url: str | None,
    reason: str,
    dry_run: bool,
    as_json: bool,
) -> None:
    """Rotate the key-encryption key and remove distrusted signing keys from every
    namespace policy."""
    from bastion.config import Settings
    from bastion.incident import rotate_trust
    from bastion.server.bootstrap import Paths, key_provider

    try:
        with _workspace(data_dir, database_url) as ws:
            settings = replace(Settings.load().server, data_dir=ws.data_dir)
            keys = key_provider(Paths(ws.data_dir), settings) if kek else None
            pems = [p.read_bytes() for p in distrust_key]
            result = rotate_trust(
                ws,
                reason=reason,
                keys=keys,
                distrust=pems,
                trust=[p.read_bytes() for p in trust_key],
                dry_run=dry_run,
            )
    except BastionError as exc:
        fail(exc)
    _report(result, as_json)


@incident.command("evidence")
@click.argument("out", type=click.Path(file_okay=False, path_type=Path))
@click.option("--actor", help="Events by this principal.")
@click.option("--action", help="Events with this action (or prefix: 'auth.*').")
@click.option("--resource", help="Events about this resource.")
@click.option("--since", type=click.DateTime(), help="Events at or after (UTC).")
@click.option("--until", type=click.DateTime(), help="Events before (UTC).")
@click.option(
    "--version",
    "versions",
    multiple=True,
    help="Add this version's scan report and signature (NAMESPACE/MODEL:VERSION).",
)
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="The server's data directory.  [default: $BASTION_DATA_DIR or ~/.bastion]",
)
@click.option("--database-url", help="[default: settings, or SQLite in the data dir]")
@click.option("--reason", required=True, help="Why (kept in the audit log and the bundle).")
def evidence(
    out: Path,
    actor: str | None,
    action: str | None,
    resource: str | None,
    since: datetime | None,
    until: datetime | None,
    versions: tuple[str, ...],
    data_dir: Path | None,
    database_url: str | None,
    reason: str,
) -> None:
    """Export an evidence bundle into OUT: the selected audit events with inclusion proofs
    and a signed checkpoint, scan reports and signatures. Check it with verify-evidence."""
    from bastion.audit.query import Filter
    from bastion.incident import export_evidence

    where = Filter(
        actor=actor, action=action, resource=resource, since=_utc(since), until=_utc(until)
    )
    try:
        with _workspace(data_dir, database_url) as ws:
            result = export_evidence(ws, out, reason=reason, where=where, versions=versions)
            vkey = ws.log.signer.vkey()
    except BastionError as exc:
        fail(exc)
    click.echo(
        f"wrote {out}: {result.events} event(s) proven against the checkpoint of size "
        f"{result.checkpoint_size}, {result.versions} version(s)"
    )
    click.echo(f"verifier key: {vkey}")


@incident.command("verify-evidence")
@click.argument("bundle", type=click.Path(file_okay=False, exists=True, path_type=Path))
@click.option(
    "--vkey",
    required=True,
    help="The audit log's verifier key (bastion audit key), from a trusted copy.",
)
def verify_evidence(bundle: Path, vkey: str) -> None:
    """Check an evidence bundle offline: every file's digest, the seal event, and every
    event's inclusion proof against the signed checkpoint."""
    from bastion.incident import verify_evidence as check

    try:
        report = check(bundle, vkey=vkey)
    except VerificationError as exc:
        click.echo(f"FAILED: {exc.message}", err=True)
        sys.exit(EXIT_FINDINGS)
    except BastionError as exc:
        fail(exc)
    click.echo(
        f"OK: {report.events} event(s) under the checkpoint of size {report.checkpoint_size}, "
        f"{report.files} file(s), sealed by audit entry {report.sealed_at}"
    )
