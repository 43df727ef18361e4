"""Pin the dataset scanner's public API, so that changing it is a deliberate act."""

from __future__ import annotations

import bastion.data
from bastion.data import DETECTORS, Detector, default_detectors


def test_data_exports() -> None:
    assert sorted(bastion.data.__all__) == [
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
    for name in bastion.data.__all__:
        assert getattr(bastion.data, name) is not None


def test_detectors_follow_the_protocol_in_order() -> None:
    assert list(DETECTORS) == [
        "triggers", "payloads", "instructions", "duplicates", "anomalies", "private",
    ]  # fmt: skip
    for detector in default_detectors():
        assert isinstance(detector, Detector)
