"""Chapter 5's notebook with two copy lengths, as the `paper` preset has (20 and 300) and no reduced preset does:
the second length's curves, tables, generalisation and claims render from a real (tiny) run."""

from __future__ import annotations

import json

import papermill

from wavelib.provenance import REPO_ROOT


def test_the_chapter_renders_every_copy_length(tmp_path, monkeypatch):
    monkeypatch.setenv("WAVELIB_RESULTS", str(tmp_path / "results"))
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    out = tmp_path / "05_vwave.ipynb"
    papermill.execute_notebook(str(REPO_ROOT / "book" / "05_vwave.ipynb"), str(out), kernel_name="python3",
                               progress_bar=False, execution_timeout=600,  # a stalled cell ends at 10 min
                               parameters={
                                   "preset": "smoke", "knobs": {"lengths": [4, 7], "contexts": [32, 40],
                                                                "steps": 20, "eval_every": 10}})
    text = "\n".join("".join(output.get("data", {}).get("text/markdown", ""))
                     for cell in json.loads(out.read_text())["cells"] for output in cell.get("outputs", []))
    for length in (4, 7):
        assert f"string accuracy, all lengths ≤ {length}" in text  # §5.2's table at each length
        assert f"learns copy (length ≤ {length}) exponentially faster than Mamba" in text  # a claim row each
        assert f"at length {length}:" in text  # §5.4's generalisation text at each length
    assert "copy_curves_long`: trained on cpu" in text
    assert "**Velocity comes with gain.**" in text  # §5.1's gains, computed
    assert "The results store this page was built from holds no `copy_curves` of the `paper` preset" in text
