"""Bastion's server (layer 3): the registry's HTTP API over TLS, its first start and
its lifecycle. ``bastion up`` runs it; :func:`create_app` is the ASGI app."""

from bastion.server.app import PUBLIC_PATHS, create_app
from bastion.server.state import ServerState

__all__ = ["PUBLIC_PATHS", "ServerState", "create_app"]
