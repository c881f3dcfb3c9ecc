import json

import pytest
import torch
from torch import nn

from apps_tabular import TabularModel, emb_sz_rule, get_emb_sz, tabular_config
from trainloop_callbacks.layers import LinBnDrop, SigmoidRange


def test_emb_sz_rule_is_reexported_fastai_rule():
    assert emb_sz_rule(10) == min(600, round(1.6 * 10**0.56))
    assert emb_sz_rule(10**9) == 600


def test_structure_matches_fastai():
    m = TabularModel([(5, 3), (10, 6)], n_cont=4, out_sz=2, layers=[20, 10], ps=[0.1, 0.2], embed_p=0.05)
    assert [e.weight.shape for e in m.embeds] == [(5, 3), (10, 6)]
    assert m.n_emb == 9 and isinstance(m.bn_cont, nn.BatchNorm1d)
    blocks = list(m.layers)
    assert all(isinstance(b, LinBnDrop) for b in blocks) and len(blocks) == 3
    # lin_first (fastai's TabularModel default): Linear, act, then BatchNorm, Dropout
    first = list(blocks[0])
    assert isinstance(first[0], nn.Linear) and first[0].in_features == 13 and first[0].out_features == 20
    assert isinstance(first[1], nn.ReLU) and isinstance(first[2], nn.BatchNorm1d) and first[3].p == 0.1
    last = list(blocks[-1])
    assert len(last) == 1 and isinstance(last[0], nn.Linear) and last[0].out_features == 2  # no bn, no act
    assert m.embeds[0].weight.abs().max() <= 0.02 + 1e-6  # truncated normal, std 0.01


def test_forward_shapes_y_range_and_no_cont():
    m = TabularModel([(5, 3)], n_cont=2, out_sz=1, layers=[8], y_range=(0.0, 5.0)).eval()
    assert isinstance(list(m.layers)[-1], SigmoidRange)
    out = m(torch.randint(0, 5, (7, 1)), torch.randn(7, 2) * 100)
    assert out.shape == (7, 1) and out.min() >= 0 and out.max() <= 5
    cats_only = TabularModel([(5, 3), (4, 2)], n_cont=0, out_sz=3, layers=[8]).eval()
    assert cats_only(torch.randint(0, 4, (6, 2))).shape == (6, 3)
    conts_only = TabularModel([], n_cont=3, out_sz=2, layers=[8]).eval()
    assert conts_only(torch.zeros(6, 0, dtype=torch.long), torch.randn(6, 3)).shape == (6, 2)


def test_config_round_trip_gives_same_outputs():
    cfg_kw = tabular_config(ps=0.1, embed_p=0.1, y_range=(-1, 1), act_cls=nn.LeakyReLU(0.2))
    m = TabularModel([(5, 3)], n_cont=2, out_sz=2, layers=[8, 4], **cfg_kw).eval()
    cfg = json.loads(json.dumps(m.to_config()))
    again = TabularModel.from_config(cfg)
    again.load_state_dict(m.state_dict())
    again.eval()
    x = (torch.randint(0, 5, (9, 1)), torch.randn(9, 2))
    assert torch.equal(m(*x), again(*x))
    assert isinstance(list(again.layers[0])[1], nn.LeakyReLU) and list(again.layers[0])[1].negative_slope == 0.2


def test_bad_arguments():
    with pytest.raises(ValueError, match="ps"):
        TabularModel([(5, 3)], 1, 1, layers=[4, 4], ps=[0.1])
    with pytest.raises(ValueError, match="no input"):
        TabularModel([], 0, 1, layers=[4])


def test_get_emb_sz_from_tabular():
    import pandas as pd

    from apps_tabular import Categorify, TabularPandas

    df = pd.DataFrame({"a": list("xyzxyz"), "b": [1.0] * 6, "y": [0.5] * 6})
    to = TabularPandas(df, [Categorify], "a", "b", "y", splits=(range(6), []))
    assert get_emb_sz(to) == [(4, emb_sz_rule(4))]
    assert get_emb_sz(to, {"a": 10}) == [(4, 10)]
    with pytest.raises(KeyError, match="nope"):
        get_emb_sz(to, {"nope": 3})
