# SPDX-License-Identifier: MIT
"""A model on a device (or the float reference): load, describe, tokenize, generate."""
import ctypes
import threading
import weakref
from dataclasses import dataclass

from . import _lib
from .chat import Chat
from .errors import NpuError
from .generation import Generation, check, sampler


@dataclass(frozen=True)
class Info:
    """What npu_llm_model_info() and npu_llm_ctx_size() report of a model."""
    architecture: str
    name: str
    weights: str
    tokenizer: str
    tokenizer_source: str
    vocab_size: int
    context: int
    positions: int
    dim: int
    n_layers: int
    n_heads: int
    n_kv_heads: int
    device_bytes: int
    weight_bytes: int
    weight_count: int
    weight_types: str
    weight_note: str
    load_s: float
    device: str


def _bytes(s):
    return s.encode() if isinstance(s, str) else s


class Model:
    """A loaded model; close() (or a with block) frees it and its device."""

    def __init__(self, path=None, device="auto", weights=None, tokenizer=None, library=None):
        self._lib = lib = _lib.library(library)
        self._dev = ctypes.c_void_p()
        self._m = ctypes.c_void_p()
        self._chats = weakref.WeakSet()	# open Chats: each holds a context of the model
        self._running = 0	# generations whose thread holds a context
        self._lock = threading.Lock()
        if device is not None:
            ret = lib.npu_open(_bytes(device), ctypes.byref(self._dev))
            if ret:
                reason = _lib.text(lib.npu_open_reason())
                raise NpuError(f"device '{device}': {_lib.strerror(lib, ret)}"
                               + (f" ({reason})" if reason else ""), ret)
        params = _lib.ModelParams(tokenizer=_bytes(tokenizer), weights=_bytes(weights))
        err = ctypes.create_string_buffer(1024)
        ret = lib.npu_llm_model_load(self._dev, _bytes(path), ctypes.byref(params),
                                     ctypes.byref(self._m), err, len(err))
        if ret:
            self.close()
            raise NpuError(_lib.text(err.value) or _lib.strerror(lib, ret), ret)
        try:
            i = _lib._filled(lib, lib.npu_llm_model_info, _lib.ModelInfo, self._m)
            size = _lib.CtxSize()
            check(lib, lib.npu_llm_ctx_size(self._m, ctypes.byref(size)), None, "context size")
        except BaseException:
            self.close()
            raise
        c = i.cfg
        src = i.tokenizer_source
        self.info = Info(
            _lib.text(i.architecture), _lib.text(i.name), _lib.text(i.weights),
            _lib.text(i.tokenizer),
            _lib.TOKENIZER_SOURCES[src] if 0 <= src < len(_lib.TOKENIZER_SOURCES) else str(src),
            c.vocab_size, size.file, size.positions, c.dim, c.n_layers, c.n_heads,
            c.n_kv_heads, i.device_bytes, i.weight_bytes, i.weight_count,
            _lib.text(i.weight_types), _lib.text(i.weight_note), i.load_s,
            device or "float")

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        """Free the model and close its device; refused while a Chat or a generation uses it."""
        with self._lock:
            if self._running or len(self._chats):
                raise NpuError("the model is in use: close its chats and finish its "
                               "generations first")
        if self._m:
            self._lib.npu_llm_model_free(self._m)
            self._m = ctypes.c_void_p()
        if self._dev:
            self._lib.npu_close(self._dev)
            self._dev = ctypes.c_void_p()

    def _handle(self):
        if not self._m:
            raise NpuError("the model is closed")
        return self._m

    def tokenize(self, text, bos=True):
        """The token ids of @text, BOS first when @bos."""
        data = text.encode()
        room = len(data) + 4
        while True:
            out = (ctypes.c_int32 * room)()
            n = ctypes.c_int32()
            ret = self._lib.npu_llm_tokenize(self._handle(), data, int(bos), out, room,
                                             ctypes.byref(n))
            if ret != _lib.NPU_E_RANGE:
                break
            room *= 2
        check(self._lib, ret, None, "tokenize")
        return list(out[:n.value])

    def detokenize(self, tokens, prev=-1):
        """The text of @tokens (as generation prints them; after BOS a leading space is dropped)."""
        buf = ctypes.create_string_buffer(2)
        out = b""
        for t in tokens:
            out += self._lib.npu_llm_token_text(self._handle(), prev, t, buf) or b""
            prev = t
        return out.decode("utf-8", "replace")

    def context(self, positions=0):
        """A new context (npu_llm_ctx *) of @positions (0: the default); the caller frees it."""
        params = _lib.CtxParams(positions=positions)
        ctx = ctypes.c_void_p()
        err = ctypes.create_string_buffer(512)
        ret = self._lib.npu_llm_ctx_create(self._handle(), ctypes.byref(params),
                                           ctypes.byref(ctx), err, len(err))
        if ret:
            raise NpuError(_lib.text(err.value) or _lib.strerror(self._lib, ret), ret)
        return ctx

    def sampler(self, temperature=0.0, top_k=0, top_p=1.0, min_p=0.0, repeat_penalty=1.0,
                repeat_last_n=64, seed=0):
        """A sampler (npu_llm_sampler *), the caller frees it; see npu_llm_sampler_params."""
        return sampler(self._lib, self.info.vocab_size, temperature, top_k, top_p, min_p,
                       repeat_penalty, repeat_last_n, seed)

    def generate(self, prompt, max_tokens=256, temperature=0.0, top_k=0, top_p=1.0, min_p=0.0,
                 repeat_penalty=1.0, repeat_last_n=64, seed=0, positions=0, on_token=None):
        """Text after @prompt (BOS first), streamed: a Generation, with .stats at its end."""
        lib = self._lib
        tokens = self.tokenize(prompt)
        s = self.sampler(temperature, top_k, top_p, min_p, repeat_penalty, repeat_last_n, seed)

        def run(fn, stats):
            ctx = None
            with self._lock:
                self._running += 1
            try:
                ctx = self.context(positions)
                arr = (ctypes.c_int32 * len(tokens))(*tokens)
                ret = lib.npu_llm_generate(ctx, s, arr, len(tokens), max_tokens, fn, None,
                                           ctypes.byref(stats))
                check(lib, ret, ctx, "generate")
            finally:
                lib.npu_llm_ctx_free(ctx)
                with self._lock:
                    self._running -= 1
        return Generation(run, on_token, cleanup=lambda: lib.npu_llm_sampler_free(s))

    def chat(self, messages=None, template=None, system=None, positions=0, **kw):
        """A Chat (history in the KV cache); with @messages, the reply to them streamed."""
        if messages is None:
            return Chat(self, template=template, system=system, positions=positions)
        if system is not None:
            raise NpuError("chat: give the system message in @messages")
        return Chat.reply_to(self, messages, template=template, positions=positions, **kw)


def load(path=None, device="auto", weights=None, tokenizer=None, library=None):
    """Load a model file (None: the synthetic model) onto a device: "cpu", "accel", "usb",
    "auto", or None for the float reference on the host. @library: libnpu-llm's path."""
    return Model(path, device, weights, tokenizer, library)
