"""The embedded demo model through the service versus llama-cpp-python called directly, on this machine.

What is compared, in one run and on the same prompts:

* direct  - `llama_cpp.Llama(model, n_ctx=2048, n_threads=2)` in this process, `create_completion(stream=True)`
            on the exact prompt drafter renders (built with drafter's own Pipeline.render, not copied).
* service - `drafter serve` as a subprocess (embedded model: llama.cpp's OpenAI-compatible server as its
            child), driven over HTTP with `POST /v1/drafts?stream=true` (server-sent `token` events, then
            the stored `draft`).

Both sides use temperature 0 and max_tokens 80 and the same stop strings. For each of three patient
messages, the two sides are measured alternately, several times; medians are reported. Measured: model
load time, time to first token (TTFT, from sending the request / calling the model), tokens/s =
completion tokens / (total - TTFT), completion tokens, and the service's own `timings.overhead_ms`. One
non-streamed call per message and side gives the server-reported usage to check the streamed counts.

Run it from the project root on an otherwise idle machine (about 1.5 minutes on 2 idle cores; other load on
the machine both slows it and shows up in the figures, so the load average is printed beside them):

    .venv/bin/python -m bench.local_model            # prints the table, writes bench/results-local-model.md
    .venv/bin/python -m bench.local_model --repeats 3 --cache-dir ~/.cache/drafter
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import httpx

from bench.overhead import clinician_token
from drafter.llm.local import MODEL_LABEL, LocalModelServer, ensure_model, free_port

T = TypeVar("T")

PROJECT_ROOT = Path(__file__).resolve().parent.parent
RESULTS_PATH = PROJECT_ROOT / "bench" / "results-local-model.md"
DRAFTER = Path(sys.executable).parent / "drafter"  # the console script of the venv running this benchmark

MAX_TOKENS = 80
TEMPERATURE = 0.0
N_CTX = 2048
N_THREADS = 2
# drafter's openai client does not send repeat_penalty, so llama_cpp.server applies its own default (1.1),
# whereas Llama.create_completion defaults to 1.0. The direct call passes 1.1 so both sides decode alike.
SERVER_REPEAT_PENALTY = 1.1

READY_TIMEOUT_S = 180.0
REQUEST_TIMEOUT_S = 120.0
STOP_TIMEOUT_S = 30.0

# The first request on each side evaluates the whole prompt; later ones reuse the prefix they share with the
# previous prompt (see uncached_prompt_tokens). It gets its own message so it is not one of the measured runs.
WARMUP_MESSAGE = "I need to move my appointment next Tuesday to another day. What times are open?"
MESSAGES = (
    "Can I get a refill of my lisinopril? I have about five pills left.",
    "My knee has been sore since I went running on Saturday. Should I use ice or heat?",
    "Is it okay to take my vitamin D at the same time as my thyroid pill in the morning?",
)


class BenchError(RuntimeError):
    """The benchmark could not measure something; the message says what."""


@dataclass(frozen=True, slots=True)
class Prompt:
    """What the service sends to the model for one message."""

    text: str
    stop: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Run:
    """One streamed generation."""

    side: str  # "direct" or "service"
    message: int  # index into MESSAGES; -1 for the warm-up
    ttft_s: float
    total_s: float
    tokens: int  # non-empty streamed pieces: drafter's own count, since llama.cpp reports no usage when streaming
    text: str
    overhead_ms: float | None = None  # the service's timings.overhead_ms
    token_events: int | None = None  # `token` SSE events seen (service), to check drafter's count

    @property
    def tokens_per_s(self) -> float:
        decode_s = self.total_s - self.ttft_s
        return self.tokens / decode_s if decode_s > 0 else float("nan")


@dataclass(frozen=True, slots=True)
class Usage:
    """Token counts reported by llama.cpp for a non-streamed call."""

    prompt_tokens: int
    completion_tokens: int


@dataclass(slots=True)
class Report:
    machine: dict[str, str]
    assemble_s: float = 0.0
    reused_cache: bool = False
    direct_load_s: float = 0.0
    server_load_s: float = 0.0
    serve_ready_s: float = 0.0
    cold: dict[str, Run] = field(default_factory=dict)
    runs: list[Run] = field(default_factory=list)
    usage: dict[tuple[str, int], Usage] = field(default_factory=dict)
    prefill_ms: dict[str, float] = field(default_factory=dict)
    uncached: list[int] = field(default_factory=list)  # per request in the order both sides ran them
    prompt_tokens: int = 0  # the longest prompt's length, for scale
    elapsed_s: float = 0.0


# -- machine -------------------------------------------------------------------------------------


def cpu_model() -> str:
    """The first `model name` in /proc/cpuinfo."""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return "unknown"


def load_average() -> str:
    """1/5/15-minute load averages: other work on a 2-core machine shows up directly in the figures."""
    with contextlib.suppress(OSError):
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    return "unknown"


def machine_info() -> dict[str, str]:
    from importlib.metadata import version

    return {"nproc": str(len(os.sched_getaffinity(0))), "cpu": cpu_model(), "load_before": load_average(),
            "llama_cpp_python": version("llama-cpp-python"), "python": sys.version.split()[0]}


def flush_to_disk(path: Path) -> None:
    """fsync a just-assembled GGUF: otherwise the writeback of its ~250 MB of dirty pages lands in the first
    measured requests (it made the first direct TTFT ~4x slower here)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def served_logits_all() -> bool:
    """Whether drafter's llama.cpp child computes logits for every prompt token (llama_cpp.server's default)."""
    argv = LocalModelServer(cache_dir=Path())._command(Path("model.gguf"))
    if "--logits_all" in argv:
        return argv[argv.index("--logits_all") + 1].lower() in ("true", "1")
    return True


