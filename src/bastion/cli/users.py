"""``bastion users``: manage users directly in the server's database.

Whoever runs this can write the database, so they act as an operator with every right;
each change is still an audit event, under ``operator:<login name>``, in the same
tamper-evident audit log as the server's (signed with ``<data dir>/audit-log.key``), so
`bastion audit verify` and `bastion audit search` cover it.

Exit codes: 0 done, 1 refused (wrong code, weak password), 2 error (e.g. no such user).
"""

from __future__ import annotations

import getpass
import json
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import click

from bastion.errors import BastionError

F = TypeVar("F", bound=Callable[..., Any])
EXIT_OK, EXIT_REFUSED, EXIT_ERROR = 0, 1, 2


def _data_dir(value: str | None) -> Path:
    return Path(value or os.environ.get("BASTION_DATA_DIR") or "~/.bastion").expanduser()


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--database-url",
    envvar="BASTION_DATABASE_URL",
    default=None,
    help="Database (env BASTION_DATABASE_URL). Default: sqlite:///DATA_DIR/bastion.db",
)
@click.option(
    "--data-dir",
    envvar="BASTION_DATA_DIR",
    default=None,
    help="Data folder (env BASTION_DATA_DIR). Default: ~/.bastion",
)
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Settings file (TOML; the [auth] section applies).",
)
@click.pass_context
def users(ctx: click.Context, database_url: str | None, data_dir: str | None,
          config_path: Path | None) -> None:  # fmt: skip
    """Manage users, roles, MFA and sessions in the server's database.

    Exit codes: 0 done, 1 refused (wrong code, weak password), 2 error (e.g. no such user).
    """
    ctx.obj = {"url": database_url, "data_dir": _data_dir(data_dir), "config": config_path}


@contextmanager
def _service(ctx: click.Context) -> Iterator[Any]:
    from bastion.audit.checkpoint import NoteSigner
    from bastion.audit.local import KEY_FILE as AUDIT_KEY_FILE
    from bastion.audit.local import ORIGIN as AUDIT_ORIGIN
    from bastion.audit.log import AuditLog
    from bastion.auth.errors import AuthError, MfaStateError, UserExists, UserNotFound
    from bastion.auth.secretbox import SecretBox
    from bastion.auth.service import IdentityService
    from bastion.config import Settings
    from bastion.db import make_engine, migrate

    data_dir: Path = ctx.obj["data_dir"]
    engine = None
    try:
        settings = Settings.load(ctx.obj["config"])
        url = ctx.obj["url"]
        if url is None:
            data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
            url = f"sqlite:///{data_dir / 'bastion.db'}"
        engine = make_engine(url)
        migrate(engine)
        data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        signer = NoteSigner.load_or_create(data_dir / AUDIT_KEY_FILE, AUDIT_ORIGIN)
        box = SecretBox.from_file(data_dir / "identity.key", create=True)
        with AuditLog(engine, signer=signer) as log:
            yield IdentityService(engine, settings=settings.auth, audit=log, secret_box=box)
    except (UserNotFound, UserExists, MfaStateError) as exc:
        _fail(exc, EXIT_ERROR)
    except AuthError as exc:
        _fail(exc, EXIT_REFUSED)
    except BastionError as exc:
        _fail(exc, EXIT_ERROR)
    except ValueError as exc:
        _fail(BastionError(str(exc)), EXIT_ERROR)
    finally:
        if engine is not None:
            engine.dispose()


def _fail(exc: BastionError, code: int) -> None:
    click.echo(f"error: {exc.message}", err=True)
    if exc.hint:
        click.echo(f"hint: {exc.hint}", err=True)
    sys.exit(code)


def _operator() -> Any:
    from bastion.auth.service import Operator

    try:
        return Operator(getpass.getuser())
    except (KeyError, OSError):
        return Operator()


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    value: str = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    return value


def password_stdin(func: F) -> F:
    return click.option(
        "--password-stdin",
        is_flag=True,
        help="Read the password from the first line of standard input.",
    )(func)


@users.command()
@click.argument("name")
@password_stdin
@click.pass_context
def create(ctx: click.Context, name: str, password_stdin: bool) -> None:
    """Create user NAME (prompts for the password twice)."""
    password = _read_password(password_stdin)
    with _service(ctx) as svc:
        svc.create_user(_operator(), name, password, source="cli")
    click.echo(f"created user {name}")


@users.command("set-password")
@click.argument("name")
@password_stdin
@click.pass_context
def set_password(ctx: click.Context, name: str, password_stdin: bool) -> None:
    """Set NAME's password; ends all of NAME's sessions."""
    password = _read_password(password_stdin)
    with _service(ctx) as svc:
        svc.set_password(_operator(), name, password, source="cli")
    click.echo(f"password set for {name}; their sessions ended")


@users.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def list_(ctx: click.Context, as_json: bool) -> None:
    """List users with their roles, MFA and lock state."""
    with _service(ctx) as svc:
        rows = [
            {
                "name": u.name,
                "disabled": u.disabled,
                "mfa": u.mfa_enabled,
                "locked": u.locked,
                "roles": [f"{g.role.value}@{g.namespace}" for g in u.grants],
            }
            for u in svc.list_users(_operator())
        ]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    for r in rows:
        flags = [f for f in ("disabled", "mfa", "locked") if r[f]]
        click.echo(f"{r['name']:<24} {' '.join(r['roles']) or '-':<40} {','.join(flags)}")


