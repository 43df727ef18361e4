"""``bastion up``: start the model registry server (TLS on, first admin on first start)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from bastion.cli._common import fail
from bastion.errors import BastionError


@click.command(
    epilog="\b\nExamples:\n  bastion up\n  bastion up --data-dir /srv/bastion "
    "--database-url postgresql://bastion@db/bastion --host 0.0.0.0\n"
    "\b\nThe key-encryption key is a 0600 file in the data dir; to keep it on a PKCS#11\n"
    "token (HSM) instead, set [server] pkcs11_module and pkcs11_token (or\n"
    "BASTION_PKCS11_MODULE, BASTION_PKCS11_TOKEN) and the PIN in BASTION_PKCS11_PIN."
)
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Where the database, keys, certificate and blobs live.  "
    "[default: $BASTION_DATA_DIR or ~/.bastion]",
)
@click.option(
    "--database-url",
    help="sqlite:///PATH or postgresql://USER@HOST/DB.  "
    "[default: $BASTION_DATABASE_URL, else SQLite in the data dir]",
)
@click.option("--host", help="Address to listen on.  [default: 127.0.0.1]")
@click.option("--port", type=click.IntRange(0, 65535), help="Port.  [default: 8443]")
@click.option(
    "--client-ca",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="mTLS: require client certificates issued by this CA (PEM).",
)
@click.option(
    "--insecure-http",
    is_flag=True,
    help="Serve plain HTTP without TLS (only behind a TLS-terminating proxy).",
)
@click.option(
    "--config",
    "config_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Settings file (TOML, [server] section).",
)
def up(
    data_dir: Path | None,
    database_url: str | None,
    host: str | None,
    port: int | None,
    client_ca: Path | None,
    insecure_http: bool,
    config_file: Path | None,
) -> None:
    """Start the model registry: TLS on, SQLite and a key file by default.

    On first start it creates the data directory, a key-encryption key, a self-signed
    certificate and the first admin token, which it prints once.
    """
    from dataclasses import replace

    from bastion.config import Settings
    from bastion.server.run import LoggingAuditSink, serve

    try:
        loaded = Settings.load(config_file)
        settings = loaded.server
        overrides: dict[str, Any] = {
            "data_dir": data_dir,
            "database_url": database_url,
            "host": host,
            "port": port,
            "client_ca": client_ca,
        }
        settings = replace(settings, **{k: v for k, v in overrides.items() if v is not None})
        if insecure_http:
            settings = replace(settings, insecure_http=True, client_ca=None)
        # Events go to stderr (LoggingAuditSink), the tamper-evident log, the metrics and
        # the alert rules of the [alerts] section.
        serve(
            settings,
            LoggingAuditSink(),
            on_ready=_announce,
            scan_limits=loaded.scan.limits,
            alerts=loaded.alerts,
            auth=loaded.auth,
            sso=loaded.sso,
        )
    except BastionError as exc:
        fail(exc)


def _announce(started: object) -> None:
    from bastion.server.run import Started
    from bastion.server.tls import fingerprint

    assert isinstance(started, Started)
    paths = started.paths
    echo = click.echo
    echo(f"Bastion registry at {started.url}")
    echo(f"  data:        {paths.data_dir}")
    echo(f"  database:    {started.database}")
    echo(f"  web console: {started.url}/console/ (users: bastion users create NAME)")
    if started.url.startswith("https"):
        echo(f"  certificate: {paths.cert} (SHA-256 {fingerprint(paths.cert)})")
    else:
        echo("  WARNING: plain HTTP; tokens and models cross the network unencrypted", err=True)
    token = started.first.admin_token
    if token is not None:
        ca = f" --ca-cert {paths.cert}" if started.url.startswith("https") else ""
        echo("")
        echo("First start: an admin token was created. It is shown ONCE; keep it safe:")
        echo(f"  {token}")
        echo("")
        echo("Log in from another terminal (the token is read from the prompt):")
        echo(f"  bastion login {started.url}{ca}")
        echo("Then:")
        echo("  bastion ls")
        echo("  bastion push ./my-model my-team/my-model:1.0 --create-namespace")
    echo("")