def timed(fn: Callable[[], T]) -> tuple[T, float]:
    started = time.perf_counter()
    value = fn()
    return value, time.perf_counter() - started


# -- the prompt, rendered by drafter's own code -----------------------------------------------------


class _CompletionModeLLM:
    """Stands in for the backend: Pipeline.render only asks which prompt mode to render for."""

    prompt_mode = "completion"  # what the embedded model uses (drafter.llm.factory, llm_mode "auto")
    name = MODEL_LABEL


def render_prompts(messages: Sequence[str]) -> list[Prompt]:
    """The exact completion prompt and stop strings the service builds for each message."""
    from drafter.domain import DraftRequest
    from drafter.pipeline import Pipeline
    from drafter.prompting import PromptRenderer, TemplateSet
    from drafter.services import pipeline_config
    from drafter.settings import Settings
    from guardrails import load_policy

    # model_construct: defaults plus our two overrides, ignoring any DRAFTER_* in this shell or a .env,
    # which is what the service subprocess sees too (its environment is built the same way).
    settings = Settings.model_construct(llm_max_tokens=MAX_TOKENS, llm_temperature=TEMPERATURE)
    renderer = PromptRenderer(TemplateSet.from_dir(settings.prompts_dir / settings.template_set))
    pipeline = Pipeline(llm=_CompletionModeLLM(), store=None, renderer=renderer,  # type: ignore[arg-type]
                        policy=load_policy(), config=pipeline_config(settings, demo_model=True))
    prompts = []
    for text in messages:
        request = DraftRequest.model_validate({"message": {"text": text}})  # the body the API receives
        findings, level = pipeline.assess_input(request)
        # Mirror Pipeline._prepare: newer pipelines pass a PHI redactor to render; older ones have none.
        redactor_for = getattr(pipeline, "redactor_for", None)
        extra = (redactor_for(request, findings),) if redactor_for else ()
        rendered = pipeline.render(request, findings, level, *extra)
        prompts.append(Prompt(rendered.prompt, rendered.stop))
    return prompts


# -- direct: llama-cpp-python in this process --------------------------------------------------------


