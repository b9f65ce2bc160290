import os
import shutil
import sys
import tempfile

from hypothesis import HealthCheck, settings

sys.path.insert(0, os.path.dirname(__file__))  # tests/naive.py, checks.py, strategies.py

# The first call of a Numba function compiles it (seconds), so no deadline; a
# modest example count keeps the whole suite within minutes on 2 cores.  In CI
# the examples are derandomized so a run is reproducible.
settings.register_profile(
    "motifnet",
    deadline=None,
    max_examples=25,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    derandomize=bool(os.environ.get("CI")),
    print_blob=True,
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "motifnet"))


# The CLI runs in these tests note which kernels they found (motifnet/warmup.py) in the
# user's cache folder ($XDG_CACHE_HOME/motifnet); the suite's notes go to a folder of its
# own, removed at the end, and its subprocesses inherit it.  Numba's own cache is not
# moved for an install whose source folder is writable (an editable one: __pycache__).
_CACHE_HOME = tempfile.mkdtemp(prefix="motifnet-tests-cache-")
os.environ["XDG_CACHE_HOME"] = _CACHE_HOME


# Threaded compilations compile at their first call, as a machine whose big jobs paid for
# them (kernels/_jit.py, ThreadsGate): the tests check the threaded code itself, and what
# a run compiles must not depend on what earlier tests happened to call.  The gate's own
# tests set it back (tests/test_threads_gate.py).
os.environ["MOTIFNET_THREADS_PAYBACK_S"] = "0"


def pytest_unconfigure(config):
    shutil.rmtree(_CACHE_HOME, ignore_errors=True)


def pytest_configure(config):
    import torch  # a test dependency: missing torch must fail the suite, not skip tests

    torch.set_num_threads(1)
