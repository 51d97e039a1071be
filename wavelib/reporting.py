"""Tables for chapters: the measured numbers beside the paper's."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


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
