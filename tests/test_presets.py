import numpy as np
import pytest
import torch

from wavelib.chapters import CHAPTERS, get_chapter, open_chapter
from wavelib.devices import resolve_device
from wavelib.presets import PRESETS, ConfigError, resolve_preset


def test_explicit_preset_wins_over_environment(monkeypatch):
    monkeypatch.setenv("WAVELIB_PRESET", "paper")
    assert resolve_preset("smoke") == "smoke"
    assert resolve_preset(None) == "paper"


def test_default_preset_is_cpu(monkeypatch):
    monkeypatch.delenv("WAVELIB_PRESET", raising=False)
    assert resolve_preset(None) == "cpu"


def test_unknown_preset_lists_valid_ones(monkeypatch):
    with pytest.raises(ConfigError, match="valid presets: smoke, cpu, paper"):
        resolve_preset("huge")
    monkeypatch.setenv("WAVELIB_PRESET", "huge")
    with pytest.raises(ConfigError, match=r"from \$WAVELIB_PRESET"):
        resolve_preset(None)


def test_unknown_chapter_lists_valid_ones():
    with pytest.raises(ConfigError, match="valid chapters: twm_theory"):
        get_chapter("chapter_one")


def test_unknown_knob_lists_valid_ones():
    with pytest.raises(ConfigError, match=r"unknown knob\(s\) widht.*valid knobs: s_max, d, hidden"):
        open_chapter("twm_theory", preset="smoke", widht=3)


@pytest.mark.parametrize("bad, match", [
    ({"s_max": -4}, "s_max must be positive"), ({"s_max": 1}, "s_max must be >= 2"), ({"n_samples": 0}, "n_samples"),
    ({"amplitudes": (0.05, -0.1)}, r"amplitudes\[1\]"), ({"amplitudes": ()}, "at least one input amplitude"),
    ({"amplitudes": 0.05}, "takes a value like"), ({"hidden": 3}, r"hidden \(3\)")])
def test_bad_values_are_refused_before_work(bad, match):
    with pytest.raises(ConfigError, match=match):
        open_chapter("twm_theory", preset="smoke", **bad)


@pytest.mark.parametrize("bad, match", [({"tasks": ()}, "at least one value"), ({"hiddens": ()}, "at least one value"),
                                        ({"l2s": ()}, "at least one value"), ({"l2s": (0.0, -0.5)}, "l2s must be"),
                                        ({"hiddens": (8, 0)}, "hiddens must be"), ({"grad_every": -1}, "grad_every"),
                                        ({"tasks": ("sort",)}, "unknown task 'sort'"),
                                        ({"curriculum": "fast"}, "unknown curriculum 'fast'")])
def test_bad_spectrum_knobs_are_refused_before_work(bad, match):
    """Chapter 2's own checks: an empty grid axis, a negative weight decay (it would train with it), ..."""
    with pytest.raises(ConfigError, match=match):
        open_chapter("spectrum", preset="smoke", **bad)


def test_override_changes_only_that_knob():
    session = open_chapter("twm_theory", preset="smoke", n_networks=3)
    base = get_chapter("twm_theory").config("smoke")
    assert session.config.n_networks == 3
    assert session.config.replace(n_networks=base.n_networks) == base


def test_tuple_knobs_take_lists_and_refuse_other_types():
    chapter = get_chapter("wave_rnn_images")
    config = chapter.config("smoke", size_wrnn=[[4, 2], [8, 2]], size_irnn=[4, 8])  # as from JSON or papermill
    assert config.size_wrnn == ((4, 2), (8, 2)) and config.size_irnn == (4, 8)
    assert config == chapter.config("smoke", size_wrnn=((4, 2), (8, 2)), size_irnn=(4, 8))
    with pytest.raises(ConfigError, match=r"knob size_irnn takes a value like \(4, 8\) \(tuple\[int, ...\]\), "
                                          r"got '\(4, 8\)'"):
        chapter.config("smoke", size_irnn="(4, 8)")
    with pytest.raises(ConfigError, match="knob size_wrnn takes a value like"):
        chapter.config("smoke", size_wrnn=[[4, 2, 3]])


@pytest.mark.parametrize("knob, value", [("s_max", "abc"), ("s_max", 2.5), ("s_max", True), ("amplitudes", ("a",))])
def test_a_knob_of_the_wrong_type_is_refused_with_its_type(knob, value):
    """`--set s_max=abc` once gave a TypeError traceback, and `s_max=2.5` passed validation and failed later."""
    with pytest.raises(ConfigError, match=f"knob {knob} takes a value like"):
        get_chapter("twm_theory").config("smoke", **{knob: value})


