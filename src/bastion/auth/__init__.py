"""Who is calling, and what they may do: principals, roles, and (as they land)
tokens, passwords, MFA and sessions."""

from __future__ import annotations

from bastion.auth.base import GLOBAL_ROLES, NAMESPACE_ROLES, Principal, PrincipalKind, Role

__all__ = ["GLOBAL_ROLES", "NAMESPACE_ROLES", "Principal", "PrincipalKind", "Role"]
