"""Bodies other than file uploads are capped before anything parses them."""

from __future__ import annotations

from collections.abc import Iterator

from bastion.server.app import MAX_BODY

from .conftest import Env

BIG = b'{"name": "' + b"a" * (MAX_BODY + 10) + b'"}'


def _chunks(data: bytes, size: int = 64 << 10) -> Iterator[bytes]:
    for i in range(0, len(data), size):
        yield data[i : i + size]


def test_a_big_body_is_refused_before_its_token_is_checked(sqlite_env: Env) -> None:
    headers = {"content-type": "application/json", "authorization": "Bearer bst_not_a_token"}
    response = sqlite_env.client.post("/v1/tokens", content=BIG, headers=headers)
    assert response.status_code == 413  # not 401: neither the body nor the token was read
    assert response.json()["error"] == "TooLarge"


def test_a_streamed_body_without_a_length_is_cut_off(sqlite_env: Env) -> None:
    response = sqlite_env.client.post(
        "/v1/namespaces",
        content=_chunks(BIG),
        headers={**sqlite_env.headers(), "content-type": "application/json"},
    )
    assert response.status_code == 413, response.text
    assert response.json()["error"] == "TooLarge"
    listing = sqlite_env.client.get("/v1/namespaces", headers=sqlite_env.headers())
    assert listing.is_success
    assert "a" * 100 not in listing.text  # nothing was created


def test_small_bodies_and_large_file_uploads_pass(sqlite_env: Env) -> None:
    h = sqlite_env.headers()
    assert sqlite_env.client.post("/v1/namespaces", json={"name": "team"}, headers=h).is_success
    upload = sqlite_env.client.post(
        "/v1/namespaces/team/uploads", json={"model": "m", "version": "1"}, headers=h
    ).json()["upload"]
    weights = b"\x00" * (MAX_BODY * 3)  # a file well over the body cap
    put = sqlite_env.client.put(
        f"/v1/namespaces/team/uploads/{upload}/files/weights.bin", content=weights, headers=h
    )
    assert put.status_code == 200, put.text
