"""PoolSpace's per-member caches answer as the underlying space does, and callers cannot
corrupt them."""

from __future__ import annotations

import numpy as np

from nas.searchers import PoolSpace
from tests.nas_tests.searchers_tests.test_conformance import small_space


def test_member_decisions_and_encodings_match_the_space_and_are_copies() -> None:
    space = small_space()
    members = list(dict.fromkeys(space.sample(i) for i in range(10)))
    pool = PoolSpace(space, members)
    for arch in members:
        taken = pool.decisions(arch)
        assert taken == space.decisions(arch)
        taken.clear()
        assert pool.decisions(arch) == space.decisions(arch)
        code = pool.encode(arch)
        np.testing.assert_array_equal(code, space.encode(arch))
        code[:] = -1.0
        np.testing.assert_array_equal(pool.encode(arch), space.encode(arch))
    outsider = next(a for a in (space.sample(100 + i) for i in range(50)) if a not in members)
    assert pool.decisions(outsider) == space.decisions(outsider)
