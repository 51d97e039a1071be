"""The optimizer step every training loop of the book takes."""

from __future__ import annotations

import torch


def optimizer_step(model: torch.nn.Module, optimizer: torch.optim.Optimizer, loss: torch.Tensor,
                   clip: float) -> None:
    """Backpropagate ``loss``, clip the total gradient norm of ``model`` at ``clip`` (0: no clipping), step."""
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    if clip > 0:
        torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
    optimizer.step()
