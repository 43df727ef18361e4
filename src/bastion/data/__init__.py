"""The training-data scanner (layer 2): poisoned, injected and private records.

>>> from bastion.data import scan_dataset
>>> report = scan_dataset("train.jsonl")  # doctest: +SKIP
>>> [f.rule for f in report.findings]  # doctest: +SKIP
['backdoor.trigger', 'payload.link', 'secret.aws-access-key']

Readers (:mod:`bastion.data.readers`, :mod:`bastion.data.arrow`) stream JSON Lines,
CSV, Parquet and ``datasets`` folders into normalised :class:`Record` objects; the
detectors (:mod:`bastion.data.detectors`) look at them in a few streaming passes;
:mod:`bastion.data.report` renders the :class:`DataReport`. Signing datasets lives in
:mod:`bastion.integrity.datasets`.
"""

from bastion.data.base import DataFinding, Detector, Example, Record, Row, RowError
from bastion.data.detectors import DETECTORS
from bastion.data.engine import DataReport, default_detectors, iter_records, scan_dataset
from bastion.data.errors import DatasetError
from bastion.data.readers import iter_dataset
from bastion.data.writers import WriteResult, write_clean, write_redacted

__all__ = [
    "DETECTORS",
    "DataFinding",
    "DataReport",
    "DatasetError",
    "Detector",
    "Example",
    "Record",
    "Row",
    "RowError",
    "WriteResult",
    "default_detectors",
    "iter_dataset",
    "iter_records",
    "scan_dataset",
    "write_clean",
    "write_redacted",
]
