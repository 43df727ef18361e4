"""The registry's HTTP API: namespaces, policies, models, versions, uploads, downloads."""

from __future__ import annotations

import asyncio
import base64
from typing import Annotated, Any

from fastapi import APIRouter, Body, Request
from fastapi.responses import Response, StreamingResponse
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from bastion.auth.rbac import Permission
from bastion.registry.errors import TooLarge
from bastion.registry.policy import NamespacePolicy
from bastion.server.security import Caller, requires
from bastion.server.state import ServerState

router = APIRouter(prefix="/v1")

UPLOAD_BATCH = 1 << 20  # plaintext handed to the worker thread at a time


def _state(request: Request) -> ServerState:
    state: ServerState = request.app.state.bastion
    return state


class NamespaceIn(BaseModel):
    name: str = Field(description="lowercase letters, digits, '.', '_', '-'")
    policy: dict[str, Any] | None = None


class UploadIn(BaseModel):
    model: str
    version: str


class CommitIn(BaseModel):
    signature: str | None = Field(None, description="OpenSSF model signing bundle (JSON)")


class ReleaseIn(BaseModel):
    reason: str = Field(min_length=1, max_length=2000)


@router.get("/namespaces", summary="Namespaces the caller may read")
def list_namespaces(
    request: Request, caller: Caller = requires(Permission.AUTHENTICATED)
) -> dict[str, list[str]]:
    names = _state(request).registry.namespaces()
    grants = caller.grants
    visible = [n for n in names if grants.may_audit(n) or grants.namespace_role(n) is not None]
    return {"namespaces": visible}


@router.post("/namespaces", status_code=201, summary="Create a namespace")
def create_namespace(
    request: Request, body: NamespaceIn, caller: Caller = requires(Permission.NAMESPACE_CREATE)
) -> dict[str, str]:
    policy = NamespacePolicy.from_dict(body.policy) if body.policy is not None else None
    _state(request).registry.create_namespace(caller.id, body.name, policy)
    return {"namespace": body.name}


@router.get("/namespaces/{namespace}/policy", summary="A namespace's policy")
def get_policy(
    request: Request, namespace: str, caller: Caller = requires(Permission.METADATA_READ)
) -> dict[str, Any]:
    return _state(request).registry.policy(namespace).to_dict()


@router.put("/namespaces/{namespace}/policy", summary="Replace a namespace's policy")
def put_policy(
    request: Request,
    namespace: str,
    body: Annotated[dict[str, Any], Body()],
    caller: Caller = requires(Permission.POLICY_WRITE),
) -> dict[str, Any]:
    policy = NamespacePolicy.from_dict(body)
    _state(request).registry.set_policy(caller.id, namespace, policy)
    return policy.to_dict()


@router.get("/namespaces/{namespace}/models", summary="Models in a namespace")
def list_models(
    request: Request, namespace: str, caller: Caller = requires(Permission.METADATA_READ)
) -> dict[str, list[str]]:
    return {"models": _state(request).registry.models(namespace)}


@router.get("/namespaces/{namespace}/models/{model}/versions", summary="Versions of a model")
def list_versions(
    request: Request,
    namespace: str,
    model: str,
    caller: Caller = requires(Permission.METADATA_READ),
) -> dict[str, list[dict[str, Any]]]:
    return {"versions": _state(request).registry.versions(namespace, model)}


@router.get(
    "/namespaces/{namespace}/models/{model}/versions/{version}",
    summary="A version: state, files, scan report, signature",
)
def version_info(
    request: Request,
    namespace: str,
    model: str,
    version: str,
    caller: Caller = requires(Permission.METADATA_READ),
) -> dict[str, Any]:
    return _state(request).registry.version_info(namespace, model, version)


@router.post(
    "/namespaces/{namespace}/models/{model}/versions/{version}/release",
    summary="Release a quarantined version (audited, with a reason)",
)
def release(
    request: Request,
    namespace: str,
    model: str,
    version: str,
    body: ReleaseIn,
    caller: Caller = requires(Permission.RELEASE),
) -> dict[str, Any]:
    registry = _state(request).registry
    registry.release(caller.id, namespace, model, version, body.reason)
    return registry.version_info(namespace, model, version)


