"""Settings of every test run, the notebooks' (``python -m pytest book/…``) as well as the tests': the smoke preset,
a throwaway results store, quiet progress bars, no downloads, no ipywidgets sliders, and freed memory kept.

The first five are environment variables so that notebook kernels (nbval) and subprocesses (CLI, book build)
inherit them; ``WAVELIB_PRESET`` and ``WAVELIB_RESULTS`` set by the caller win. The last is this process's own: the
others set it where they train (:func:`wavelib.store.run_experiment`). Fixtures live in ``tests/conftest.py``.
"""

import os
import shutil
import tempfile

from wavelib.cpu_memory import keep_freed_memory

os.environ.setdefault("WAVELIB_PRESET", "smoke")
os.environ.setdefault("WAVELIB_QUIET", "1")
os.environ.setdefault("WAVELIB_OFFLINE", "1")  # tests never download a dataset
os.environ.setdefault("WAVELIB_WIDGETS", "0")  # no ipywidgets sliders (wavelib.reporting.live_widgets)
_OWN_RESULTS = "WAVELIB_RESULTS" not in os.environ
if _OWN_RESULTS:
    os.environ["WAVELIB_RESULTS"] = tempfile.mkdtemp(prefix="wavelib-test-results-")


keep_freed_memory()  # as every training run on the CPU does (wavelib.store.run_experiment), whichever test runs first


def pytest_sessionfinish(session, exitstatus):
    if _OWN_RESULTS:
        shutil.rmtree(os.environ["WAVELIB_RESULTS"], ignore_errors=True)
