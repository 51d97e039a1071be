"""Images as sequences: sMNIST, psMNIST and noise-padded sequential CIFAR-10 (nsCIFAR10), Wave-RNN paper.

All outputs are batch-first float32 ``(B, L, features)``; the label is predicted from the last step.

- sMNIST: the 784 pixels in row-major order (row 0 left to right, then row 1, ...), one per step,
  scaled to [0, 1] by ``x / 255`` with no normalisation: ``(B, 784, 1)``
  (:func:`~wavelib.training.image_rnn.mnist_sequence`, which can also average-pool the image first).
- psMNIST: the same pixels in a fixed random order: step ``t`` holds flat pixel ``perm[t]``, with
  ``perm = pixel_order(1, seed)`` (:func:`~wavelib.training.image_rnn.pixel_order`: ``torch.randperm(784)`` from
  ``torch.Generator().manual_seed(seed)``). The paper's code forgot to seed it; the caller stores the seed (or
  the permutation) with the run.
- nsCIFAR10: step ``r`` (0..31) is image row ``r`` flattened channel-major, 96 inputs:
  ``x[b, r, c*32 + w] = image[b, c, r, w] / 255`` for colour ``c`` in (R, G, B) and column ``w``; i.e. the
  32 red values of the row, then the 32 green, then the 32 blue (the layout of ``(3, 32, 32)`` images
  with the row axis moved first). Steps 32..999 (968 of them) are noise, 96 values each.

  Noise distribution: the paper says only "random noise", and the reference notes (NOTES §2) only that
  the code draws it once and reuses it. The public code (``noisy_CIFAR10/noisy_cifar10_task.py`` of
  github.com/akandykeller/Wave_RNNs, as in the coRNN repository github.com/tk-rusch/coRNN it is built on,
  Appendix B) draws ``torch.randn(1, 968, 96)``: i.i.d. ``N(0, 1)``, once, repeated for every sample; its
  pixels come from ``transforms.ToTensor()``, i.e. [0, 1] with no normalisation; its ``utils.py`` splits the
  training set 47k/3k (``random_split(train, [47000, 3000])``); it divides the learning rate by 10 every
  100 epochs (the paper states this too). Here: ``N(0, noise_std**2)`` with ``noise_std = 1`` and pixels in
  [0, 1], as that code. ``noise="fresh"`` (default, what the paper implies) draws new noise for every
  sample from the given generator; ``noise="fixed"`` reproduces the code's behaviour of one noise block
  drawn once and reused for every sample, here drawn from ``torch.Generator().manual_seed(noise_seed)``.
"""

from __future__ import annotations

import numpy as np
import torch

MNIST_SIDE = 28
CIFAR_SIDE = 32
CIFAR_CHANNELS = 3
CIFAR_ROW_FEATURES = CIFAR_CHANNELS * CIFAR_SIDE
"""96 inputs per nsCIFAR10 step: channel-major ``c * 32 + w``."""
NSCIFAR_LENGTH = 1000
NSCIFAR_NOISE_STEPS = NSCIFAR_LENGTH - CIFAR_SIDE
"""968 noise steps after the 32 image rows."""
NOISE_MODES = ("fresh", "fixed")


def as_uint8_images(images: np.ndarray | torch.Tensor, shape_tail: tuple[int, ...], what: str) -> torch.Tensor:
    """uint8 ``images`` (numpy or torch) as a tensor of shape ``(B, *shape_tail)``; ValueError naming ``what``
    otherwise."""
    t = torch.from_numpy(np.ascontiguousarray(images)) if isinstance(images, np.ndarray) else images
    if not isinstance(t, torch.Tensor) or t.dtype != torch.uint8:
        raise ValueError(f"{what}: expected uint8 images (numpy or torch), got {getattr(t, 'dtype', type(t))}")
    if t.dim() != 1 + len(shape_tail) or tuple(t.shape[1:]) != shape_tail:
        tail = ", ".join(map(str, shape_tail))
        raise ValueError(f"{what}: expected images of shape (B, {tail}), got {tuple(t.shape)}")
    return t


def cifar_rows(images: np.ndarray | torch.Tensor, device: torch.device | str | None = None) -> torch.Tensor:
    """The 32 image rows ``(B, 32, 96)`` float32 in [0, 1]: ``x[b, r, c*32 + w] = image[b, c, r, w] / 255``."""
    t = as_uint8_images(images, (CIFAR_CHANNELS, CIFAR_SIDE, CIFAR_SIDE), "cifar_rows")
    t = t.to(device).permute(0, 2, 1, 3).reshape(t.shape[0], CIFAR_SIDE, CIFAR_ROW_FEATURES)
    return t.float() / 255.0


def fixed_noise(noise_seed: int = 0, noise_std: float = 1.0,
                device: torch.device | str | None = None) -> torch.Tensor:
    """The ``noise="fixed"`` block ``(968, 96)``: ``noise_std * randn`` from
    ``torch.Generator().manual_seed(noise_seed)``."""
    if isinstance(noise_seed, bool) or not isinstance(noise_seed, int):
        raise ValueError(f"noise_seed must be an int, got {noise_seed!r}")
    g = torch.Generator().manual_seed(noise_seed)
    return (noise_std * torch.randn(NSCIFAR_NOISE_STEPS, CIFAR_ROW_FEATURES, generator=g)).to(device)


def nscifar_inputs(images: np.ndarray | torch.Tensor, noise: str = "fresh", generator: torch.Generator | None = None,
                   noise_seed: int = 0, noise_std: float = 1.0,
                   device: torch.device | str | None = None) -> torch.Tensor:
    """nsCIFAR10 inputs ``(B, 1000, 96)`` from uint8 images ``(B, 3, 32, 32)`` (R, G, B).

    Steps 0..31 are :func:`cifar_rows`; steps 32..999 are Gaussian noise with standard deviation
    ``noise_std``: with ``noise="fresh"`` drawn per sample from ``generator`` (required; drawn on its
    device, then moved), with ``noise="fixed"`` the same :func:`fixed_noise` block for every sample.
    """
    if noise not in NOISE_MODES:
        raise ValueError(f"noise must be 'fresh' or 'fixed', got {noise!r}")
    if not noise_std >= 0:
        raise ValueError(f"noise_std must be >= 0, got {noise_std}")
    rows = cifar_rows(images, device)
    batch = rows.shape[0]
    if noise == "fresh":
        if generator is None:
            raise ValueError("noise='fresh' needs a torch.Generator (generator=...)")
        pad = noise_std * torch.randn(batch, NSCIFAR_NOISE_STEPS, CIFAR_ROW_FEATURES, generator=generator,
                                      device=generator.device)
        pad = pad.to(rows.device)
    else:
        pad = fixed_noise(noise_seed, noise_std, rows.device).expand(batch, -1, -1)
    return torch.cat([rows, pad], dim=1)