def load_direct(model_path: Path, *, logits_all: bool = False) -> tuple[Any, float]:
    """A Llama as the brief specifies, and how long constructing it took."""
    from llama_cpp import Llama

    return timed(lambda: Llama(model_path=str(model_path), n_ctx=N_CTX, n_threads=N_THREADS, verbose=False,
                               logits_all=logits_all))


def _sampling(stop: Sequence[str]) -> dict[str, Any]:
    return {"max_tokens": MAX_TOKENS, "temperature": TEMPERATURE, "stop": list(stop),
            "repeat_penalty": SERVER_REPEAT_PENALTY}


def direct_stream(llm: Any, prompt: Prompt, message: int) -> Run:
    """Stream one completion; TTFT is the first non-empty piece, as drafter only forwards non-empty ones."""
    pieces: list[str] = []
    first: float | None = None
    started = time.perf_counter()
    for chunk in llm.create_completion(prompt.text, stream=True, **_sampling(prompt.stop)):  # ends at max_tokens
        piece = chunk["choices"][0]["text"]
        if piece:
            first = first or time.perf_counter()
            pieces.append(piece)
    total = time.perf_counter() - started
    if first is None:
        raise BenchError(f"The direct model produced no text for message {message}.")
    return Run("direct", message, first - started, total, len(pieces), "".join(pieces))


def direct_usage(llm: Any, prompt: Prompt) -> Usage:
    """A non-streamed call, for llama.cpp's own token counts."""
    usage = llm.create_completion(prompt.text, stream=False, **_sampling(prompt.stop))["usage"]
    return Usage(int(usage["prompt_tokens"]), int(usage["completion_tokens"]))


def uncached_prompt_tokens(llm: Any, order: Sequence[Prompt]) -> list[int]:
    """Prompt tokens left to evaluate for each request after llama.cpp reuses the prefix shared with the one before.

    Both llama.cpp instances keep their KV cache and reuse the longest common token prefix, so TTFT depends on how
    much of each prompt differs from the previous one; both sides see the same order of prompts.
    """
    tokens = [llm.tokenize(p.text.encode("utf-8")) for p in order]
    return [len(tokens[0])] + [len(cur) - _shared_prefix(prev, cur) for prev, cur in itertools.pairwise(tokens)]


def _shared_prefix(a: Sequence[int], b: Sequence[int]) -> int:
    return next((n for n, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), min(len(a), len(b)))


def whole_prompt_prefill_ms(llm: Any, prompt: Prompt) -> float:
    """Time to evaluate the whole prompt and sample one token, with no cached prefix."""
    llm.reset()  # forget the previous tokens, so nothing of the prompt is reused from the KV cache
    _, seconds = timed(lambda: llm.create_completion(prompt.text, max_tokens=1, temperature=TEMPERATURE))
    return seconds * 1000


# -- service: drafter serve as a subprocess ------------------------------------------------------------


