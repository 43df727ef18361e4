"""``bastion audit``: verify the tamper-evident log, prove entries, search and export.

Exit codes: 0 the log verifies / the command succeeded; 1 the log or a proof failed
verification (tampering); 2 the job could not be done (bad options, no database).
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from datetime import datetime
from functools import wraps
from pathlib import Path
from typing import Any

import click

from bastion.audit import local as audit_local
from bastion.cli._common import EXIT_FINDINGS, fail
from bastion.errors import BastionError, VerificationError

DEFAULT_ORIGIN = audit_local.ORIGIN
KEY_FILE = audit_local.KEY_FILE


def _data_dir(value: str | None) -> Path:
    return Path(value or os.environ.get("BASTION_DATA_DIR") or "~/.bastion").expanduser()


def _store_options(func: Callable[..., Any]) -> Callable[..., Any]:
    @click.option(
        "--data-dir", envvar="BASTION_DATA_DIR", help="Data directory.  [default: ~/.bastion]"
    )
    @click.option(
        "--database-url",
        envvar="BASTION_DATABASE_URL",
        help="sqlite:///PATH or postgresql://USER@HOST/DB.  [default: sqlite:///DATA_DIR/bastion.db]",
    )
    @click.option(
        "--origin",
        envvar="BASTION_AUDIT_ORIGIN",
        default=DEFAULT_ORIGIN,
        show_default=True,
        help="The log's name in its checkpoints.",
    )
    @wraps(func)
    def wrapper(data_dir: str | None, database_url: str | None, origin: str, **kw: Any) -> Any:
        from bastion.audit.checkpoint import NoteSigner
        from bastion.db import make_engine, migrate

        try:
            base = _data_dir(data_dir)
            url = database_url or f"sqlite:///{base / 'bastion.db'}"
            if url.startswith("sqlite:///"):
                base.mkdir(parents=True, exist_ok=True, mode=0o700)
            engine = make_engine(url)
            migrate(engine)
            signer = NoteSigner.load_or_create(base / KEY_FILE, origin)
            try:
                return func(engine=engine, signer=signer, **kw)
            finally:
                engine.dispose()
        except VerificationError as exc:
            click.echo(f"FAILED: {exc.message}", err=True)
            sys.exit(EXIT_FINDINGS)
        except BastionError as exc:
            fail(exc)
        except Exception as exc:  # a database that is down or not a database
            from sqlalchemy.exc import SQLAlchemyError

            if isinstance(exc, SQLAlchemyError):
                fail(
                    BastionError(
                        f"database error: {exc.__class__.__name__}", hint="Check --database-url."
                    )
                )
            raise

    return wrapper


@click.group()
def audit() -> None:
    """The tamper-evident audit log: verify, prove, search, export."""


@audit.command()
@_store_options
@click.option(
    "--checkpoint",
    "checkpoint_files",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A signed checkpoint kept elsewhere, to check too (repeatable).",
)
@click.option("--key", "vkey", help="Verifier key (name+hash+key); default: the data dir's key.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.option(
    "--record/--no-record",
    default=True,
    show_default=True,
    help="Append the result to the log as an audit.verify event (alerts on failure).",
)
@click.option(
    "--config",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    envvar="BASTION_CONFIG",
    help="Settings file: its [alerts] section (webhook) applies to a failed verify.",
)
def verify(
    engine: Any,
    signer: Any,
    checkpoint_files: tuple[Path, ...],
    vkey: str | None,
    as_json: bool,
    record: bool,
    config: Path | None,
) -> None:
    """Recompute the tree and check every signed checkpoint.

    \b
    Exit codes:
      0  every entry and checkpoint verifies
      1  the log was tampered with: the first bad entry is named
      2  the check could not be run
    """
    from bastion.audit.checkpoint import NoteVerifier
    from bastion.audit.verify import LogTamperedError, verify_log

    verifier = NoteVerifier.from_vkey(vkey) if vkey else signer
    notes = [p.read_text(encoding="utf-8") for p in checkpoint_files]
    try:
        report = verify_log(engine, verifier, checkpoints=notes)
    except LogTamperedError as exc:
        if record:
            _record_verify(engine, signer, config, exc.first_bad, exc.problems[0])
        if as_json:
            click.echo(
                json.dumps(
                    {"ok": False, "first_bad": exc.first_bad, "problems": list(exc.problems)},
                    indent=2,
                )
            )
        else:
            click.echo(f"TAMPERED: first bad entry {exc.first_bad}", err=True)
            for problem in exc.problems[:20]:
                click.echo(f"  {problem}", err=True)
        sys.exit(EXIT_FINDINGS)
    if record:
        _record_verify(engine, signer, config, None, None)
    result = {
        "ok": True,
        "size": report.size,
        "root": report.root.hex(),
        "checkpoints": report.checkpoints,
        "signed_size": report.signed_size,
        "unsigned": report.unsigned,
    }
    if as_json:
        click.echo(json.dumps(result, indent=2))
    else:
        click.echo(f"ok: {report.size} entries, {report.checkpoints} signed checkpoints verified")
        if report.unsigned:
            click.echo(f"note: the last {report.unsigned} entries await the next checkpoint")


def _record_verify(
    engine: Any, signer: Any, config: Path | None, first_bad: int | None, problem: str | None
) -> None:
    """Log the verification; a failure also goes through the alert rules."""
    from bastion.audit.base import AuditEvent, Outcome
    from bastion.audit.log import AuditLog
    from bastion.config import Settings
    from bastion.monitoring import AlertEngine, FanOutSink, LogNotifier, WebhookNotifier

    settings = Settings.load(config).alerts
    event = AuditEvent(
        action="audit.verify",
        actor="cli",
        outcome=Outcome.SUCCESS if first_bad is None else Outcome.FAILURE,
        source="cli",
        reason=problem,
        details={} if first_bad is None else {"first_bad": first_bad},
    )
    with AuditLog(engine, signer=signer) as log:
        notifiers: list[Any] = [LogNotifier(log)]
        hook = None
        if settings.webhook_url and first_bad is not None:
            hook = WebhookNotifier(settings.webhook_url, secret=settings.webhook_secret or "")
            notifiers.append(hook)
        FanOutSink([log, AlertEngine(settings, notifiers)]).emit(event)
        if hook is not None:
            hook.close()


@audit.command()
@_store_options
def checkpoint(engine: Any, signer: Any) -> None:
    """Sign a checkpoint of the log now and print it (keep a copy elsewhere)."""
    from bastion.audit.log import AuditLog

    with AuditLog(engine, signer=signer) as log:
        log.checkpoint()
    from bastion.audit.proofs import latest_checkpoint

    click.echo(latest_checkpoint(engine), nl=False)


@audit.command()
@_store_options
def key(engine: Any, signer: Any) -> None:
    """Print the log's verifier key, for offline checks of checkpoints and proofs."""
    click.echo(signer.vkey())


