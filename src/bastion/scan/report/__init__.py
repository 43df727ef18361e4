"""Report renderers: a readable terminal report, JSON (versioned schema), and SARIF 2.1.0."""

from bastion.scan.report.as_cyclonedx import to_cyclonedx
from bastion.scan.report.as_json import to_dict, to_json
from bastion.scan.report.as_sarif import to_sarif

__all__ = ["to_cyclonedx", "to_dict", "to_json", "to_sarif"]
