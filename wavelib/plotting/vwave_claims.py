"""Chapter 5's closing table: the abstract's claims beside the measured values, from the texts of the chapter's
other text modules (the figures: :mod:`.vwave`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ..experiments.vwave import PRESETS, THRESHOLDS, VWaveConfig, run_key
from .vwave import TRANSFORMERS
from .vwave_generalisation_text import generalisation_verdict
from .vwave_numbers import any_seed_copies, examples_to_text, final_accuracies_text
from .vwave_speed_text import char_error_text, lower_error_text, speed_claim_text, worse_than_text
from .vwave_transformer_text import transformer_text, transformers_together_text


def claims_rows(config: VWaveConfig, lengths: Sequence[int], metrics: Mapping[str, Mapping],
                history: Mapping[str, np.ndarray], ablation_metrics: Mapping[str, Mapping] | None,
                missing: str) -> list[tuple[str, str, str]]:
    """The chapter's closing table, (claim, abstract, measured) per row: learning speed in training loss and in
    string accuracy, final error, the transformer comparison and length generalisation per maximum length on the
    page (``lengths``; a length of ``config`` not on it says ``missing``), the v = 1 construction check, and each
    ablation (``ablation_metrics`` None: not computed). ``metrics``/``history``: the copy-curve artifacts, merged."""
    def each(measure: Any, names: Sequence[str], length: int) -> str:
        return "; ".join(f"{m} {measure(metrics, m, length)}" for m in names)

    rows = []
    waves = [m for m in config.models if config.spec(m).mixer == "vwave" and not config.spec(m).learn_v]  # fixed v
    transformers = [t for t in TRANSFORMERS if t in config.models]
    paper_longest = max(PRESETS["paper"].lengths)
    for length in config.lengths:
        if length not in lengths:
            rows.append((f"strings ≤ {length}: v-Wave Mamba learns copy faster than Mamba, on par with transformers "
                         f"(experiment `{'copy_curves' if length == config.lengths[0] else 'copy_curves_long'}`)",
                         "Fig. 2", missing))
            continue
        if "mamba" in config.models and waves:
            rows.append((f"v-Wave Mamba learns copy (length ≤ {length}) exponentially faster than Mamba",
                         "Fig. 2 (training loss) and text",
                         "Training loss, as in Fig. 2 (this page's curves: §5.2). "
                         + speed_claim_text(history, "mamba", waves, length, config.n_seeds, config.eval_every,
                                            measure="train_loss")))
            rows.append((f"the same claim in string accuracy, the measure of Jelassi et al. (length ≤ {length})",
                         "not in the abstract, which shows the loss",
                         speed_claim_text(history, "mamba", waves, length, config.n_seeds, config.eval_every)))
            if length >= paper_longest:
                scope = (f"the abstract names no \"large-scale memory-dependent task\"; strings ≤ {length} are the "
                         "longest in its text and Fig. 2")
            else:
                longer = [n for n in config.lengths if n > length]
                scope = (f"the abstract ties \"significantly lower error rates\" to large-scale tasks; this row "
                         f"tests it at strings ≤ {length} only; " + (
                             f"strings ≤ {', '.join(map(str, longer))}: "
                             + ("the rows below" if all(n in lengths for n in longer) else missing) if longer
                             else f"this preset has no longer strings, the `paper` preset's go to {paper_longest}"))
            rows.append((f"v-Wave Mamba reaches a lower error than Mamba (length ≤ {length})",
                         "text only (\"significantly lower error rates\", on large-scale tasks)",
                         lower_error_text(metrics, "mamba", waves, length) + f"; {scope}. Final string accuracy, all "
                         f"lengths / at {length} (means over seeds): "
                         f"{each(final_accuracies_text, ['mamba', *waves], length)}"
                         + worse_than_text(metrics, "mamba", waves, length) + ". "
                         + char_error_text(history, "mamba", waves, length, config.n_seeds)))
        if any_seed_copies(metrics, waves, length):
            rank, chosen_by = "string_accuracy_mean", "final string accuracy"
        else:
            rank, chosen_by = "char_accuracy_mean", ("final character accuracy, as no seed of any v reaches "
                                                     f"{THRESHOLDS[0]:.0%} string accuracy")
        best = max(waves, key=lambda m: metrics[run_key(length, m)][rank]) if waves else None
        positions = {}
        for t in transformers:
            if best:
                text, positions[t] = transformer_text(history, metrics, best, t, length, config.n_seeds, chosen_by)
                if len(positions) == len(transformers) > 1:
                    text += ". " + transformers_together_text(positions)
                rows.append((f"v-Wave Mamba on par with the {t} transformer (length ≤ {length})",
                             "Fig. 2 and text: on par", text))
        if waves and transformers:
            rows.append((f"length generalisation beyond the training length (length ≤ {length}): v-Wave Mamba as "
                         "far as the transformers",
                         "not in the abstract, whose text cites Jelassi et al. only for transformers that "
                         "\"generalize to significantly longer sequences than comparable SSMs\"",
                         generalisation_verdict(history, waves, transformers, length, config.n_seeds)))
    rows.append(("SSMs contain a v = 1 traveling wave: the shift SSM of the H3 block, which most SSMs can be seen "
                 "to build on",
                 "text; Fig. 1a: waves in \"the hidden state of the Shift-SSM of Mamba\" (left) and of v-Wave Mamba "
                 "(right); it says neither which part of Mamba that is nor whether the models were trained",
                 "this book reads Mamba's short conv as that shift SSM (the author's 2025 blog post, not the abstract)"
                 " and checks its own construction, not Fig. 1a: the v = 1 mixer equals conv1d with the same weights "
                 "(§5.1)" + ("; the states of this page's trained models are in §5.3" if config.lengths[0] in lengths
                             else "")))
    if ablation_metrics is None:
        rows.append(("experiment `ablations` (not in the abstract)", "—", missing))
        return rows
    length = config.lengths[0]
    for m in config.ablation_models:
        rows.append((f"ablation {m} (not in the abstract)", "—",
                     f"final string accuracy, all lengths / at {length}: "
                     f"{final_accuracies_text(ablation_metrics, m, length)}; examples to 90%: "
                     f"{examples_to_text(ablation_metrics, m, length)}"))
    return rows
