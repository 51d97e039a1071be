"""The book's notebooks as files: valid nbformat documents whose cells each have their own id (a copied cell kept
its id twice in the Performance page until this test)."""

import json

import nbformat
import pytest

from wavelib.provenance import REPO_ROOT

NOTEBOOKS = sorted((REPO_ROOT / "book").glob("*.ipynb"))


def test_every_chapter_and_the_performance_page_are_here():
    assert len(NOTEBOOKS) == 6, NOTEBOOKS


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_valid_with_unique_cell_ids(path):
    raw = json.loads(path.read_text(encoding="utf8"))
    ids = [cell.get("id") for cell in raw["cells"]]
    assert None not in ids, f"cells without an id in {path.name}"
    assert len(set(ids)) == len(ids), f"repeated cell ids in {path.name}: {sorted(i for i in ids if ids.count(i) > 1)}"
    nbformat.validate(nbformat.reads(path.read_text(encoding="utf8"), as_version=4))
