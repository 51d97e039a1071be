"""Tables for chapters: the measured numbers beside the paper's."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

#: "0": the explorers build no ipywidgets sliders (:func:`live_widgets`); set where chapters run unattended
WIDGETS_ENV = "WAVELIB_WIDGETS"


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A GitHub-style Markdown table; cells are converted with ``str`` and ``|`` escaped."""
    def cell(value: Any) -> str:
        return str(value).replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(cell(h) for h in header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def as_markdown(text: str) -> Any:
    """Markdown ``text`` as a displayable object in a notebook (the text itself where IPython is missing)."""
    try:
        from IPython.display import Markdown
    except ImportError:
        return text
    return Markdown(text)


def display_markdown(text: str) -> None:
    """Show Markdown ``text`` now, in the middle of a notebook cell (printed where IPython is missing)."""
    try:
        from IPython.display import display
    except ImportError:
        print(text)
        return
    display(as_markdown(text))


def show_table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> Any:
    """:func:`markdown_table` as a displayable object in a notebook (the text itself elsewhere)."""
    return as_markdown(markdown_table(header, rows))


def live_widgets() -> bool:
    """Whether an explorer should build its ipywidgets sliders: not where ``$WAVELIB_WIDGETS`` is "0", as in the
    book build, ``python -m wavelib run`` and the tests. There no one moves a slider and the page has no kernel to
    answer one, and nbclient can wait forever on the messages of a widget's first drawing (on a loaded 2-core
    machine, about one execution in six of Chapter 5's explorer cell stalled until its timeout)."""
    return os.environ.get(WIDGETS_ENV, "1") != "0"


def widgets_left_out() -> None:
    """Say, in a cell's output, that the explorer's sliders appear only when it runs in a live Jupyter kernel."""
    print(f"(No sliders: ${WIDGETS_ENV}=0, an unattended run. Run this cell in a live Jupyter kernel to get them.)")
