"""The kernel-call vocabulary both the trace and the profiler must speak."""

# The op vocabulary and shape keys of docs/interfaces.md §2.
TRACE_OPS = {
    "linear": {"m", "k", "n"},
    "matmul": {"b", "m", "k", "n"},
    "embedding": {"tokens", "width"},
    "softmax": {"rows", "cols"},
    "layernorm": {"rows", "cols"},
    "rmsnorm": {"rows", "cols"},
    "gelu": {"numel"},
    "relu": {"numel"},
    "quad": {"numel"},
    "silu": {"numel"},
    "mul": {"numel"},
    "add": {"numel"},
    "fft": {"b", "seq", "width"},
    "dct": {"b", "seq", "width"},
    "conv1d": {"b", "channels", "seq", "kernel"},
    "pool": {"b", "seq", "width", "kernel"},
    "cumsum": {"b", "seq", "width"},
    "scan": {"b", "seq", "width", "state"},
    "attention": {"kind", "b", "h", "s", "d", "causal", "window"},
}
