"""Explicit registries, plus an optional entry-point group for third parties.

Built-in implementations are listed in order by the subpackage that owns them;
this module only adds what installed distributions declare under an entry-point
group, so nothing is loaded from a dotted string found in user data.
"""

from __future__ import annotations

from typing import TypeVar

T = TypeVar("T")


def discover(group: str, base: type[T]) -> list[type[T]]:
    """Classes registered by installed distributions under ``group``.

    A plugin that fails to load, or is not a subclass of ``base``, is skipped with
    a ``RuntimeWarning`` rather than breaking the host.
    """
    import warnings
    from importlib.metadata import entry_points

    found: list[type[T]] = []
    for ep in entry_points(group=group):
        try:
            obj = ep.load()
        except Exception as exc:
            warnings.warn(f"plugin {ep.name!r} failed to load: {exc}", RuntimeWarning, stacklevel=2)
            continue
        if isinstance(obj, type) and issubclass(obj, base):
            found.append(obj)
        else:
            warnings.warn(
                f"plugin {ep.name!r} is not a {base.__name__}", RuntimeWarning, stacklevel=2
            )
    return found
