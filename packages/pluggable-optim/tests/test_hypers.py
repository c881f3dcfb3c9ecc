import math

import pytest

from pluggable_optim import spread_slice


def test_spread_slice_geometric():
    out = spread_slice(slice(1e-4, 1e-2), 3)
    assert all(math.isclose(a, b) for a, b in zip(out, [1e-4, 1e-3, 1e-2], strict=True))


def test_spread_slice_stop_only_and_single_group():
    assert spread_slice(slice(1e-2), 3) == [1e-3, 1e-3, 1e-2]
    assert spread_slice(slice(1e-4, 1e-2), 1) == [1e-2]


def test_spread_slice_rejects_no_groups():
    with pytest.raises(ValueError, match="n_groups=0"):
        spread_slice(slice(1e-2), 0)
