"""Namespaces, models, versions (files, digests, signature, scan report) and release."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from bastion.auth.rbac import Permission
from bastion.console._web import FORM, base_path, deps_of, page, render
from bastion.console.advice import advice_for
from bastion.console.base import QUARANTINED, Viewer
from bastion.models import Severity

router = APIRouter()


@router.get("/", summary="Namespaces the user may read")
def namespaces(request: Request, viewer: Viewer = page(Permission.AUTHENTICATED)) -> Response:
    registry = deps_of(request).registry
    visible = [ns for ns in registry.namespaces() if viewer.may(Permission.METADATA_READ, ns)]
    rows = [{"name": ns, "models": len(registry.models(ns))} for ns in visible]
    return render(request, "namespaces.html", viewer=viewer, namespaces=rows)


@router.get("/ns/{namespace}", summary="Models in a namespace")
def models(
    request: Request, namespace: str, viewer: Viewer = page(Permission.METADATA_READ)
) -> Response:
    registry = deps_of(request).registry
    rows = []
    for model in registry.models(namespace):
        versions = registry.versions(namespace, model)
        rows.append(
            {"name": model, "versions": len(versions), "latest": versions[-1] if versions else None}
        )
    return render(request, "models.html", viewer=viewer, namespace=namespace, models=rows)


@router.get("/ns/{namespace}/{model}", summary="Versions of a model")
def versions(
    request: Request, namespace: str, model: str, viewer: Viewer = page(Permission.METADATA_READ)
) -> Response:
    rows = deps_of(request).registry.versions(namespace, model)
    return render(
        request, "versions.html", viewer=viewer, namespace=namespace, model=model,
        versions=list(reversed(rows)),
    )  # fmt: skip


def _findings(report: dict[str, Any]) -> list[dict[str, Any]]:
    """Every finding of every file, worst first, with what to do about it."""
    out = []
    for file in report.get("files", []):
        for finding in file.get("findings", []):
            out.append(
                {
                    **finding,
                    "file": file.get("path", ""),
                    "details": sorted(dict(finding.get("details") or {}).items()),
                    "advice": advice_for(str(finding.get("rule", ""))),
                    "rank": Severity.parse(finding["severity"]).value
                    if finding.get("severity")
                    else 0,
                }
            )
    return sorted(out, key=lambda f: (-f["rank"], f["file"], f["rule"]))


def signature_status(info: dict[str, Any]) -> tuple[str, str]:
    """("unsigned" | "verified" | "failed", what it means), from the push-time check that the
    bundle was signed by a trusted key of the namespace and vouches for exactly these files."""
    if not info.get("signature"):
        return "unsigned", "no signature was uploaded with this version"
    reasons = info.get("scan_report", {}).get("policy", {}).get("reasons", [])
    problems = [r.removeprefix("signature: ") for r in reasons if r.startswith("signature: ")]
    if problems:
        return "failed", "; ".join(problems)
    return "verified", "signed by a key the namespace trusts, for exactly these files and digests"


def _version_page(
    request: Request,
    viewer: Viewer,
    namespace: str,
    model: str,
    version: str,
    *,
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    info = deps_of(request).registry.version_info(namespace, model, version)
    report = info["scan_report"]
    may_release = info["state"] == QUARANTINED and viewer.may(Permission.RELEASE, namespace)
    return render(
        request, "version.html", viewer=viewer, info=info, report=report,
        findings=_findings(report), signature=signature_status(info), file_errors=[
            (f.get("path", ""), e) for f in report.get("files", []) for e in f.get("errors", [])
        ],
        may_release=may_release, error=error, status_code=status_code,
    )  # fmt: skip


@router.get("/ns/{namespace}/{model}/{version}", summary="A version: files, signature, scan report")
def version(
    request: Request,
    namespace: str,
    model: str,
    version: str,
    viewer: Viewer = page(Permission.METADATA_READ),
) -> Response:
    return _version_page(request, viewer, namespace, model, version)


@router.post("/ns/{namespace}/{model}/{version}/release", summary="Release a quarantined version")
def release(
    request: Request,
    namespace: str,
    model: str,
    version: str,
    form: dict[str, str] = FORM,
    viewer: Viewer = page(Permission.RELEASE),
) -> Response:
    reason = form.get("reason", "").strip()
    if not reason:
        return _version_page(
            request, viewer, namespace, model, version,
            error="Give a reason: it is recorded in the audit log.", status_code=400,
        )  # fmt: skip
    deps_of(request).registry.release(viewer.id, namespace, model, version, reason[:1000])
    to = f"{base_path(request)}/ns/{namespace}/{model}/{version}"
    return RedirectResponse(to, status_code=303)
