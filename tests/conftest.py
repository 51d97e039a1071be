"""Test-run settings: smoke preset, a throwaway results store, quiet progress bars.

They are environment variables so that notebook kernels (nbval) and subprocesses (CLI, book build)
inherit them. ``WAVELIB_PRESET`` set by the caller wins.
"""

import os
import shutil
import tempfile

os.environ.setdefault("WAVELIB_PRESET", "smoke")
os.environ.setdefault("WAVELIB_QUIET", "1")
_OWN_RESULTS = "WAVELIB_RESULTS" not in os.environ
if _OWN_RESULTS:
    os.environ["WAVELIB_RESULTS"] = tempfile.mkdtemp(prefix="wavelib-test-results-")


def pytest_sessionfinish(session, exitstatus):
    if _OWN_RESULTS:
        shutil.rmtree(os.environ["WAVELIB_RESULTS"], ignore_errors=True)
