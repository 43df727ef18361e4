"""The audit log (search and verify), alerts, and the firewall's blocks.

All three read the tamper-evident log in the server's database: alerts are the
``alert.*`` events the alert rules write there, and the firewall's blocks are the
``guard.*`` events of the LLM proxy (``bastion guard`` running with this server's audit
log). Blocked requests are shown redacted: which rule, when, who, never the prompt.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime, timedelta

from fastapi import APIRouter, Request
from fastapi.responses import Response

from bastion.audit import AuditEvent, Outcome
from bastion.audit.query import Filter, search
from bastion.audit.verify import LogTamperedError, verify_log
from bastion.auth.rbac import Permission
from bastion.console._web import deps_of, page, render, source_of
from bastion.console.base import Viewer
from bastion.console.charts import stacked_bars

router = APIRouter()
PAGE_SIZE = 200
#: Detail keys of a firewall event that say what happened, never what was said.
SAFE_GUARD_DETAILS = frozenset(
    {"rule", "rules", "category", "direction", "score", "status", "model", "policy", "stage"}
)


def _latest(where: Filter, count: int, request: Request) -> list[tuple[int, AuditEvent]]:
    """The newest ``count`` matching entries, newest first."""
    return list(search(deps_of(request).engine, where, limit=count, newest_first=True))


def _filter(request: Request) -> tuple[Filter, dict[str, str], str | None]:
    q = request.query_params
    form = {
        k: q.get(k, "").strip()[:200] for k in ("actor", "action", "resource", "outcome", "since")
    }
    error = None
    outcome = None
    if form["outcome"]:
        try:
            outcome = Outcome(form["outcome"])
        except ValueError:
            error = "outcome is success, failure or denied"
    since = None
    if form["since"]:
        try:
            since = datetime.combine(date.fromisoformat(form["since"]), datetime.min.time(), UTC)
        except ValueError:
            error = "since is a date: YYYY-MM-DD"
    where = Filter(
        actor=form["actor"] or None, action=form["action"] or None,
        resource=form["resource"] or None, outcome=outcome, since=since,
    )  # fmt: skip
    return where, form, error


@router.get("/audit", summary="Search the audit log")
def audit(request: Request, viewer: Viewer = page(Permission.AUDIT_READ)) -> Response:
    where, form, error = _filter(request)
    entries = [] if error else _latest(where, PAGE_SIZE, request)
    return render(
        request, "audit.html", viewer=viewer, entries=entries, form=form, error=error,
        verified=None, outcomes=[o.value for o in Outcome], page_size=PAGE_SIZE,
        status_code=400 if error else 200,
    )  # fmt: skip


@router.post("/audit/verify", summary="Verify the whole log and its signed checkpoints")
def verify(request: Request, viewer: Viewer = page(Permission.AUDIT_READ)) -> Response:
    deps = deps_of(request)
    result: dict[str, object]
    if deps.audit_verifier is None:
        result = {
            "ok": False,
            "message": "this server has no checkpoint key to verify with",
            "problems": [],
        }
    else:
        try:
            report = verify_log(deps.engine, deps.audit_verifier)
        except LogTamperedError as exc:
            result = {"ok": False, "message": exc.message, "problems": exc.problems[:20]}
        else:
            result = {
                "ok": True,
                "message": f"{report.size} entries verify; {report.checkpoints} signed "
                f"checkpoints checked, {report.unsigned} entries after the latest one",
                "problems": [],
            }
    deps.audit.emit(AuditEvent(
        action="audit.verify", actor=viewer.id, source=source_of(request),
        outcome=Outcome.SUCCESS if result["ok"] else Outcome.FAILURE,
        reason=None if result["ok"] else str(result["message"])[:500],
    ))  # fmt: skip
    where, form, _ = _filter(request)
    return render(
        request, "audit.html", viewer=viewer, entries=_latest(where, PAGE_SIZE, request),
        form=form, error=None, verified=result, outcomes=[o.value for o in Outcome],
        page_size=PAGE_SIZE,
    )  # fmt: skip


@router.get("/alerts", summary="Alerts raised by the monitoring rules")
def alerts(request: Request, viewer: Viewer = page(Permission.AUDIT_READ)) -> Response:
    entries = _latest(Filter(action="alert.*"), PAGE_SIZE, request)
    return render(request, "alerts.html", viewer=viewer, entries=entries)


def _rule(event: AuditEvent) -> str:
    rule = event.details.get("rule")
    if isinstance(rule, str) and rule:
        return rule[:80]
    return event.action.removeprefix("guard.")


def redacted(event: AuditEvent) -> dict[str, object]:
    """A blocked request as the console shows it: what and who, never the content."""
    details = {
        k: (v if k in SAFE_GUARD_DETAILS else "[redacted]") for k, v in event.details.items()
    }
    return {
        "time": event.time, "action": event.action, "rule": _rule(event), "actor": event.actor,
        "source": event.source, "resource": event.resource, "outcome": event.outcome.value,
        "details": sorted(details.items()),
    }  # fmt: skip


@router.get("/firewall", summary="Firewall blocks by rule over time, and the latest blocked")
def firewall(request: Request, viewer: Viewer = page(Permission.AUDIT_READ)) -> Response:
    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    start = now - timedelta(hours=23)
    blocked = Filter(action="guard.*", outcome=Outcome.DENIED)
    counts: dict[tuple[str, str], int] = {}
    for _, event in search(deps_of(request).engine, dataclasses.replace(blocked, since=start)):
        key = (event.time.astimezone(UTC).strftime("%H:00"), _rule(event))
        counts[key] = counts.get(key, 0) + 1
    recent = [event for _, event in _latest(blocked, 50, request)]
    buckets = [(start + timedelta(hours=i)).strftime("%H:00") for i in range(24)]
    chart = stacked_bars(buckets, counts)
    return render(
        request, "firewall.html", viewer=viewer, chart=chart,
        recent=[redacted(e) for e in recent], start=start,
    )  # fmt: skip
