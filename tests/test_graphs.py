"""wavelib.training.graphs and what a captured copy-LM step relies on; the capture itself runs on a GPU only."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from wavelib.chapters import open_chapter
from wavelib.experiments.vwave import PRESETS
from wavelib.models.transformer import CausalSelfAttention
from wavelib.presets import ConfigError
from wavelib.training.copy_lm import copy_loss, train_copy
from wavelib.training.graphs import GraphedStep, set_learning_rate

CUDA = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device (runs on the GPU machine)")


def test_copy_loss_is_the_mean_over_the_masked_tokens_without_indexing():
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(3, 40, 30, generator=g, dtype=torch.float64, requires_grad=True)
    targets = torch.randint(0, 30, (3, 40), generator=g)
    mask = torch.rand(3, 40, generator=g) < 0.4
    loss = copy_loss(lambda _: logits, None, targets, mask)
    expected = F.cross_entropy(logits[mask], targets[mask])
    torch.testing.assert_close(loss, expected, rtol=1e-14, atol=0)
    torch.testing.assert_close(torch.autograd.grad(loss, logits)[0], torch.autograd.grad(expected, logits)[0],
                               rtol=1e-12, atol=1e-16)


def test_learning_rates_are_set_in_place_where_they_are_tensors():
    w = torch.nn.Parameter(torch.zeros(2))
    optimizer = torch.optim.AdamW([{"params": [w]}, {"params": [], "lr": 5.0}], lr=1.0)
    tensor = torch.tensor(1.0)
    optimizer.param_groups[0]["lr"] = tensor
    set_learning_rate(optimizer, 0.25)
    assert optimizer.param_groups[0]["lr"] is tensor and tensor.item() == 0.25  # the tensor a graph reads
    assert optimizer.param_groups[1]["lr"] == 0.25


def test_alibi_keeps_every_bias_it_built():
    attention = CausalSelfAttention(8, 2, "alibi")
    first = attention._alibi(5, torch.device("cpu"), torch.float32)
    attention._alibi(7, torch.device("cpu"), torch.float32)  # an evaluation length
    assert attention._alibi(5, torch.device("cpu"), torch.float32) is first  # still alive for a captured graph


def test_a_graphed_step_needs_cuda_inputs_and_a_positive_warmup():
    with pytest.raises(ValueError, match="positive integer"):
        GraphedStep(lambda: None, warmup=0)
    with pytest.raises(ValueError, match="CUDA tensor"):
        GraphedStep(lambda x: x)(torch.zeros(2))


def test_cuda_graphs_without_cuda_or_in_a_chapter_without_them_are_refused_before_any_work(tmp_path):
    session = open_chapter("vwave", preset="smoke", root=tmp_path, check=False)
    with pytest.raises(ConfigError, match="only experiments that offer it, on a CUDA device"):
        session.experiment("copy_curves", cuda_graph=True)
    with pytest.raises(ConfigError, match="only experiments that offer it"):
        open_chapter("twm_theory", preset="smoke", root=tmp_path, check=False).experiment(
            "gradient_sweep", cuda_graph=True)
    with pytest.raises(ValueError, match="needs a CUDA device"):
        train_copy(PRESETS["smoke"].spec("mamba"), PRESETS["smoke"].training(5), 0, torch.device("cpu"),
                   cuda_graph=True)
    assert not list(tmp_path.rglob("*.partial"))  # nothing started


class Stop(Exception):
    pass


class StopAt:
    """A checkpoint that keeps the state in memory and stops the run after saving at ``at``."""

    def __init__(self, at=None):
        self.state, self.at = None, at

    def load(self):
        return self.state

    def save(self, state):
        self.state = state
        if state["step"] == self.at:
            raise Stop


@pytest.fixture
def graphed_steps(monkeypatch):
    """Every GraphedStep the copy-LM trainer builds (to check that its steps did run as graph replays)."""
    import wavelib.training.copy_lm as copy_lm

    built = []

    class Recorded(GraphedStep):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            built.append(self)

    monkeypatch.setattr(copy_lm, "GraphedStep", Recorded)
    return built


@CUDA
@pytest.mark.parametrize("model", ["vwave-0.25", "alibi"])
def test_a_graphed_run_repeats_resumes_and_tracks_the_eager_one(model, graphed_steps):
    config = PRESETS["smoke"].replace(steps=30, eval_every=10)
    spec, training, device = config.spec(model), config.training(5), torch.device("cuda")
    _, graphed = train_copy(spec, training, 0, device, cuda_graph=True)
    _, again = train_copy(spec, training, 0, device, cuda_graph=True)
    checkpoint = StopAt(at=10)
    with pytest.raises(Stop):
        train_copy(spec, training, 0, device, checkpoint=checkpoint, checkpoint_every=10, cuda_graph=True)
    checkpoint.at = None
    _, resumed = train_copy(spec, training, 0, device, checkpoint=checkpoint, checkpoint_every=10, cuda_graph=True)
    assert len(graphed_steps) == 4 and all(step.graph is not None for step in graphed_steps)  # captured, replayed
    _, eager = train_copy(spec, training, 0, device)

    def same(a, b, err_msg):  # attention's backward may use atomics: not bit for bit even eagerly
        if model == "alibi":
            np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6, err_msg=err_msg)
        else:
            np.testing.assert_array_equal(a, b, err_msg=err_msg)

    for key, value in graphed.items():
        same(again[key], value, err_msg=key)
        same(resumed[key], value, err_msg=key)
    np.testing.assert_allclose(eager["train_loss"], graphed["train_loss"], rtol=1e-3, atol=1e-4)


@CUDA
def test_graphed_runs_trained_three_at_a_time_equal_one_at_a_time(tmp_path, graphed_steps):
    """Captures in three threads at once (thread-local capture mode), each beside the others' scoring."""
    models = ("mamba", "vwave-0.25", "rope")
    artifacts = {}
    for workers in (1, 3):
        session = open_chapter("vwave", preset="smoke", device="cuda", root=tmp_path / str(workers), check=False,
                               models=models, steps=30, eval_every=10)
        artifacts[workers] = session.experiment("copy_curves", workers=workers, cuda_graph=True)
    one, three = (np.load(artifacts[w].path / "history.npz") for w in (1, 3))
    assert artifacts[3].meta["cuda_graph"] is True and list(three.keys()) == list(one.keys())
    assert len(graphed_steps) == 2 * len(models) and all(step.graph is not None for step in graphed_steps)
    for key in one.keys():
        if "|rope|" not in key or np.issubdtype(one[key].dtype, np.integer):  # steps, examples and lengths too
            np.testing.assert_array_equal(three[key], one[key], err_msg=key)
        elif key.endswith("_loss"):  # attention's backward may use atomics: the same to rounding only
            np.testing.assert_allclose(three[key], one[key], rtol=1e-3, atol=1e-4, err_msg=key)
        else:  # accuracies: a string whose argmax ties may flip; 0.25 allows one flipped string per length of the
            # smoke set's five (4 strings each: 20 in all, 0.05 apiece)
            np.testing.assert_allclose(three[key], one[key], rtol=0, atol=0.25, err_msg=key)
