"""One module per schema revision, oldest first: v0_1_0_a, v0_1_0_b, ..."""