def test_an_int_for_a_float_knob_is_the_same_config():
    chapter = get_chapter("wave_rnn_tasks")
    one, one_point_o = chapter.config("smoke", lr=1, clip=0), chapter.config("smoke", lr=1.0, clip=0.0)
    assert one == one_point_o and one.to_dict() == one_point_o.to_dict() and isinstance(one.lr, float)
    assert chapter.config("smoke", lr=None, clip=None, copy_T=(0,), adding_T=(100,), ablation_T=(0,),
                          figure_T=0).lr is None


def test_transformer_sizes_are_refused_at_configuration():
    with pytest.raises(ConfigError, match="head_dim=4, fraction=0.25 gives none"):
        open_chapter("vwave", preset="smoke", d_model=16, n_heads=4, check=False)
    with pytest.raises(ConfigError, match=r"rope fraction must be in \(0, 1\], got 1.5"):
        open_chapter("vwave", preset="smoke", rope_fraction=1.5, check=False)


def test_the_rope_fraction_knob_reaches_the_rope_model_alone():
    """`--set rope_fraction=...` (the check Ch. 5 suggests for RoPE trailing ALiBi) builds the RoPE transformer
    with it; ALiBi and Mamba do not depend on it."""
    config = open_chapter("vwave", preset="cpu", rope_fraction=1.0, check=False).config
    assert config.spec("rope").rope_fraction == 1.0
    assert config.spec("alibi") == open_chapter("vwave", preset="cpu", check=False).config.spec("alibi")
    model = config.spec("rope").build(30)
    assert {block.attn.rope_fraction for block in model.blocks} == {1.0}


def test_every_chapter_has_every_preset_and_smoke_is_smallest():
    for chapter in CHAPTERS.values():
        assert set(chapter.presets) == set(PRESETS)
        smoke, cpu = chapter.presets["smoke"].to_dict(), chapter.presets["cpu"].to_dict()
        for knob, value in smoke.items():
            if isinstance(value, int) and not isinstance(value, bool):
                assert value <= cpu[knob], (chapter.name, knob)


def test_bad_seed_and_device_are_refused():
    with pytest.raises(ConfigError, match="seed"):
        open_chapter("twm_theory", preset="smoke", seed=-1)
    with pytest.raises(ConfigError, match="unknown device"):
        open_chapter("twm_theory", preset="smoke", device="tpu:7")
    with pytest.raises(ConfigError, match="one CPU device"):
        open_chapter("twm_theory", preset="smoke", device="cpu:1")
    assert resolve_device("cpu:0") == torch.device("cpu")  # recorded as "cpu", as plain "cpu" is
    with pytest.raises(ConfigError, match="no device named"):
        open_chapter("twm_theory", preset="smoke", device="")
    with pytest.raises(ConfigError, match="seed"):
        open_chapter("twm_theory", preset="smoke", seed=True)  # would hash as another seed than 1
    assert open_chapter("twm_theory", preset="smoke", seed=np.int64(2)).seed == 2


def test_devices_that_are_not_there_are_refused(monkeypatch):
    """Every branch of resolve_device that refuses a device, a GPU machine's included (its CUDA faked here)."""
    with pytest.raises(ConfigError, match="unsupported device 'meta'"):
        resolve_device("meta")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ConfigError, match="no CUDA GPU visible"):
        resolve_device("cuda")
    assert resolve_device("auto") == torch.device("cpu")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    assert resolve_device("cuda:1") == torch.device("cuda:1") and resolve_device("auto") == torch.device("cuda")
    with pytest.raises(ConfigError, match=r"'cuda:2' asked for, but only 2 CUDA device\(s\) exist"):
        resolve_device("cuda:2")


def test_knobs_must_be_finite_and_numpy_numbers_are_numbers():
    """NaN slips past range checks (NaN < 0 is False) and inf is no setting: refused by name; numpy scalars (a
    value computed with numpy) count as the Python numbers they are."""
    for knobs in ({"l2s": (float("nan"),)}, {"lr": float("inf")}, {"steps": 300, "l2s": (0.0, -float("inf"))}):
        chapter = "vwave" if "lr" in knobs else "spectrum"
        with pytest.raises(ConfigError, match="must be a finite number"):
            open_chapter(chapter, preset="smoke", **knobs)
    session = open_chapter("spectrum", preset="smoke", steps=np.int64(200), l2s=(np.float64(0.001),))
    assert session.config.steps == 200 and type(session.config.steps) is int
    assert session.config.l2s == (0.001,) and type(session.config.l2s[0]) is float


def test_training_protocol_checks_run_before_any_work():
    """Knobs checked only by a trainer's own spec are checked when the config is made (a traceback after training
    started before)."""
    with pytest.raises(ConfigError, match="code_threshold"):
        open_chapter("spectrum", preset="smoke", code_threshold=2.0)
