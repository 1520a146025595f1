# SPDX-License-Identifier: MIT
"""The package from python/ (or PYTHONPATH's), the library from $NPU_LLM_LIBRARY (or the
loader's search), the models from $NPU_MODELS, npu-run from $NPU_BUILD/bin."""
import os
import sys

import pytest

top = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
if not os.environ.get("NPU_PYTHON_INSTALLED"):
    sys.path.insert(0, os.path.join(top, "python"))

MODELS = os.environ.get("NPU_MODELS", os.path.join(top, "..", "shared", "models"))


def missing(why):
    """What cannot be had here skips the test, or fails it when CI=true."""
    (pytest.fail if os.environ.get("CI") == "true" else pytest.skip)(why)


@pytest.fixture(scope="session")
def gguf():
    path = os.path.join(MODELS, "stories260K.gguf")
    if not os.path.exists(path):
        missing(f"no {path}")
    return path


@pytest.fixture(scope="session")
def model(gguf):
    import npu
    with npu.load(gguf, device="cpu") as m:
        yield m


@pytest.fixture(scope="session")
def npu_run():
    path = os.path.join(os.environ.get("NPU_BUILD", os.path.join(top, "build")), "bin", "npu-run")
    if not os.access(path, os.X_OK):
        missing(f"no {path} (set NPU_BUILD)")
    return path
