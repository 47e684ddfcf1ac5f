"""Triton helpers shared by the attention kernels (imported only on a Triton path)."""