@audit.command()
@_store_options
@click.option(
    "--entry",
    "index",
    type=click.IntRange(min=0),
    help="Prove this entry is in the latest checkpoint.",
)
@click.option(
    "--from",
    "old_size",
    type=click.IntRange(min=0),
    help="Prove the latest checkpoint extends the one of this size.",
)
@click.option(
    "--to", "new_size", type=click.IntRange(min=0), help="With --from: the newer checkpoint's size."
)
@click.option(
    "--check",
    "check_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Check a proof document instead.",
)
def prove(
    engine: Any,
    signer: Any,
    index: int | None,
    old_size: int | None,
    new_size: int | None,
    check_file: Path | None,
) -> None:
    """Write an inclusion or consistency proof as JSON, or --check one."""
    from bastion.audit import proofs

    if check_file is not None:
        click.echo(json.dumps(proofs.check_proof(check_file.read_bytes(), signer), indent=2))
        return
    if (index is None) == (old_size is None):
        raise click.UsageError("give --entry N or --from SIZE")
    if index is not None:
        doc = proofs.prove_inclusion(engine, index).to_json()
    else:
        assert old_size is not None
        doc = proofs.prove_consistency(engine, old_size, new_size).to_json()
    click.echo(json.dumps(doc, indent=2))


def _filter_options(func: Callable[..., Any]) -> Callable[..., Any]:
    for option in reversed(
        [
            click.option("--actor"),
            click.option("--action", help="Exact, or a prefix like 'auth.*'."),
            click.option("--resource"),
            click.option("--outcome", type=click.Choice(["success", "failure", "denied"])),
            click.option("--since", type=click.DateTime(), help="UTC, inclusive."),
            click.option("--until", type=click.DateTime(), help="UTC, exclusive."),
            click.option("--limit", type=click.IntRange(min=1)),
        ]
    ):
        func = option(func)
    return func


def _rows(engine: Any, kw: dict[str, Any]) -> Any:
    from datetime import UTC

    from bastion.audit.base import Outcome
    from bastion.audit.query import Filter, search

    def utc(value: datetime | None) -> datetime | None:
        return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value

    where = Filter(
        actor=kw["actor"],
        action=kw["action"],
        resource=kw["resource"],
        outcome=Outcome(kw["outcome"]) if kw["outcome"] else None,
        since=utc(kw["since"]),
        until=utc(kw["until"]),
    )
    return search(engine, where, limit=kw["limit"])


@audit.command()
@_store_options
@_filter_options
def search(engine: Any, signer: Any, **kw: Any) -> None:
    """Find events by actor, action, resource, outcome and time (one JSON per line)."""
    from bastion.audit.canonical import event_to_dict

    for index, event in _rows(engine, kw):
        click.echo(json.dumps({"index": index, **event_to_dict(event)}, ensure_ascii=False))


@audit.command()
@_store_options
@_filter_options
@click.option(
    "--format", "fmt", type=click.Choice(["jsonl", "ocsf"]), default="jsonl", show_default=True
)
def export(engine: Any, signer: Any, fmt: str, **kw: Any) -> None:
    """Export events as JSON Lines or OCSF (API Activity / Detection Finding) for a SIEM."""
    from bastion.audit.canonical import event_to_dict
    from bastion.audit.ocsf import to_ocsf

    for index, event in _rows(engine, kw):
        record = (
            to_ocsf(index, event) if fmt == "ocsf" else {"index": index, **event_to_dict(event)}
        )
        click.echo(json.dumps(record, ensure_ascii=False, sort_keys=True))
