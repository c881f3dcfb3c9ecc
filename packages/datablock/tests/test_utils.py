"""listify: one thing or several, as a list."""

import torch

from datablock import listify
from dispatch_transforms import Pipeline


def test_listify_unpacks_lists_and_tuples_only():
    assert listify(None) == []
    assert listify([1, 2]) == [1, 2] and listify((1, 2)) == [1, 2]
    assert listify(3) == [3] and listify("ab") == ["ab"]
    t, pipe = torch.zeros(2), Pipeline([])
    assert listify(t)[0] is t and listify(pipe)[0] is pipe  # iterables other than list/tuple are one element
    src = [1]
    assert listify(src) is not src  # a new list: appending to it leaves the argument alone
