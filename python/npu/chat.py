# SPDX-License-Identifier: MIT
"""A conversation whose history stays in the KV cache (npu_llm_chat_*)."""
import ctypes
import threading

from . import _lib
from .errors import NpuError
from .generation import Generation, check, sampler


class Chat:
    """A conversation on its own context: send() a user's message, iterate the reply.

    @template: a family's name ("chatml", "llama2", ...: npu_llm_chat_names()), which
    overrides the model's own template; None: detected from the model file.
    """

    def __init__(self, model, template=None, system=None, positions=0):
        lib = self._lib = model._lib
        self.model = model
        self._busy = threading.Lock()
        self._ctx = None
        self._ch = ctypes.c_void_p()
        name = ctypes.c_char_p()
        err = ctypes.create_string_buffer(512)
        ret = lib.npu_llm_chat_template_name(model._handle(), template and template.encode(),
                                             ctypes.byref(name), err, len(err))
        if ret:
            raise NpuError(_lib.text(err.value) or _lib.strerror(lib, ret), ret)
        self.template = _lib.text(name.value)
        self.messages = [{"role": "system", "content": system}] if system else []
        self.fit = None
        self._ctx = model.context(positions)
        ret = lib.npu_llm_chat_create(self._ctx, name.value, system and system.encode(),
                                      ctypes.byref(self._ch))
        if ret:
            self.close()
            raise NpuError(f"chat: {_lib.strerror(lib, ret)}", ret)
        model._chats.add(self)

    @staticmethod
    def names():
        return _lib.text(_lib.library().npu_llm_chat_names())

    @classmethod
    def reply_to(cls, model, messages, template=None, positions=0, **kw):
        """The reply to [a system message,] a user's message, streamed; the chat closes at its
        end. Earlier turns cannot be put in a cache without generating them: use a Chat."""
        roles = [m["role"] for m in messages]
        if roles not in (["user"], ["system", "user"]):
            raise NpuError(f"chat messages {roles}: want [system,] user; a Chat object "
                           "keeps a longer conversation")
        chat = cls(model, template, messages[0]["content"] if len(roles) == 2 else None,
                   positions)
        try:
            return chat.send(messages[-1]["content"], _close=True, **kw)
        except BaseException:
            chat.close()
            raise

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        """Free the conversation; refused while a reply is being generated."""
        if not self._busy.acquire(blocking=False):
            raise NpuError("chat: a reply is being generated: finish or close its iterator")
        try:
            self._lib.npu_llm_chat_free(self._ch)
            self._ch = ctypes.c_void_p()
            self._lib.npu_llm_ctx_free(self._ctx)
            self._ctx = None
            self.model._chats.discard(self)
        finally:
            self._busy.release()

    def position(self):
        """Positions of the KV cache the conversation takes so far."""
        if not self._ch:
            raise NpuError("the chat is closed")
        return self._lib.npu_llm_ctx_pos(self._ctx)

    def send(self, content, max_tokens=256, reserve=None, temperature=0.0, top_k=0, top_p=1.0,
             min_p=0.0, repeat_penalty=1.0, repeat_last_n=64, seed=0, on_token=None,
             _close=False):
        """The reply to a user's message, streamed (a Generation); it joins the history."""
        lib = self._lib
        if not self._ch:
            raise NpuError("the chat is closed")
        s = sampler(lib, self.model.info.vocab_size, temperature, top_k, top_p, min_p,
                    repeat_penalty, repeat_last_n, seed)
        # npu_llm_chat_add() holds it to the context's half.
        reserve = reserve or max_tokens

        def run(fn, stats):
            # One call on the context at a time: a reply iterated while another runs fails.
            if not self._busy.acquire(blocking=False):
                raise NpuError("chat: another reply is being generated")
            try:
                fit = _lib.ChatFit()
                check(lib, lib.npu_llm_chat_add(self._ch, content.encode(), reserve,
                                                ctypes.byref(fit)), self._ctx, "chat")
                self.fit = fit
                self.messages.append({"role": "user", "content": content})
                check(lib, lib.npu_llm_chat_reply(self._ch, s, max_tokens, fn, None,
                                                  ctypes.byref(stats)), self._ctx, "chat")
            finally:
                self._busy.release()

        def finish(gen):
            if gen.stats is not None:
                self.messages.append({"role": "assistant", "content": gen.text})

        def cleanup():
            lib.npu_llm_sampler_free(s)
            if _close:
                self.close()

        return Generation(run, on_token, finish, cleanup)
