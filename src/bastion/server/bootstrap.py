"""First start and every start: the data directory, the database, the key-encryption key,
the TLS certificate, and the first admin token.

Layout of the data directory (0700)::

    bastion.db       SQLite database (unless a database URL is given)
    kek.json         local key-encryption key file (0600)
    tls/cert.pem     self-signed certificate, SAN localhost and 127.0.0.1
    tls/key.pem      its private key (0600)
    identity.key     seals users' TOTP secrets and login tickets (0600)
    blobs/           encrypted blobs
    work/            scratch space (uploads no longer write here; emptied at start)
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy import Engine

from bastion.audit import AuditEvent, AuditSink
from bastion.audit.checkpoint import NoteVerifier
from bastion.auth.base import Role
from bastion.auth.rbac import GLOBAL, grant
from bastion.auth.tokens import issue_token
from bastion.config import AuthSettings, ScanLimits, ServerSettings, SsoSettings
from bastion.crypto.kek import KeyProvider, LocalKeyFileProvider
from bastion.db import make_engine, migrate
from bastion.db.base import bastion_meta
from bastion.errors import ConfigError
from bastion.monitoring.metrics import Metrics
from bastion.registry.blobs import BlobStore
from bastion.registry.keys import FollowedKeyFile
from bastion.registry.service import Registry
from bastion.registry.upload import Uploads
from bastion.server.state import ServerState
from bastion.server.tls import ensure_certificate

if TYPE_CHECKING:
    from bastion.auth.oidc import OidcClient
    from bastion.auth.service import IdentityService

__all__ = [
    "FirstStart",
    "Paths",
    "key_provider",
    "open_identity",
    "open_sso",
    "open_state",
    "prepare",
]

FIRST_ADMIN = "admin"
PIN_ENV = "BASTION_PKCS11_PIN"
FIRST_TOKEN_TTL = timedelta(days=90)


@dataclass(frozen=True, slots=True)
class Paths:
    data_dir: Path

    @property
    def database(self) -> Path:
        return self.data_dir / "bastion.db"

    @property
    def key_file(self) -> Path:
        return self.data_dir / "kek.json"

    @property
    def cert(self) -> Path:
        return self.data_dir / "tls" / "cert.pem"

    @property
    def cert_key(self) -> Path:
        return self.data_dir / "tls" / "key.pem"

    @property
    def identity_key(self) -> Path:
        return self.data_dir / "identity.key"

    @property
    def blobs(self) -> Path:
        return self.data_dir / "blobs"

    @property
    def work(self) -> Path:
        return self.data_dir / "work"

    def default_database_url(self) -> str:
        return f"sqlite:///{self.database}"


@dataclass(frozen=True, slots=True)
class FirstStart:
    """What a first start created; the token secret is shown once and never stored."""

    admin_token: str | None
    created_key: bool
    created_cert: bool


def key_provider(paths: Paths, settings: ServerSettings | None = None) -> KeyProvider:
    """The key-encryption key provider the settings name: a PKCS#11 token when a module is
    set (PIN from ``$BASTION_PKCS11_PIN``), else the key file in the data directory."""
    if settings is None or settings.pkcs11_module is None:
        return FollowedKeyFile(paths.key_file)
    from bastion.crypto.kek import KeyProviderError, Pkcs11Provider

    pin = os.environ.get(PIN_ENV)
    if not pin or not settings.pkcs11_token:
        raise KeyProviderError(
            f"PKCS#11 needs a token label (pkcs11_token) and the PIN in ${PIN_ENV}"
        )
    return Pkcs11Provider(
        module=settings.pkcs11_module,
        token_label=settings.pkcs11_token,
        pin=pin,
        key_id=settings.pkcs11_key_id,
    )


def prepare(paths: Paths, engine: Engine, audit: AuditSink, *, key_file: bool = True) -> FirstStart:
    """Create what is missing: directories, key file (unless the KEK lives on a PKCS#11
    token: ``key_file=False``), certificate, schema, first admin."""
    paths.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(paths.data_dir, 0o700)
    created_key = False
    if key_file and not paths.key_file.exists():
        LocalKeyFileProvider.create(paths.key_file)
        created_key = True
        audit.emit(AuditEvent(action="key.create", actor="system", resource="kek:local"))
    created_cert = ensure_certificate(paths.cert, paths.cert_key)
    migrate(engine)
    return FirstStart(_first_admin(engine, audit), created_key, created_cert)


def _first_admin(engine: Engine, audit: AuditSink) -> str | None:
    """Create the first admin token once per database (recorded in ``bastion_meta``)."""
    with engine.begin() as conn:
        done = conn.execute(
            sa.select(bastion_meta.c.value).where(bastion_meta.c.key == "registry.first_admin")
        ).first()
        if done is not None:
            return None
        now = datetime.now(UTC)
        issued = issue_token(
            conn, name=FIRST_ADMIN, created_by="system", ttl=FIRST_TOKEN_TTL, now=now
        )
        grant(conn, issued.info.principal.id, Role.ADMIN, GLOBAL)
        conn.execute(
            bastion_meta.insert().values(key="registry.first_admin", value=now.isoformat())
        )
    audit.emit(
        AuditEvent(
            action="token.create",
            actor="system",
            resource=issued.info.principal.id,
            details={"token": issued.info.id, "first_admin": True},
        )
    )
    return issued.secret


def open_state(
    paths: Paths,
    engine: Engine,
    audit: AuditSink,
    *,
    keys: KeyProvider | None = None,
    max_file_size: int = 64 << 30,
    scan_limits: ScanLimits | None = None,
    metrics: Metrics | None = None,
    auth: AuthSettings | None = None,
    audit_verifier: NoteVerifier | None = None,
    sso: SsoSettings | None = None,
) -> ServerState:
    """The server's shared state over a prepared data directory."""
    provider = keys or FollowedKeyFile(paths.key_file)
    store = BlobStore(paths.blobs, provider)
    registry = Registry(
        engine,
        store,
        audit,
        work_dir=paths.work,
        max_file_size=max_file_size,
        scan_limits=scan_limits,
    )
    sweep(registry)
    return ServerState(
        engine,
        registry,
        Uploads(registry),
        audit,
        metrics or Metrics(),
        identity=open_identity(paths, engine, audit, auth or AuthSettings()),
        audit_verifier=audit_verifier,
        sso=open_sso(sso),
    )