def service_env(workdir: Path, cache_dir: Path) -> dict[str, str]:
    """This shell's environment without any DRAFTER_* (so no DRAFTER_LLM_BASE_URL), plus the bench settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DRAFTER_") and k != "OPENAI_API_KEY"}
    env.update({
        "DRAFTER_DATABASE_URL": f"sqlite:///{workdir / 'bench.db'}",
        "DRAFTER_LOCAL_MODEL_CACHE_DIR": str(cache_dir),
        "DRAFTER_LLM_TEMPERATURE": str(TEMPERATURE),
        "DRAFTER_LLM_MAX_TOKENS": str(MAX_TOKENS),
        "DRAFTER_LOCAL_MODEL_THREADS": str(N_THREADS),  # the defaults today; pinned so both sides match
        "DRAFTER_LOCAL_MODEL_CTX": str(N_CTX),
        "DRAFTER_LOG_LEVEL": "WARNING",
    })
    return env


def start_service(workdir: Path, cache_dir: Path, port: int) -> subprocess.Popen[bytes]:
    """Start `drafter serve` in its own process group, so its llama.cpp child can be reaped with it."""
    with (workdir / "serve.log").open("wb") as log:  # a file, not a pipe: nobody reads it while we measure
        return subprocess.Popen([str(DRAFTER), "serve", "--port", str(port)], cwd=workdir,  # cwd: no stray .env
                                env=service_env(workdir, cache_dir), stdin=subprocess.DEVNULL, stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True)


def log_tail(path: Path, lines: int = 5) -> str:
    with contextlib.suppress(OSError):
        return " | ".join(path.read_text(errors="replace").splitlines()[-lines:])
    return "no output"


def wait_ready(process: subprocess.Popen[bytes], base_url: str, log: Path, headers: dict[str, str]) -> None:
    """Poll /readyz until 200, the process exits, or READY_TIMEOUT_S passes."""
    deadline = time.monotonic() + READY_TIMEOUT_S
    with httpx.Client(base_url=base_url, timeout=5.0, headers=headers) as client:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise BenchError(f"drafter serve exited with code {process.returncode}: {log_tail(log)}")
            with contextlib.suppress(httpx.HTTPError):
                if client.get("/readyz").status_code == 200:
                    return
            time.sleep(0.1)
    raise BenchError(f"drafter serve was not ready within {READY_TIMEOUT_S:.0f} s: {log_tail(log)}")


def stop_service(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM (uvicorn then stops the llama.cpp child in its lifespan), SIGKILL on timeout; then the group."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=STOP_TIMEOUT_S)
    # Only processes we started are in this group: whatever is left (an orphaned llama.cpp server) goes too.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)


def _sse_events(response: httpx.Response) -> Iterator[tuple[str, Any]]:
    event = ""
    for line in response.iter_lines():
        if line.startswith("event: "):
            event = line.removeprefix("event: ")
        elif line.startswith("data: "):
            yield event, json.loads(line.removeprefix("data: "))


def service_stream(client: httpx.Client, text: str, message: int) -> Run:
    """POST /v1/drafts?stream=true; TTFT is the first `token` event, total the end of the response."""
    pieces: list[str] = []
    first: float | None = None
    draft: dict[str, Any] | None = None
    started = time.perf_counter()
    with client.stream("POST", "/v1/drafts", params={"stream": "true"}, json={"message": {"text": text}}) as r:
        if r.status_code != 201:
            raise BenchError(f"POST /v1/drafts?stream=true answered {r.status_code}: {r.read()[:300]!r}")
        for event, data in _sse_events(r):
            if event == "token":
                first = first or time.perf_counter()
                pieces.append(data["text"])
            elif event == "draft":
                draft = data
            elif event == "error":
                raise BenchError(f"The service streamed an error: {data}")
    total = time.perf_counter() - started
    if first is None or draft is None:
        raise BenchError(f"The service stream for message {message} had no tokens or no final draft.")
    return Run("service", message, first - started, total, int(draft["usage"]["completion_tokens"]),
               "".join(pieces), float(draft["timings"]["overhead_ms"]), len(pieces))


def service_usage(client: httpx.Client, text: str) -> Usage:
    """A non-streamed draft: its usage is what llama.cpp's server reported."""
    r = client.post("/v1/drafts", json={"message": {"text": text}})
    if r.status_code != 201:
        raise BenchError(f"POST /v1/drafts answered {r.status_code}: {r.text[:300]}")
    usage = r.json()["usage"]
    return Usage(int(usage["prompt_tokens"]), int(usage["completion_tokens"]))


def local_server_load_seconds(cache_dir: Path) -> float:
    """LocalModelServer.load_seconds: spawning llama_cpp.server until it answers /v1/models."""
    async def run() -> float:
        server = LocalModelServer(cache_dir=cache_dir, threads=N_THREADS, ctx=N_CTX, start_timeout_s=READY_TIMEOUT_S)
        try:
            await server.start()
            assert server.load_seconds is not None
            return server.load_seconds
        finally:
            await server.stop()

    return asyncio.run(run())


