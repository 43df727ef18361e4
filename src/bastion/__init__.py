"""Bastion: defence in depth for LLMs and the ML models behind them.

The public API is small and lives in subpackages: ``bastion.scan`` for model
scanning. Import what you use from there; this module only names the version
and the shared types every subpackage returns.
"""

from bastion.errors import BastionError
from bastion.models import Details, Finding, Location, Severity

__version__ = "0.1.0"

__all__ = ["BastionError", "Details", "Finding", "Location", "Severity", "__version__"]
