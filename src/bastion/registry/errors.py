"""The registry's errors; the HTTP layer maps each class to one status code."""

from __future__ import annotations

from bastion.errors import BastionError


class RegistryError(BastionError):
    """Base of the registry's errors."""


class NotFound(RegistryError):
    """No such namespace, model, version, file or upload (or the caller may not know)."""

    hint = "Check the name with `bastion ls`."


class Conflict(RegistryError):
    """The thing exists already, or is in a state that forbids the action."""

    hint = "Versions are immutable: push under a new version name."


class BadRequest(RegistryError):
    """The request is malformed: a bad name, path, policy or size."""

    hint = "Check the names (letters, digits, '.', '_', '-') and the request body."


class TooLarge(RegistryError):
    """An upload went over the server's size limit."""

    hint = "Ask the operator to raise [server] max_file_size, or split the file."


class Quarantined(RegistryError):
    """The version failed its namespace's policy; its bytes are not served."""

    hint = "Read its report with `bastion info`; an admin can release it with a reason."
