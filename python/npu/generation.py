# SPDX-License-Identifier: MIT
"""Streaming a generation: the C call runs on a thread, its pieces come out of an iterator."""
import codecs
import ctypes
import queue
import threading
import weakref
from dataclasses import dataclass

from . import _lib
from .errors import NpuError


@dataclass(frozen=True)
class Stats:
    """A run's figures (struct npu_llm_stats); stop is "length", "bos", "callback" or "eog"."""
    stop: str
    prompt_tokens: int
    generated_tokens: int
    prefill_s: float
    first_token_s: float
    total_s: float
    prefill_tok_s: float
    decode_tok_s: float

    @property
    def tokens_per_s(self):
        return self.decode_tok_s

    @classmethod
    def from_c(cls, s):
        stop = _lib.STOPS[s.stop] if 0 <= s.stop < len(_lib.STOPS) else str(s.stop)
        return cls(stop, s.prompt_tokens, s.generated_tokens, s.prefill_s, s.first_token_s,
                   s.total_s, s.prefill_tok_s, s.decode_tok_s)


_DONE = object()


class Generation:
    """An iterator of text pieces; .stats, .text and .tokens once it is exhausted.

    run(fn, stats) makes the C call, fn being the npu_llm_token_fn; on_token(token, text), if
    given, is called for each token on the generating thread: a true result stops the text
    there, an exception stops it and is raised from the iterator. finish(generation) runs once
    the run is over; cleanup() frees what the run used, after finish, or when a generation
    never iterated is collected.
    """

    def __init__(self, run, on_token=None, finish=None, cleanup=None):
        self._run, self._on_token, self._finish = run, on_token, finish
        self._cleanup = weakref.finalize(self, cleanup) if cleanup else None
        self._queue = queue.Queue(maxsize=16)
        self._stop = threading.Event()
        self._decoder = codecs.getincrementaldecoder("utf-8")("replace")
        self._thread = None
        self._error = None
        self._c_fn = _lib.TOKEN_FN(self._callback)
        self.stats = None
        self.tokens = []
        self.text = ""

    def _callback(self, user, token, text):
        # An exception here would be printed by ctypes and lost: kept, and the run stopped.
        try:
            if self._stop.is_set():
                return 1
            self.tokens.append(token)
            piece = self._decoder.decode(text or b"")
            stop = bool(self._on_token and self._on_token(token, piece))
            if piece:
                self._put(piece)
            return 1 if stop or self._stop.is_set() else 0
        except BaseException as e:	# noqa: B036 - re-raised in the consumer
            self._error = e
            return 1

    def _put(self, item):
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return
            except queue.Full:
                pass

    def _main(self):
        stats = _lib.Stats()
        try:
            self._run(self._c_fn, stats)
            self.stats = Stats.from_c(stats)
            tail = self._decoder.decode(b"", final=True)
            if tail:
                self._put(tail)
        except BaseException as e:	# noqa: B036 - re-raised in the consumer
            self._error = self._error or e
        finally:
            self._put(_DONE)

    def __iter__(self):
        if self._thread is not None:
            return	# one run: a second pass yields nothing
        self._thread = threading.Thread(target=self._main, daemon=True)
        self._thread.start()
        pieces = []
        try:
            while True:
                try:
                    item = self._queue.get(timeout=0.1)
                except queue.Empty:
                    continue
                if item is _DONE:
                    break
                pieces.append(item)
                yield item
        finally:
            self._stop.set()
            self._thread.join()
            self.text = "".join(pieces)
            try:
                if self._finish:
                    self._finish(self)
            finally:
                if self._cleanup:
                    self._cleanup()
        if self._error:
            raise self._error

    def read(self):
        """Run to the end; the whole text."""
        for _ in self:
            pass
        return self.text


def check(lib, ret, ctx, what):
    """Raise the context's one line (else npu_strerror()) for a failed call."""
    if ret:
        why = _lib.text(lib.npu_llm_ctx_error(ctx)) if ctx else ""
        raise NpuError(f"{what}: {why or _lib.strerror(lib, ret)}", ret)


def sampler(lib, vocab, temperature, top_k, top_p, min_p, repeat_penalty, repeat_last_n, seed):
    p = _lib.SamplerParams()
    lib.npu_llm_sampler_defaults(ctypes.byref(p))
    p.temperature, p.top_k, p.top_p, p.min_p = temperature, top_k, top_p, min_p
    p.repeat_penalty, p.repeat_last_n, p.seed = repeat_penalty, repeat_last_n, seed
    s = ctypes.c_void_p()
    ret = lib.npu_llm_sampler_create(ctypes.byref(p), vocab, ctypes.byref(s))
    if ret:
        raise NpuError(f"sampler (temperature {temperature}, top_k {top_k}, top_p {top_p}, "
                       f"min_p {min_p}): {_lib.strerror(lib, ret)}", ret)
    return s