# -- the measurement ------------------------------------------------------------------------------


def measure_pairs(report: Report, llm: Any, client: httpx.Client, prompts: Sequence[Prompt], repeats: int) -> None:
    """Every message on both sides, alternating which side goes first, `repeats` times."""
    for rep in range(repeats):
        for i, prompt in enumerate(prompts):
            sides = [partial(direct_stream, llm, prompt, i), partial(service_stream, client, MESSAGES[i], i)]
            if (rep + i) % 2:
                sides.reverse()  # alternate order, so neither side always runs right after the other
            report.runs.extend(side() for side in sides)


def measure_prefill(report: Report, llm: Any, model_path: Path, prompt: Prompt) -> None:
    """Whole-prompt prefill with logits_all False (direct) and True (llama_cpp.server's default), alternated."""
    server_like, _ = load_direct(model_path, logits_all=True)
    samples: dict[str, list[float]] = {"logits_all=False": [], "logits_all=True": []}
    for _ in range(2):
        samples["logits_all=False"].append(whole_prompt_prefill_ms(llm, prompt))
        samples["logits_all=True"].append(whole_prompt_prefill_ms(server_like, prompt))
    server_like.close()
    report.prefill_ms = {k: statistics.median(v) for k, v in samples.items()}


def run_service_side(report: Report, llm: Any, workdir: Path, cache_dir: Path, prompts: Sequence[Prompt],
                     repeats: int) -> None:
    """Start the service, take the cold request, the paired runs and the usage checks; always stop it."""
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    # every endpoint but /healthz wants a token, /readyz included
    token = clinician_token(service_env(workdir, cache_dir), workdir, name="bench")
    headers = {"Authorization": f"Bearer {token}"}
    started = time.perf_counter()
    process = start_service(workdir, cache_dir, port)
    try:
        wait_ready(process, base_url, workdir / "serve.log", headers)
        report.serve_ready_s = time.perf_counter() - started
        with httpx.Client(base_url=base_url, timeout=REQUEST_TIMEOUT_S, headers=headers) as client:
            report.cold["direct"] = direct_stream(llm, prompts[0], -1)
            report.cold["service"] = service_stream(client, WARMUP_MESSAGE, -1)
            measure_pairs(report, llm, client, prompts[1:], repeats)
            order = [prompts[0], *(list(prompts[1:]) * repeats)]
            report.uncached = uncached_prompt_tokens(llm, order)
            report.prompt_tokens = max(len(llm.tokenize(p.text.encode("utf-8"))) for p in prompts)
            for i, prompt in enumerate(prompts[1:]):
                report.usage["direct", i] = direct_usage(llm, prompt)
                report.usage["service", i] = service_usage(client, MESSAGES[i])
    finally:
        stop_service(process)


def measure(cache_dir: Path | None, repeats: int) -> Report:
    report = Report(machine_info())
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="drafter-bench-") as tmp:
        workdir = Path(tmp)
        cache = cache_dir or workdir / "model-cache"
        report.reused_cache = cache_dir is not None
        model_path, report.assemble_s = timed(lambda: ensure_model(cache))
        _, flush_s = timed(lambda: flush_to_disk(model_path))
        report.assemble_s += flush_s
        prompts = render_prompts((WARMUP_MESSAGE, *MESSAGES))
        llm, report.direct_load_s = load_direct(model_path)
        report.server_load_s = local_server_load_seconds(cache)
        run_service_side(report, llm, workdir, cache, prompts, repeats)
        measure_prefill(report, llm, model_path, prompts[1])
        llm.close()
    report.machine["load_after"] = load_average()
    report.elapsed_s = time.perf_counter() - started
    return report


# -- the table ------------------------------------------------------------------------------------


def _median(runs: Sequence[Run], key: Callable[[Run], float]) -> float:
    return statistics.median(key(r) for r in runs)


def _ratio(service: float, direct: float) -> str:
    return f"{service / direct:.2f}×" if direct else "n/a"


