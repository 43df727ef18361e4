"""``bastion login``, ``push``, ``pull``, ``ls``, ``info``, ``release``: the registry client.

Exit codes: 0 done; 1 refused (not authorized, quarantined, a digest or signature that
does not verify); 2 the job could not be done (unreachable server, bad arguments).
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NoReturn

import click

from bastion.cli._common import EXIT_FINDINGS, fail
from bastion.errors import BastionError, VerificationError

TOKEN_ENV = "BASTION_TOKEN"  # noqa: S105 - the variable's name


def _refuse(exc: BastionError) -> NoReturn:
    from bastion.client import ClientError

    denied = isinstance(exc, VerificationError) or (
        isinstance(exc, ClientError) and exc.status in (401, 403, 409)
    )
    if not denied:
        fail(exc)
    click.echo(f"refused: {exc.message}", err=True)
    if exc.hint:
        click.echo(f"hint: {exc.hint}", err=True)
    sys.exit(EXIT_FINDINGS)


@contextmanager
def _client() -> Iterator[Any]:
    from bastion.client import Client

    try:
        with Client.from_login() as client:
            yield client
    except BastionError as exc:
        _refuse(exc)


@contextmanager
def _progress(total: int, label: str) -> Iterator[Callable[[str, int], None] | None]:
    if not sys.stderr.isatty():
        yield None
        return
    from rich.progress import BarColumn, DownloadColumn, Progress, TransferSpeedColumn

    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        transient=True,
    ) as bar:
        task = bar.add_task(label, total=total)
        yield lambda _path, n: bar.advance(task, n)


def _read_token() -> str:
    if os.environ.get(TOKEN_ENV):
        return os.environ[TOKEN_ENV].strip()
    if sys.stdin.isatty():
        return str(click.prompt("API token", hide_input=True, err=True)).strip()
    return sys.stdin.readline().strip()


@click.command(
    epilog="\b\nExample:\n  bastion login https://127.0.0.1:8443 --ca-cert ~/.bastion/tls/cert.pem"
)
@click.argument("url")
@click.option(
    "--ca-cert",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="CA certificate (PEM) to trust for this server, e.g. its self-signed certificate.",
)
@click.option("--user", help="Log in as this user (password and code are asked for).")
def login(url: str, ca_cert: Path | None, user: str | None) -> None:
    """Log in to the registry at URL, with an API token or, with --user, as a person.

    An API token is read from $BASTION_TOKEN, a prompt or stdin. With --user, the password
    (and, when the account has MFA, a TOTP or recovery code) are asked for and exchanged
    for a short-lived session. Stores the URL, CA certificate and token or session in a
    file only you can read (0600).
    """
    from bastion.client import Client, Login, save_login

    if not url.startswith("https://") and not url.startswith("http://"):
        raise click.UsageError("URL must start with https://")
    ca = str(ca_cert.resolve()) if ca_cert else None
    try:
        token = _read_token() if user is None else _user_session(url, ca, user)
        with Client(url, token, ca_cert=ca) as client:
            me = client.whoami()
    except BastionError as exc:
        _refuse(exc)
    path = save_login(Login(url, token, ca))
    click.echo(f"logged in to {url} as {me['principal']} (saved to {path})")


def _user_session(url: str, ca: str | None, user: str) -> str:
    """A session token for ``user``: the password, then a code if the account has MFA."""
    from bastion.client import Client, ClientError

    password = _read_secret("Password")
    with Client(url, None, ca_cert=ca) as client:
        try:
            answer = client.login(user, password)
        except ClientError as exc:
            if exc.error != "MfaRequired":
                raise
            answer = client.login(user, password, _read_secret("Code (TOTP or recovery)"))
    if answer.get("scope") != "full":
        raise click.ClickException(
            "this account must enrol a second factor first: log in to the web console"
        )
    return str(answer["token"])


def _read_secret(label: str) -> str:
    """A prompt on a terminal (not echoed), else one line of stdin."""
    if sys.stdin.isatty():
        return str(click.prompt(label, hide_input=True, err=True))
    return sys.stdin.readline().rstrip("\n")


@click.command()
@click.argument("source", type=click.Path(exists=True, path_type=Path))
@click.argument("ref")
@click.option(
    "--signature",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Signature bundle to upload with it.  [default: model.sig in the folder, if any]",
)
@click.option(
    "--create-namespace", is_flag=True, help="Create the namespace first (global admins)."
)
@click.option("--json", "as_json", is_flag=True, help="Print the version's info as JSON.")
def push(
    source: Path, ref: str, signature: Path | None, create_namespace: bool, as_json: bool
) -> None:
    """Upload SOURCE (a file or folder) as REF (namespace/model:version).

    The server scans every file as it arrives; a version that fails the namespace's
    policy is quarantined (exit 1) and its report shown.
    """
    from bastion.client import ClientError, Ref

    total = sum(
        p.stat().st_size
        for p in ([source] if source.is_file() else source.rglob("*"))
        if p.is_file()
    )
    with _client() as client:
        if create_namespace:
            try:
                client.create_namespace(Ref.parse(ref).namespace)
            except ClientError as exc:
                if exc.status != 409:
                    raise
        with _progress(total, f"push {ref}") as progress:
            info = client.push(source, ref, signature=signature, progress=progress)
    _show(info, as_json)
    if info["state"] == "quarantined":
        sys.exit(EXIT_FINDINGS)


@click.command()
@click.argument("ref")
@click.argument("dest", type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--key",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Public key (PEM): the version's signature must verify against it.",
)
def pull(ref: str, dest: Path, key: Path | None) -> None:
    """Download REF into DEST. Each file is checked against its digest (and the signature
    with --key) before it is moved into DEST; nothing unverified is written there."""
    with _client() as client:
        info = client.info(ref)
        total = sum(int(f["size"]) for f in info["files"])
        with _progress(total, f"pull {ref}") as progress:
            written = client.pull(ref, dest, verify_key=key, progress=progress)
    click.echo(f"pulled {ref}: {len(written)} file(s) into {dest}")


@click.command(name="ls")
@click.argument("where", required=False)
def ls(where: str | None) -> None:
    """List namespaces, the models of NAMESPACE, or the versions of NAMESPACE/MODEL."""
    from bastion.client import Ref

    with _client() as client:
        if where is None:
            for name in client.namespaces():
                click.echo(name)
        elif "/" not in where:
            for name in client.models(where):
                click.echo(f"{where}/{name}")
        else:
            ref = Ref.parse(where)
            for v in client.versions(ref):
                click.echo(
                    f"{ref.namespace}/{ref.model}:{v['version']}\t{v['state']}\t{v['created_at']}"
                )


@click.command()
@click.argument("ref")
@click.option("--json", "as_json", is_flag=True, help="Print everything as JSON.")
def info(ref: str, as_json: bool) -> None:
    """Show a version: state (and why), files with SHA-256, signature, scan findings."""
    with _client() as client:
        _show(client.info(ref), as_json)


@click.command()
@click.argument("ref")
@click.option("--reason", required=True, help="Why the quarantined version is safe (audited).")
def release(ref: str, reason: str) -> None:
    """Release a quarantined version (namespace admins); the reason is audited."""
    with _client() as client:
        _show(client.release(ref, reason), False)


def _show(info: dict[str, Any], as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(info, indent=2))
        return
    click.echo(f"{info['namespace']}/{info['model']}:{info['version']}  {info['state']}")
    click.echo(f"  {info['state_reason']}")
    click.echo(f"  signed: {'yes' if info.get('signature') else 'no'}")
    for f in info["files"]:
        click.echo(f"  {f['sha256'][:16]}  {f['size']:>14,}  {f['path']}")
    for entry in info["scan_report"]["files"]:
        for finding in entry["findings"]:
            click.echo(f"  [{finding['severity']}] {entry['path']}: {finding['message']}")
