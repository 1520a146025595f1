# SPDX-License-Identifier: MIT
"""The C API of libnpu-llm (<npu/llm.h>) and libnpu (<npu/npu.h>) through ctypes.

Each structure mirrors its header field by field; check_layouts() verifies
what the library fills against the sizes declared here.
"""
import ctypes
import os
import threading

from .errors import NpuError

c_int, c_int32, c_uint64, c_float, c_double = (ctypes.c_int, ctypes.c_int32, ctypes.c_uint64,
                                               ctypes.c_float, ctypes.c_double)
c_char_p, c_void_p, c_size_t = ctypes.c_char_p, ctypes.c_void_p, ctypes.c_size_t
POINTER = ctypes.POINTER

SONAME = "libnpu-llm.so.1"
NPU_E_RANGE = -6
STOPS = ("length", "bos", "callback", "eog")	# enum npu_llm_stop
TOKENIZER_SOURCES = ("given", "gguf", "beside", "bytes")	# enum npu_llm_tokenizer_source


class RopeParams(ctypes.Structure):	# struct npu_rope_params (model.h)
    _fields_ = [("base", c_float), ("freq_scale", c_float), ("ext_factor", c_float),
                ("attn_factor", c_float), ("beta_fast", c_float), ("beta_slow", c_float),
                ("orig_ctx", c_int32), ("scaling", c_int)]


class ModelConfig(ctypes.Structure):	# struct npu_model_config (model.h)
    _fields_ = [("dim", c_int32), ("hidden_dim", c_int32), ("n_layers", c_int32),
                ("n_heads", c_int32), ("n_kv_heads", c_int32), ("vocab_size", c_int32),
                ("seq_len", c_int32), ("shared_classifier", c_int), ("head_dim", c_int32),
                ("norm_eps", c_float), ("rope", RopeParams), ("arch", c_int),
                ("qkv_bias", c_int), ("qk_norm", c_int), ("rope_factors", c_int),
                ("ffn_gelu", c_int), ("embed_scale", c_float), ("sliding_window", c_int32)]


PROGRESS_FN = ctypes.CFUNCTYPE(None, c_void_p, c_int, c_int)	# npu_llm_progress_fn
TOKEN_FN = ctypes.CFUNCTYPE(c_int, c_void_p, c_int32, c_char_p)	# npu_llm_token_fn


class ModelParams(ctypes.Structure):	# struct npu_llm_model_params
    _fields_ = [("tokenizer", c_char_p), ("weights", c_char_p), ("synthetic", c_char_p),
                ("seed", c_uint64), ("progress", PROGRESS_FN), ("progress_user", c_void_p)]


class ModelInfo(ctypes.Structure):	# struct npu_llm_model_info
    _fields_ = [("cfg", ModelConfig), ("name", c_char_p), ("weights", c_char_p),
                ("tokenizer", c_char_p), ("tokenizer_source", c_int),
                ("tokenizer_note", c_char_p), ("device_bytes", c_uint64),
                ("weight_bytes", c_uint64), ("load_s", c_double), ("weight_count", c_uint64),
                ("weight_types", c_char_p), ("weight_note", c_char_p),
                ("architecture", c_char_p)]


class CtxParams(ctypes.Structure):	# struct npu_llm_ctx_params
    _fields_ = [("positions", c_int), ("reference", c_int), ("trace", c_int),
                ("profile", c_int), ("device", c_void_p), ("norm_act", c_int)]


class CtxSize(ctypes.Structure):	# struct npu_llm_ctx_size
    _fields_ = [("file", c_int), ("device", c_int), ("attention", c_int),
                ("positions", c_int), ("window", c_int)]


class SamplerParams(ctypes.Structure):	# struct npu_llm_sampler_params
    _fields_ = [("temperature", c_float), ("top_k", c_int), ("top_p", c_float),
                ("min_p", c_float), ("repeat_penalty", c_float), ("repeat_last_n", c_int),
                ("seed", c_uint64)]


class Stats(ctypes.Structure):	# struct npu_llm_stats
    _fields_ = [("stop", c_int), ("prompt_tokens", c_int), ("generated_tokens", c_int),
                ("prefill_s", c_double), ("first_token_s", c_double), ("total_s", c_double),
                ("prefill_tok_s", c_double), ("decode_tok_s", c_double)]


class ChatFit(ctypes.Structure):	# struct npu_llm_chat_fit
    _fields_ = [("tokens", c_int), ("start", c_int), ("full", c_int), ("dropped", c_int)]


