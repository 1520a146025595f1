# SPDX-License-Identifier: MIT
"""The exception the package raises, with the library's one line."""


class NpuError(Exception):
    """A libnpu or libnpu-llm call failed; str() is the library's one-line cause.

    status is the negative NPU_E_* code, or None for a failure of the binding itself.
    """

    def __init__(self, message, status=None):
        super().__init__(message)
        self.status = status
