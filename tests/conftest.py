import os
import sys

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


def pytest_configure(config):
    import torch  # a test dependency: missing torch must fail the suite, not skip tests

    torch.set_num_threads(1)
