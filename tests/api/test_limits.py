"""Size limits answer 413 with a message saying what to do, whether the body announces its length or streams it."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from tests.conftest import FakeLLM


def chunks(body: bytes, size: int = 16_384) -> Iterator[bytes]:
    for start in range(0, len(body), size):
        yield body[start:start + size]


@pytest.mark.parametrize("streamed", [False, True], ids=["content-length", "chunked"])
def test_oversized_bodies_are_413_before_parsing(client: TestClient, fake_llm: FakeLLM, streamed: bool) -> None:
    body = json.dumps({"message": {"text": "a" * 300_000}}).encode()
    r = client.post("/v1/drafts", content=chunks(body) if streamed else body,
                    headers={"content-type": "application/json"})
    assert r.status_code == 413
    error = r.json()["error"]
    assert error["code"] == "request_too_large"
    assert "262,144 bytes" in error["message"] and "shorten" in error["message"]
    assert fake_llm.requests == []


def test_long_messages_are_413_naming_the_limit(client: TestClient, fake_llm: FakeLLM) -> None:
    r = client.post("/v1/drafts", json={"message": {"text": "word " * 4_001}})
    assert r.status_code == 413
    error = r.json()["error"]
    assert error["code"] == "message_too_long"
    assert "20,000" in error["message"] or "20000" in error["message"], error["message"]
    assert fake_llm.requests == []


def test_unknown_query_parameters_are_named(client: TestClient) -> None:
    r = client.get("/v1/drafts", params={"stauts": "approved"})
    assert r.status_code == 422
    error = r.json()["error"]
    assert "stauts" in error["message"] and "status" in error["message"]
    assert error["details"]["unknown"] == ["stauts"]


def test_405_lists_every_method_of_the_path(client: TestClient) -> None:
    r = client.put("/v1/drafts")
    assert r.status_code == 405
    assert r.headers["allow"] == "GET, POST"
