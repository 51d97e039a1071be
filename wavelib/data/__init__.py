"""Dataset loading (MNIST, CIFAR-10) with pinned hashes and offline fallbacks; nothing is downloaded at import."""