def _simple(name: str, help_: str, call: Callable[[Any, Any, str], None], done: str) -> None:
    @users.command(name, help=help_)
    @click.argument("user")
    @click.pass_context
    def command(ctx: click.Context, user: str) -> None:
        with _service(ctx) as svc:
            call(svc, _operator(), user)
        click.echo(done.format(user=user))


_simple(
    "disable",
    "Disable USER and end their sessions.",
    lambda s, o, u: s.set_disabled(o, u, disabled=True, source="cli"),
    "disabled {user}",
)
_simple(
    "enable",
    "Enable USER again.",
    lambda s, o, u: s.set_disabled(o, u, disabled=False, source="cli"),
    "enabled {user}",
)
_simple(
    "delete",
    "Delete USER with their sessions, MFA and roles.",
    lambda s, o, u: s.delete_user(o, u, source="cli"),
    "deleted {user}",
)
_simple(
    "reset-mfa",
    "Remove USER's second factor and end their sessions.",
    lambda s, o, u: s.reset_mfa(o, u, source="cli"),
    "MFA reset for {user}",
)
_simple("unlock", "Clear USER's failed logins and lockout.",
        lambda s, o, u: s.unlock(o, u, source="cli"), "unlocked {user}")  # fmt: skip


def _role_command(name: str, help_: str) -> None:
    @users.command(name, help=help_)
    @click.argument("user")
    @click.argument("role", type=click.Choice(["reader", "publisher", "maintainer", "admin",
                                               "auditor"]))  # fmt: skip
    @click.option("--namespace", "-n", default="*", show_default=True,
                  help="Namespace; '*' for the global roles admin and auditor.")  # fmt: skip
    @click.pass_context
    def command(ctx: click.Context, user: str, role: str, namespace: str) -> None:
        from bastion.auth.base import Role

        with _service(ctx) as svc:
            method = svc.grant if name == "grant" else svc.revoke
            changed = method(_operator(), user, Role(role), namespace, source="cli")
        verb = "granted" if name == "grant" else "revoked"
        click.echo(f"{verb} {role}@{namespace} for {user}" if changed else "no change")


_role_command("grant", "Grant USER the ROLE in a namespace (or globally).")
_role_command("revoke", "Revoke USER's ROLE in a namespace (or globally).")


@users.command("sessions")
@click.argument("user")
@click.option("--revoke", "revoke_id", default=None, help="Revoke this session id.")
@click.option("--revoke-all", is_flag=True, help="Revoke all of USER's sessions.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def sessions_(ctx: click.Context, user: str, revoke_id: str | None, revoke_all: bool,
              as_json: bool) -> None:  # fmt: skip
    """List USER's live sessions, or revoke one or all of them."""
    with _service(ctx) as svc:
        if revoke_id or revoke_all:
            count = svc.revoke_sessions(_operator(), user, revoke_id, source="cli")
            click.echo(f"revoked {count} session(s)")
            return
        rows = [
            {"id": s.id, "scope": s.scope.value, "mfa": s.mfa, "created_at": s.created_at,
             "expires_at": s.expires_at, "source": s.source}
            for s in svc.list_sessions(_operator(), user)
        ]  # fmt: skip
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    for r in rows:
        click.echo(f"{r['id']}  {r['scope']:<9} mfa={r['mfa']!s:<5} "
                   f"expires={r['expires_at']} source={r['source'] or '-'}")  # fmt: skip


@users.group()
def mfa() -> None:
    """Set up a user's TOTP second factor from the server host."""


@mfa.command()
@click.argument("user")
@click.option("--png", "png_path", type=click.Path(dir_okay=False, path_type=Path),
              default=None, help="Also write the QR code to this PNG file.")  # fmt: skip
@click.pass_context
def enrol(ctx: click.Context, user: str, png_path: Path | None) -> None:
    """Start enrolment: print the QR code (scan it), then run `mfa confirm USER CODE`."""
    with _service(ctx) as svc:
        enrolment = svc.enrol_mfa_for(_operator(), user)
    click.echo(enrolment.qr_ascii())
    click.echo(f"secret: {enrolment.secret}")
    click.echo(f"uri:    {enrolment.uri}")
    if png_path is not None:
        fd = os.open(png_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(enrolment.qr_png())
        click.echo(f"QR code written to {png_path}")
    click.echo(f"then: bastion users mfa confirm {user} CODE")


@mfa.command()
@click.argument("user")
@click.argument("code")
@click.pass_context
def confirm(ctx: click.Context, user: str, code: str) -> None:
    """Turn MFA on with a current CODE; prints the 10 single-use recovery codes once."""
    with _service(ctx) as svc:
        done = svc.confirm_mfa_for(_operator(), user, code)
    click.echo(f"MFA is on for {user}. Recovery codes (each works once; keep them offline):")
    for rc in done.recovery_codes:
        click.echo(f"  {rc}")
