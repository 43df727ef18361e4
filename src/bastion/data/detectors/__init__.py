"""The dataset detectors, in the order they run and report.

Each is a class following :class:`bastion.data.base.Detector`, built with its
defaults by :func:`bastion.data.scan_dataset`; pass instances to use other options.
"""

from __future__ import annotations

from bastion.data.base import Detector
from bastion.data.detectors.anomalies import Anomalies
from bastion.data.detectors.duplicates import Duplicates
from bastion.data.detectors.instructions import HiddenInstructions
from bastion.data.detectors.payloads import InjectedPayloads
from bastion.data.detectors.private import PrivateData
from bastion.data.detectors.triggers import BackdoorTriggers

#: name -> class, in running order.
DETECTORS: dict[str, type[Detector]] = {
    cls.name: cls
    for cls in (
        BackdoorTriggers,
        InjectedPayloads,
        HiddenInstructions,
        Duplicates,
        Anomalies,
        PrivateData,
    )
}

__all__ = [
    "DETECTORS",
    "Anomalies",
    "BackdoorTriggers",
    "Duplicates",
    "HiddenInstructions",
    "InjectedPayloads",
    "PrivateData",
]
