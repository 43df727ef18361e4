"""Incident-response playbooks, each one audited step on a server's data directory:
contain a principal, quarantine model versions, rotate keys and signing trust, and export
an evidence bundle that can be checked offline. Every playbook has a dry run that shows
what it would change. See docs/incident-response.md for the plan they serve."""

from bastion.incident.base import Change, IncidentError, PlaybookResult, Workspace, workspace
from bastion.incident.contain import contain_principal
from bastion.incident.evidence import (
    EvidenceReport,
    EvidenceResult,
    export_evidence,
    verify_evidence,
)
from bastion.incident.quarantine import quarantine_versions
from bastion.incident.rotate import rotate_trust

__all__ = [
    "Change",
    "EvidenceReport",
    "EvidenceResult",
    "IncidentError",
    "PlaybookResult",
    "Workspace",
    "contain_principal",
    "export_evidence",
    "quarantine_versions",
    "rotate_trust",
    "verify_evidence",
    "workspace",
]
