"""Export events as OCSF 1.1 records for SIEMs.

Alerts and guard blocks become Detection Finding (class 2004, category 2, Findings);
every other action becomes API Activity (class 6003, category 6, Application Activity).
``type_uid`` is ``class_uid * 100 + activity_id`` as the schema defines.
"""

from __future__ import annotations

from typing import Any

from bastion import __version__
from bastion.audit.base import AuditEvent, Outcome

OCSF_VERSION = "1.1.0"
_FINDING_ACTIONS = ("alert.", "guard.block", "guard.alert")
_SEVERITY = {"info": 1, "low": 2, "medium": 3, "high": 4, "critical": 5}
# API Activity activity_id: 1 Create, 2 Read, 3 Update, 4 Delete, 99 Other
_VERBS = {
    "upload": 1, "create": 1, "push": 1, "enrol": 1, "grant": 1, "token": 1,
    "download": 2, "pull": 2, "list": 2, "read": 2,
    "update": 3, "rotate": 3, "release": 3, "quarantine": 3, "set": 3, "confirm": 3,
    "delete": 4, "revoke": 4, "disable": 4,
}  # fmt: skip


def _metadata(index: int) -> dict[str, Any]:
    return {
        "version": OCSF_VERSION,
        "uid": str(index),
        "product": {"name": "Bastion", "vendor_name": "Bastion", "version": __version__},
        "log_name": "bastion-audit",
    }


def _base(index: int, event: AuditEvent, class_uid: int, activity: int) -> dict[str, Any]:
    severity = str(event.details.get("severity", "")).lower()
    return {
        "class_uid": class_uid,
        "category_uid": class_uid // 1000,
        "activity_id": activity,
        "type_uid": class_uid * 100 + activity,
        "time": int(event.time.timestamp() * 1000),
        "severity_id": _SEVERITY.get(severity, 1),
        "status_id": 1 if event.outcome is Outcome.SUCCESS else 2,
        "status": event.outcome.value,
        "message": event.reason or event.action,
        "metadata": _metadata(index),
        "unmapped": {"action": event.action, "details": dict(event.details)},
    }


def to_ocsf(index: int, event: AuditEvent) -> dict[str, Any]:
    """One OCSF record for the log entry ``index``."""
    actor = {"user": {"uid": event.actor, "name": event.actor}}
    if event.action.startswith(_FINDING_ACTIONS):
        record = _base(index, event, 2004, 1)
        record["finding_info"] = {
            "uid": f"bastion-audit-{index}",
            "title": str(event.details.get("rule", event.action)),
            "desc": event.reason or event.action,
            "types": [event.action],
        }
        record["actor"] = actor
        if event.resource:
            record["resources"] = [{"name": event.resource}]
        return record
    verb = event.action.rsplit(".", 1)[-1]
    record = _base(index, event, 6003, _VERBS.get(verb, 99))
    record["actor"] = actor
    record["api"] = {"operation": event.action, "service": {"name": "bastion"}}
    record["src_endpoint"] = (
        {"ip": event.source} if _is_ip(event.source) else {"name": event.source or "unknown"}
    )
    record["cloud"] = {"provider": "self-hosted"}
    if event.resource:
        record["resources"] = [{"name": event.resource}]
    return record


def _is_ip(text: str | None) -> bool:
    import ipaddress

    try:
        ipaddress.ip_address(text or "")
    except ValueError:
        return False
    return True