def open_identity(
    paths: Paths, engine: Engine, audit: AuditSink, settings: AuthSettings
) -> IdentityService | None:
    """Users and logins over the server's database, with the data directory's identity key
    (the one `bastion users` uses); None when its packages (argon2-cffi, pyotp) are missing."""
    try:
        from bastion.auth.secretbox import SecretBox
        from bastion.auth.service import IdentityService
    except ImportError:  # argon2-cffi / pyotp, main dependencies, removed by hand
        return None
    box = SecretBox.from_file(paths.identity_key, create=True)
    return IdentityService(engine, settings=settings, audit=audit, secret_box=box)


def open_sso(settings: SsoSettings | None) -> OidcClient | None:
    """The OpenID Connect client for the console's single sign-on, when ``[sso]`` names an
    issuer (the provider is asked for its metadata at the first login, not now)."""
    if settings is None or not settings.enabled:
        return None
    try:
        import httpx

        from bastion.auth.base import Role
        from bastion.auth.oidc import GroupRole, OidcClient, OidcConfig
    except ImportError as exc:
        raise ConfigError(
            f"[sso] needs the oidc extra: {exc}", hint="pip install 'bastion-ml[oidc]'"
        ) from exc
    try:
        mapping = {
            group: tuple(
                GroupRole(Role(role), namespace) if namespace else GroupRole(Role(role))
                for role, _, namespace in (entry.partition("@") for entry in roles)
            )
            for group, roles in settings.group_roles.items()
        }
        config = OidcConfig(
            issuer=str(settings.issuer),
            client_id=settings.client_id,
            client_secret=settings.client_secret,
            redirect_uri=settings.redirect_uri,
            scopes=settings.scopes,
            username_claim=settings.username_claim,
            groups_claim=settings.groups_claim,
            group_roles=mapping,
        )
    except ValueError as exc:
        raise ConfigError(
            f"invalid [sso] group_roles: {exc}",
            hint='Map each group to roles: "admin", "auditor" or "ROLE@NAMESPACE".',
        ) from exc
    return OidcClient(config, http=httpx.Client())


def sweep(registry: Registry) -> None:
    """At start, before any request: delete partial files, scratch files, and blob files
    no database row knows (left by a crash between writing a blob and recording it)."""
    from bastion.registry import tables as t

    for leftover in registry.store.partial_files():
        leftover.unlink(missing_ok=True)
    for scratch in registry.work_dir.iterdir():
        scratch.unlink(missing_ok=True)
    with registry.engine.connect() as conn:
        known = {r.id for r in conn.execute(sa.select(t.blobs.c.id))}
    for blob_id in registry.store.on_disk() - known:
        registry.store.delete(blob_id)


def engine_for(paths: Paths, database_url: str | None) -> Engine:
    return make_engine(database_url or paths.default_database_url())
