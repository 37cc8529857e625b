"""OpenTelemetry spans per draft and pipeline step (drafter.tracing): shape, timing, errors, no PHI, wiring."""

from __future__ import annotations

import json
import threading
from collections.abc import AsyncIterator, Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

from drafter.domain import DraftRequest
from drafter.errors import LLMUnavailableError
from drafter.services import Services, open_services
from drafter.settings import Settings
from drafter.tracing import TRACER_NAME, TracingObserver
from tests.conftest import GOOD_REPLY, FakeLLM

pytestmark = pytest.mark.anyio

PATIENT_TEXT = "I am Rosalind Quibble, phone 555-867-5309, and my knee hurts when I climb stairs."
STEPS = ["input_checks", "store_accept", "templates", "render", "llm", "output_checks"]


@pytest.fixture
def exporter() -> InMemorySpanExporter:
    return InMemorySpanExporter()


@pytest.fixture
async def services(settings: Settings, fake_llm: FakeLLM, exporter: InMemorySpanExporter) -> AsyncIterator[Services]:
    provider = TracerProvider()  # the test's own provider: nothing global is set
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    observer = TracingObserver(provider.get_tracer(TRACER_NAME))
    async with open_services(settings, llm=fake_llm, observer=observer) as built:
        yield built


def request() -> DraftRequest:
    return DraftRequest.model_validate({"message": {"text": PATIENT_TEXT},
                                        "patient": {"preferred_name": "Rosalind", "age": 51}})


def by_name(spans: tuple[ReadableSpan, ...]) -> dict[str, ReadableSpan]:
    return {span.name: span for span in spans}


async def test_a_draft_is_one_span_with_a_child_per_step_laid_end_to_end(
        services: Services, fake_llm: FakeLLM, exporter: InMemorySpanExporter) -> None:
    fake_llm.enqueue(GOOD_REPLY)
    draft = await services.pipeline.draft(request())
    spans = by_name(exporter.get_finished_spans())
    root = spans.pop("drafter.draft")
    assert root.parent is None
    assert root.attributes is not None
    assert root.attributes["drafter.draft_id"] == draft.id
    assert root.attributes["drafter.status"] == draft.status
    assert root.attributes["drafter.findings"] == len(draft.findings)
    assert root.status.status_code is StatusCode.UNSET
    assert sorted(spans) == sorted(f"drafter.{step}" for step in STEPS)
    children = sorted(spans.values(), key=lambda s: s.start_time or 0)
    assert [c.name for c in children] == [f"drafter.{step}" for step in STEPS]  # in the order they ran
    assert root.start_time is not None and root.end_time is not None
    at = root.start_time
    for child in children:
        assert child.parent is not None and child.parent.span_id == root.context.span_id
        assert child.start_time == at  # each step starts where the one before it ended
        assert child.end_time is not None and at <= child.end_time <= root.end_time
        at = child.end_time
    llm_ms = ((spans["drafter.llm"].end_time or 0) - (spans["drafter.llm"].start_time or 0)) / 1e6
    assert llm_ms == pytest.approx(draft.timings["llm_ms"], abs=0.01)


async def test_a_failed_draft_marks_the_root_and_the_failing_step(
        services: Services, fake_llm: FakeLLM, exporter: InMemorySpanExporter) -> None:
    fake_llm.enqueue(LLMUnavailableError("The model endpoint is down."))
    with pytest.raises(LLMUnavailableError):
        await services.pipeline.draft(request())
    spans = by_name(exporter.get_finished_spans())
    assert spans["drafter.draft"].status.status_code is StatusCode.ERROR
    assert spans["drafter.draft"].status.description == "llm_unavailable"
    assert spans["drafter.llm"].status.status_code is StatusCode.ERROR
    assert spans["drafter.input_checks"].status.status_code is StatusCode.UNSET


async def test_spans_carry_no_patient_or_draft_text(services: Services, fake_llm: FakeLLM,
                                                    exporter: InMemorySpanExporter) -> None:
    fake_llm.enqueue("Thank you, Rosalind. We have your number 555-867-5309 on file and will call about your knee.")
    await services.pipeline.draft(request())
    dumped = "".join(span.to_json() for span in exporter.get_finished_spans())
    for secret in ("Rosalind", "Quibble", "555-867-5309", "knee"):
        assert secret not in dumped, secret


async def test_drafter_tracing_console_writes_spans_to_stderr(settings: Settings, fake_llm: FakeLLM,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    fake_llm.enqueue(GOOD_REPLY)
    async with open_services(settings.model_copy(update={"tracing": "console"}), llm=fake_llm) as built:
        await built.pipeline.draft(request())
    out, err = capsys.readouterr()
    assert out == ""  # stdout is the CLI's own output
    decoder, names, at = json.JSONDecoder(), [], 0
    while (at := err.find("{", at)) != -1:  # the console exporter prints one JSON object per span
        span, at = decoder.raw_decode(err, at)
        names.append(span["name"])
    assert "drafter.draft" in names and "drafter.llm" in names


@pytest.fixture
def otlp_receiver() -> Iterator[tuple[str, list[tuple[str, str, bytes]]]]:
    """A loopback HTTP server standing in for an OTLP collector; yields its traces URL and what it received."""
    received: list[tuple[str, str, bytes]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append((self.path, self.headers["Content-Type"], body))
            self.send_response(200)
            self.send_header("Content-Type", "application/x-protobuf")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:  # keep the test output clean
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/v1/traces", received
    finally:
        server.shutdown()
        server.server_close()


async def test_drafter_tracing_otlp_exports_the_spans_to_the_collector(
        settings: Settings, fake_llm: FakeLLM, monkeypatch: pytest.MonkeyPatch,
        otlp_receiver: tuple[str, list[tuple[str, str, bytes]]]) -> None:
    url, received = otlp_receiver
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", url)
    fake_llm.enqueue(GOOD_REPLY)
    async with open_services(settings.model_copy(update={"tracing": "otlp"}), llm=fake_llm) as built:
        await built.pipeline.draft(request())
    # Leaving the services shut the provider down, which flushes the batch.
    assert received, "no OTLP export reached the collector"
    path, content_type, body = received[0]
    assert path == "/v1/traces" and content_type == "application/x-protobuf"
    assert b"drafter.draft" in body and b"drafter.output_checks" in body
    assert b"Rosalind" not in body


def test_tracing_is_off_by_default() -> None:
    assert Settings().tracing == "off"
