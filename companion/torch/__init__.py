"""The course's components written from PyTorch primitives, mirroring ``companion.numpy``."""
