"""The dataset scanner's errors."""

from __future__ import annotations

from bastion.errors import BastionError


class DatasetError(BastionError):
    """A dataset file or folder cannot be read at all (single bad rows are RowErrors)."""

    hint = "Check the path and the format: JSON Lines, CSV, Parquet or a `datasets` folder."