def _side(report: Report, side: str, message: int | None = None) -> list[Run]:
    return [r for r in report.runs if r.side == side and (message is None or r.message == message)]


def summary_table(report: Report) -> str:
    d, s = _side(report, "direct"), _side(report, "service")
    d_ttft, s_ttft = _median(d, lambda r: r.ttft_s * 1000), _median(s, lambda r: r.ttft_s * 1000)
    d_tps, s_tps = _median(d, lambda r: r.tokens_per_s), _median(s, lambda r: r.tokens_per_s)
    d_cold, s_cold = report.cold["direct"].ttft_s * 1000, report.cold["service"].ttft_s * 1000

    def tokens(side: str) -> str:
        return " / ".join(f"{statistics.median(r.tokens for r in _side(report, side, i)):.0f}"
                          for i in range(len(MESSAGES)))

    overhead = statistics.median(r.overhead_ms for r in s if r.overhead_ms is not None)
    rows = [
        ("", "direct (llama-cpp-python in-process)", "service (drafter serve, SSE)", "service / direct"),
        ("---", "---", "---", "---"),
        ("model load (s)", f"{report.direct_load_s:.2f} (`Llama(...)`)",
         f"{report.server_load_s:.2f} (LocalModelServer.load_seconds); {report.serve_ready_s:.2f} "
         "(`drafter serve` spawn → /readyz 200)",
         f"{_ratio(report.server_load_s, report.direct_load_s)}; {_ratio(report.serve_ready_s, report.direct_load_s)}"),
        ("first request TTFT, fresh KV cache, 1 sample (ms)", f"{d_cold:.0f}", f"{s_cold:.0f}", _ratio(s_cold, d_cold)),
        ("TTFT median, later requests (ms)", f"{d_ttft:.0f}", f"{s_ttft:.0f}", _ratio(s_ttft, d_ttft)),
        ("tokens/s median", f"{d_tps:.1f}", f"{s_tps:.1f}", _ratio(s_tps, d_tps)),
        ("completion tokens (median, msg 1 / 2 / 3)", tokens("direct"), tokens("service"), ""),
        ("service overhead_ms median", "—", f"{overhead:.1f}", ""),
        ("first-install build (llama.cpp from source)", "—", "see README (~7m20s in the uv log; not measured)", ""),
    ]
    return "\n".join("| " + " | ".join(row) + " |" for row in rows)


def header(report: Report, repeats: int) -> str:
    m = report.machine
    return (f"Machine: nproc {m['nproc']}, CPU {m['cpu']}; load average before {m['load_before']}, "
            f"after {m['load_after']}\n"
            f"llama-cpp-python {m['llama_cpp_python']}, Python {m['python']}; n_ctx {N_CTX}, n_threads {N_THREADS}, "
            f"temperature {TEMPERATURE:g}, max_tokens {MAX_TOKENS}, repeat_penalty {SERVER_REPEAT_PENALTY} on both "
            f"sides\nRuns: {len(MESSAGES)} messages × {repeats} repeats per side (alternating), medians; "
            f"run took {report.elapsed_s:.0f} s")


