"""wavelib: the package behind *Traveling Waves as Working Memory*.

Layout
------
- ``wavelib.theory``      the maths of Chapter 1 (waves, HDS, LBC, SBC, gradients)
- ``wavelib.tasks``       task definitions (history-dependent systems, ...)
- ``wavelib.experiments`` each chapter's heavy work, runnable without Jupyter
- ``wavelib.plotting``    the book's figure style and figure functions
- ``wavelib.presets``     the preset registry (smoke / cpu / paper)
- ``wavelib.store``       the results store (atomic artifacts, checkpoints, metadata)
- ``wavelib.cli``         ``python -m wavelib list | train | run | book``
"""

__version__ = "0.1.0"