P = c_void_p	# every opaque handle: npu_device, npu_llm_model, _ctx, _sampler, _chat
ERR = (ctypes.c_char_p, c_size_t)
PROTOTYPES = {
    "npu_strerror": (c_char_p, [c_int]),
    "npu_open": (c_int, [c_char_p, POINTER(P)]),
    "npu_open_reason": (c_char_p, []),
    "npu_close": (c_int, [P]),
    "npu_llm_model_load": (c_int, [P, c_char_p, POINTER(ModelParams), POINTER(P), *ERR]),
    "npu_llm_model_free": (None, [P]),
    "npu_llm_model_info": (None, [P, POINTER(ModelInfo)]),
    "npu_llm_tokenize": (c_int, [P, c_char_p, c_int, POINTER(c_int32), c_int32,
                                 POINTER(c_int32)]),
    "npu_llm_token_text": (c_char_p, [P, c_int32, c_int32, c_char_p]),
    "npu_llm_ctx_size": (c_int, [P, POINTER(CtxSize)]),
    "npu_llm_ctx_create": (c_int, [P, POINTER(CtxParams), POINTER(P), *ERR]),
    "npu_llm_ctx_free": (None, [P]),
    "npu_llm_ctx_positions": (c_int, [P]),
    "npu_llm_ctx_pos": (c_int, [P]),
    "npu_llm_ctx_error": (c_char_p, [P]),
    "npu_llm_sampler_defaults": (None, [POINTER(SamplerParams)]),
    "npu_llm_sampler_create": (c_int, [POINTER(SamplerParams), c_int32, POINTER(P)]),
    "npu_llm_sampler_free": (None, [P]),
    "npu_llm_generate": (c_int, [P, P, POINTER(c_int32), c_int, c_int, TOKEN_FN, c_void_p,
                                 POINTER(Stats)]),
    "npu_llm_chat_names": (c_char_p, []),
    "npu_llm_chat_template_name": (c_int, [P, c_char_p, POINTER(c_char_p), *ERR]),
    "npu_llm_chat_create": (c_int, [P, c_char_p, c_char_p, POINTER(P)]),
    "npu_llm_chat_free": (None, [P]),
    "npu_llm_chat_add": (c_int, [P, c_char_p, c_int, POINTER(ChatFit)]),
    "npu_llm_chat_reply": (c_int, [P, P, c_int, TOKEN_FN, c_void_p, POINTER(Stats)]),
}

_lock = threading.Lock()
_libs = {}


def _open(path):
    """dlopen @path, libnpu.so.0 beside it first so a build directory needs no LD_LIBRARY_PATH."""
    where = os.path.dirname(path)
    if where:
        for name in ("libnpu.so.0", "libnpu.so"):
            if os.path.exists(os.path.join(where, name)):
                ctypes.CDLL(os.path.join(where, name), mode=ctypes.RTLD_GLOBAL)
                break
    lib = ctypes.CDLL(path)
    for name, (restype, argtypes) in PROTOTYPES.items():
        fn = getattr(lib, name)
        fn.restype, fn.argtypes = restype, argtypes
    return lib


def library(path=None):
    """libnpu-llm: @path, else $NPU_LLM_LIBRARY, else its soname, which the dynamic loader
    finds (LD_LIBRARY_PATH, then ld.so.cache)."""
    path = path or os.environ.get("NPU_LLM_LIBRARY") or SONAME
    with _lock:
        if path not in _libs:
            try:
                lib = _open(path)
            except OSError as e:
                raise NpuError(f"libnpu-llm: {e}") from None
            check_layouts(lib)
            _libs[path] = lib
        return _libs[path]


def _filled(lib, fn, struct, *args):
    """Call @fn on a @struct followed by guard bytes: the library must write no further."""
    guard = 64
    buf = ctypes.create_string_buffer(b"\xa5" * (ctypes.sizeof(struct) + guard))
    fn(*args, ctypes.cast(buf, POINTER(struct)))
    if buf.raw[ctypes.sizeof(struct):ctypes.sizeof(struct) + guard] != b"\xa5" * guard:
        raise NpuError(f"libnpu-llm: {fn.__name__} wrote past struct {struct.__name__} "
                       f"({ctypes.sizeof(struct)} bytes here): the binding does not match llm.h")
    return struct.from_buffer_copy(buf.raw[:ctypes.sizeof(struct)])


def check_layouts(lib):
    """A layout the library disagrees with would read garbage: refuse it on load."""
    p = _filled(lib, lib.npu_llm_sampler_defaults, SamplerParams)
    if (p.temperature, p.top_p, p.min_p, p.repeat_penalty, p.repeat_last_n, p.seed) != \
            (0.0, 1.0, 0.0, 1.0, 64, 1):
        raise NpuError("libnpu-llm: npu_llm_sampler_defaults() is not greedy as read here: "
                       "the binding does not match llm.h")


def text(b):
    return b.decode("utf-8", "replace") if b else ""


def strerror(lib, ret):
    return text(lib.npu_strerror(ret))
