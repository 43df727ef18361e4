"""mTLS: client certificates, verified by the TLS layer against ``--client-ca``, become
principals ``cert:<subject common name>``.

uvicorn does not pass the peer certificate to the app, so the server runs a subclass of
its h11 protocol that reads the verified certificate from the TLS connection once, when the
connection is made, and hands it to every request of that connection in the ASGI scope's
``state``. Rights still come only from role grants on ``cert:<name>``.
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.h11_impl import H11Protocol

from bastion.auth.base import Principal, PrincipalKind

#: Key of the client certificate (DER) in the ASGI scope's state.
CLIENT_CERT = "bastion.client_cert"


class ClientCertProtocol(H11Protocol):
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        ssl_object = transport.get_extra_info("ssl_object")
        der = ssl_object.getpeercert(binary_form=True) if ssl_object is not None else None
        if der:
            self.app_state = {**self.app_state, CLIENT_CERT: der}


def certificate_principal(state: Any) -> Principal | None:
    """The principal of the connection's verified client certificate, if it has one."""
    from cryptography import x509
    from cryptography.x509.oid import NameOID

    der = state.get(CLIENT_CERT) if isinstance(state, dict) else None
    if not der:
        return None
    cert = x509.load_der_x509_certificate(der)
    names = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    if not names:
        return None
    name = names[0].value
    name = name.decode("utf-8", "replace") if isinstance(name, bytes) else name
    return Principal(PrincipalKind.CERTIFICATE, name)