@router.get(
    "/namespaces/{namespace}/models/{model}/versions/{version}/files/{path:path}",
    summary="Download one file: decrypted and verified as it streams",
    response_class=Response,
    responses={200: {"content": {"application/octet-stream": {}}}},
)
async def download(
    request: Request,
    namespace: str,
    model: str,
    version: str,
    path: str,
    caller: Caller = requires(Permission.MODEL_PULL),
) -> Response:
    registry = _state(request).registry
    found = await run_in_threadpool(registry.download, caller.id, namespace, model, version, path)
    # The first verified chunk is read before any header goes out, so a blob that fails
    # at once gets an error status rather than a truncated 200.
    first = await run_in_threadpool(next, found.chunks, b"")
    digest = base64.b64encode(bytes.fromhex(found.sha256)).decode("ascii")

    def body() -> Any:
        if first:
            yield first
        yield from found.chunks

    return StreamingResponse(
        body(),
        media_type="application/octet-stream",
        headers={"Content-Length": str(found.size), "Repr-Digest": f"sha-256=:{digest}:"},
    )


@router.post("/namespaces/{namespace}/uploads", status_code=201, summary="Start an upload")
def start_upload(
    request: Request,
    namespace: str,
    body: UploadIn,
    caller: Caller = requires(Permission.MODEL_PUSH),
) -> dict[str, str]:
    upload_id = _state(request).uploads.start(caller.id, namespace, body.model, body.version)
    return {"upload": upload_id}


@router.put(
    "/namespaces/{namespace}/uploads/{upload_id}/files/{path:path}",
    summary="Upload one file: hashed, scanned and encrypted in one streaming pass",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}
            },
        }
    },
)
async def upload_file(
    request: Request,
    namespace: str,
    upload_id: str,
    path: str,
    caller: Caller = requires(Permission.MODEL_PUSH),
) -> dict[str, Any]:
    uploads = _state(request).uploads
    declared = request.headers.get("content-length", "")
    limit = uploads.registry.max_file_size
    if declared.isdigit() and int(declared) > limit:
        raise TooLarge(f"{path} is larger than the limit of {limit} bytes")
    sink = await run_in_threadpool(uploads.open_file, caller.id, namespace, upload_id, path)
    # One batch is hashed, encrypted and written in a worker thread while the next is
    # received (TLS decryption here, on the event loop); batches stay in order because
    # each write starts only once the one before it has finished.
    writing: asyncio.Task[None] | None = None
    try:
        parts: list[bytes] = []
        held = 0
        async for chunk in request.stream():
            parts.append(chunk)
            held += len(chunk)
            if held >= UPLOAD_BATCH:
                batch = b"".join(parts)
                parts, held = [], 0
                if writing is not None:
                    await writing
                writing = asyncio.ensure_future(run_in_threadpool(sink.write, batch))
        if writing is not None:
            await writing
            writing = None
        if parts:
            await run_in_threadpool(sink.write, b"".join(parts))
        staged = await run_in_threadpool(sink.close)
    except BaseException:
        if writing is not None:  # never abort under a write still running in its thread
            await asyncio.shield(asyncio.wait([writing]))
            if not writing.cancelled():
                writing.exception()  # retrieved: the error that matters is raised below
        sink.abort()
        raise
    return {"path": staged.path, "size": staged.size, "sha256": staged.sha256, "scan": staged.scan}


@router.post(
    "/namespaces/{namespace}/uploads/{upload_id}/commit",
    summary="Commit the upload as an immutable version (committed or quarantined)",
)
def commit_upload(
    request: Request,
    namespace: str,
    upload_id: str,
    body: CommitIn,
    caller: Caller = requires(Permission.MODEL_PUSH),
) -> dict[str, Any]:
    return _state(request).uploads.commit(caller.id, namespace, upload_id, signature=body.signature)


@router.delete(
    "/namespaces/{namespace}/uploads/{upload_id}",
    status_code=204,
    summary="Abort an upload; its staged files are deleted",
    response_class=Response,
)
def abort_upload(
    request: Request,
    namespace: str,
    upload_id: str,
    caller: Caller = requires(Permission.MODEL_PUSH),
) -> Response:
    _state(request).uploads.abort(caller.id, namespace, upload_id)
    return Response(status_code=204)


__all__ = ["router"]