def checks(report: Report) -> list[str]:
    """Token-count agreement, identical prompts and identical text: what makes the comparison fair."""
    lines = []
    for i in range(len(MESSAGES)):
        du, su = report.usage["direct", i], report.usage["service", i]
        d_runs, s_runs = _side(report, "direct", i), _side(report, "service", i)
        same_text = sum(a.text == b.text for a, b in zip(d_runs, s_runs, strict=True))
        events_ok = all(r.token_events == r.tokens for r in s_runs)
        lines.append(
            f"- msg {i + 1}: prompt tokens direct {du.prompt_tokens} / service {su.prompt_tokens}; completion "
            f"tokens streamed direct {d_runs[0].tokens} / service SSE draft {s_runs[0].tokens} "
            f"({'=' if events_ok else '≠'} token events), non-streamed reported direct {du.completion_tokens} / "
            f"service {su.completion_tokens}; streamed text identical in {same_text}/{len(d_runs)} pairs")
    later = report.uncached[1:]
    lines.append(f"- prompt tokens evaluated per request after KV prefix reuse: first {report.uncached[0]}, later "
                 f"median {statistics.median(later):.0f} (range {min(later)}-{max(later)}) of up to "
                 f"{report.prompt_tokens}")
    p = report.prefill_ms
    lines.append(f"- whole-prompt prefill + 1 token, direct Llama: logits_all=False {p['logits_all=False']:.0f} ms, "
                 f"logits_all=True (llama_cpp.server's default) {p['logits_all=True']:.0f} ms; drafter's child runs "
                 f"with logits_all={served_logits_all()}")
    cache = "given" if report.reused_cache else "empty"
    lines.append(f"- ensure_model (assemble if missing, SHA-256) + fsync, {cache} cache dir: {report.assemble_s:.1f} s")
    return lines


def raw_runs(report: Report) -> list[str]:
    """Every measured pair, so the spread behind the medians (and any noisy neighbour) is visible."""
    pairs = zip(_side(report, "direct"), _side(report, "service"), report.uncached[1:], strict=True)
    return [f"- {k}. msg {d.message + 1}, {left} prompt tokens to evaluate: TTFT direct {d.ttft_s * 1000:.0f} / "
            f"service {s.ttft_s * 1000:.0f} ms; tokens/s direct {d.tokens_per_s:.1f} / service {s.tokens_per_s:.1f}"
            for k, (d, s, left) in enumerate(pairs, start=1)]


NOTES = """\
How to read it:
- TTFT: direct = from calling `create_completion(stream=True)` to the first non-empty piece; service = from
  sending the POST to the first `token` event, so it also holds HTTP, input guardrails, the SQLite insert,
  rendering and the hop to llama.cpp's server.
- Both llama.cpp instances keep their KV cache between requests and reuse the longest token prefix shared with
  the previous prompt; the checks say how many prompt tokens that left to evaluate. Runs are ordered so both sides
  see the same sequence of prompts; the first request on each side (a fresh cache) is shown separately.
- tokens/s = completion tokens / (total - TTFT). Completion tokens when streaming are counted as non-empty streamed
  pieces (drafter does the same, since llama.cpp's server sends no usage in a stream); the service's total ends
  with the final `draft` event, so it includes the output guardrails and the store update (in overhead_ms).
  llama.cpp's non-streamed usage also counts the tokens of the matched stop string, which are never streamed, so
  it can exceed the streamed count by those few tokens.
- The service side's first-install build is not measured here: see README (~7m20s in the uv log).
"""


def render_markdown(report: Report, repeats: int, argv: Sequence[str]) -> str:
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    command = " ".join([".venv/bin/python -m bench.local_model", *argv])
    return (f"# Embedded model: service vs direct llama-cpp-python\n\n{when}, `{command}`\n\n"
            f"{header(report, repeats)}\n\n"
            f"{summary_table(report)}\n\nChecks:\n" + "\n".join(checks(report)) + "\n\nRuns, in order:\n"
            + "\n".join(raw_runs(report)) + f"\n\n{NOTES}")


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.local_model", description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=2, choices=range(1, 6), help="runs per message and side")
    parser.add_argument("--cache-dir", type=Path, default=None,
                        help="model cache to reuse (default: assembled into a temporary folder)")
    argv = sys.argv[1:] if argv is None else argv
    args = parser.parse_args(argv)
    try:
        report = measure(args.cache_dir, args.repeats)
    except BenchError as exc:
        sys.exit(f"bench.local_model: {exc}")
    text = render_markdown(report, args.repeats, argv)
    print(text)
    RESULTS_PATH.write_text(text, encoding="utf-8")
    print(f"Written to {RESULTS_PATH.relative_to(PROJECT_ROOT)}")


if __name__ == "__main__":
    main()
