"""DraftingRunnable on a real Pipeline (temporary SQLite database, FakeLLM backend)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from typing import Any
from uuid import UUID

import pytest
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.runnables import Runnable, RunnableConfig, RunnableLambda

from drafter.api.schemas import DraftOut
from drafter.domain import DraftRequest, DraftStatus, PatientMessage
from drafter.errors import EmptyMessageError, InputError, LLMUnavailableError
from drafter.runnable import DraftingRunnable, DraftInput, as_runnable, to_request
from drafter.services import Services, open_services
from drafter.settings import Settings
from tests.conftest import GOOD_REPLY, FakeLLM

TEXT = "I've had a headache for three days"


@pytest.fixture
def fake() -> FakeLLM:
    llm = FakeLLM()
    llm.default = GOOD_REPLY
    return llm


@pytest.fixture
async def services(settings: Settings, fake: FakeLLM) -> AsyncIterator[Services]:
    async with open_services(settings, llm=fake) as opened:
        yield opened


@pytest.fixture
def runnable(services: Services) -> DraftingRunnable:
    return as_runnable(services.pipeline)


class ChainRecorder(BaseCallbackHandler):
    """Names and outputs of the chain runs LangChain reports."""

    def __init__(self) -> None:
        self.started: list[str] = []
        self.outputs: list[Any] = []

    def on_chain_start(self, serialized: dict[str, Any] | None, inputs: Any, *, run_id: UUID, **kwargs: Any) -> None:
        self.started.append(kwargs.get("name") or "")

    def on_chain_end(self, outputs: Any, *, run_id: UUID, **kwargs: Any) -> None:
        self.outputs.append(outputs)


# -- input coercion ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [TEXT, {"message": {"text": TEXT}}, DraftRequest(message=PatientMessage(text=TEXT))],
    ids=["str", "dict", "DraftRequest"],
)
def test_to_request(value: DraftInput) -> None:
    assert to_request(value).message.text == TEXT


@pytest.mark.parametrize(
    ("value", "field"),
    [({"message": {}}, "message.text"), ({"msg": TEXT}, "message"), ({"message": {"text": TEXT}, "x": 1}, "x")],
)
def test_to_request_invalid_dict(value: dict[str, Any], field: str) -> None:
    with pytest.raises(InputError, match=field) as caught:
        to_request(value)
    assert any(p["field"] == field for p in caught.value.details["errors"])


def test_to_request_wrong_type() -> None:
    with pytest.raises(TypeError, match="not int"):
        to_request(42)  # type: ignore[arg-type]


@pytest.mark.anyio
async def test_types_for_langchain(runnable: DraftingRunnable) -> None:
    assert runnable.get_name() == "DraftingRunnable"
    assert runnable.InputType == DraftRequest | dict[str, Any] | str
    assert runnable.OutputType == DraftOut | str
    assert "DraftOut" in str(runnable.get_output_jsonschema())


# -- ainvoke / invoke --------------------------------------------------------------------------


@pytest.mark.anyio
@pytest.mark.parametrize(
    "value",
    [TEXT, {"message": {"text": TEXT, "subject": "Headache"}}, DraftRequest(message=PatientMessage(text=TEXT))],
    ids=["str", "dict", "DraftRequest"],
)
async def test_ainvoke(runnable: DraftingRunnable, services: Services, fake: FakeLLM, value: DraftInput) -> None:
    out = await runnable.ainvoke(value)

    assert isinstance(out, DraftOut)
    assert (out.status, out.text, out.message.text, out.message.source) == (
        DraftStatus.PENDING_REVIEW, GOOD_REPLY, TEXT, "langchain")
    assert DraftOut.from_row(await services.store.get(out.id)) == out  # stored, as the API would have
    assert len(fake.requests) == 1


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("value", "error"),
    [("   ", EmptyMessageError), ({"message": {"text": TEXT, "oops": True}}, InputError)],
    ids=["empty", "invalid"],
)
async def test_ainvoke_rejects_bad_input(runnable: DraftingRunnable, fake: FakeLLM, value: DraftInput,
                                        error: type[Exception]) -> None:
    with pytest.raises(error):
        await runnable.ainvoke(value)
    assert fake.requests == []


@pytest.mark.anyio
async def test_ainvoke_llm_failure_is_stored_then_raised(runnable: DraftingRunnable, services: Services,
                                                         fake: FakeLLM) -> None:
    fake.enqueue(LLMUnavailableError("down", details={"attempts": 3}))
    with pytest.raises(LLMUnavailableError) as caught:
        await runnable.ainvoke(TEXT)
    failed = await services.store.get(caught.value.details["draft_id"])
    assert (failed.status, failed.error_code) == (DraftStatus.FAILED, "llm_unavailable")


@pytest.mark.anyio
async def test_invoke_inside_a_running_loop_says_use_ainvoke(runnable: DraftingRunnable, fake: FakeLLM) -> None:
    with pytest.raises(RuntimeError, match="ainvoke"):
        runnable.invoke(TEXT)
    assert fake.requests == []


@pytest.fixture
def sync_services(settings: Settings, fake: FakeLLM) -> Iterator[Services]:
    """Services opened and closed on a loop of their own, leaving the test itself synchronous."""
    with asyncio.Runner() as runner:
        context = open_services(settings, llm=fake)
        opened = runner.run(context.__aenter__())
        try:
            yield opened
        finally:
            runner.run(context.__aexit__(None, None, None))


def test_invoke_from_sync_code(sync_services: Services, fake: FakeLLM) -> None:
    runnable = as_runnable(sync_services.pipeline, source="notebook", actor="dr-a")
    first = runnable.invoke(TEXT)
    second = runnable.invoke({"message": {"text": "Can I get a refill of my inhaler?"}})

    assert isinstance(first, DraftOut)
    assert (first.status, first.message.source) == (DraftStatus.PENDING_REVIEW, "notebook")
    assert second.message.text == "Can I get a refill of my inhaler?"
    assert first.id != second.id
    assert len(fake.requests) == 2


# -- abatch / astream --------------------------------------------------------------------------


@pytest.mark.anyio
async def test_abatch(runnable: DraftingRunnable, fake: FakeLLM) -> None:
    texts: list[DraftInput] = [TEXT, "Can I get a refill of my inhaler?", "What time is my appointment on Friday?"]
    outs = await runnable.abatch(texts)

    assert [o.message.text for o in outs if isinstance(o, DraftOut)] == texts  # in input order
    assert len({o.id for o in outs if isinstance(o, DraftOut)}) == 3
    assert len(fake.requests) == 3


@pytest.mark.anyio
async def test_abatch_return_exceptions(runnable: DraftingRunnable) -> None:
    outs = await runnable.abatch([TEXT, " ", TEXT], return_exceptions=True)
    assert [type(o) for o in outs] == [DraftOut, EmptyMessageError, DraftOut]


@pytest.mark.anyio
async def test_astream(runnable: DraftingRunnable, services: Services) -> None:
    chunks = [chunk async for chunk in runnable.astream(TEXT)]

    *tokens, final = chunks
    assert len(tokens) > 1
    assert all(isinstance(t, str) for t in tokens)
    assert "".join(str(t) for t in tokens) == GOOD_REPLY + " "  # FakeLLM streams word + " "
    assert isinstance(final, DraftOut)
    assert final.text == GOOD_REPLY  # the pipeline's final text, after guardrails
    assert DraftOut.from_row(await services.store.get(final.id)) == final


@pytest.mark.anyio
async def test_astream_llm_failure(runnable: DraftingRunnable, services: Services, fake: FakeLLM) -> None:
    fake.enqueue(LLMUnavailableError("down"))
    chunks: list[DraftOut | str] = []

    async def read() -> None:
        async for chunk in runnable.astream(TEXT):
            chunks.append(chunk)

    with pytest.raises(LLMUnavailableError) as caught:
        await read()
    assert chunks == []
    assert (await services.store.get(caught.value.details["draft_id"])).status == DraftStatus.FAILED


# -- composition and callbacks -----------------------------------------------------------------


def strip(text: str) -> str:
    return text.strip()


def with_subject(text: str) -> dict[str, Any]:
    return {"message": {"text": text, "subject": "From the chatbot"}}


def status_of(draft: DraftOut | str) -> str:
    assert isinstance(draft, DraftOut)
    return draft.status.value


@pytest.mark.anyio
async def test_composes_with_runnable_lambda(runnable: DraftingRunnable) -> None:
    chain: Runnable[str, DraftOut | str] = RunnableLambda(strip) | RunnableLambda(with_subject) | runnable
    out = await chain.ainvoke(f"  {TEXT}  ")
    assert isinstance(out, DraftOut)
    assert (out.message.text, out.message.subject) == (TEXT, "From the chatbot")

    assert await (runnable | RunnableLambda(status_of)).ainvoke(TEXT) == "pending_review"


@pytest.mark.anyio
async def test_composed_stream_passes_tokens_through(runnable: DraftingRunnable) -> None:
    chunks = [chunk async for chunk in (RunnableLambda(strip) | runnable).astream(f"  {TEXT} ")]
    assert all(isinstance(c, str) for c in chunks[:-1])
    assert isinstance(chunks[-1], DraftOut)


@pytest.mark.anyio
@pytest.mark.parametrize("mode", ["ainvoke", "astream"])
async def test_callbacks_see_the_run(runnable: DraftingRunnable, mode: str) -> None:
    recorder = ChainRecorder()
    config: RunnableConfig = {"callbacks": [recorder], "run_name": "draft-reply"}
    if mode == "ainvoke":
        await runnable.ainvoke(TEXT, config)
    else:
        _ = [chunk async for chunk in runnable.astream(TEXT, config)]
    assert recorder.started == ["draft-reply"]
    assert len(recorder.outputs) == 1
    assert isinstance(recorder.outputs[0], DraftOut)  # tracing records the stored draft, not a token
