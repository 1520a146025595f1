# SPDX-License-Identifier: MIT
"""Python bindings of libnpu-llm: language models on libnpu devices.

    import npu
    with npu.load("stories260K.gguf", device="cpu") as m:
        print(m.info.architecture)
        g = m.generate("Once upon a time", max_tokens=32)
        for piece in g:
            print(piece, end="", flush=True)
        print(g.stats.tokens_per_s)

The library is libnpu-llm.so.1, found through load(library=PATH), else
$NPU_LLM_LIBRARY, else the dynamic loader's search.
"""
from ._lib import library
from .chat import Chat
from .errors import NpuError
from .generation import Generation, Stats
from .model import Info, Model, load

__all__ = ["Chat", "Generation", "Info", "Model", "NpuError", "Stats", "library", "load"]
