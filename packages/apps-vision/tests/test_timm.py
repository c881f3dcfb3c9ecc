"""timm models as backbones by name ("timm:<name>"), offline: body, split, stats, weights from a file, export."""

import pytest
import torch

pytest.importorskip("timm")

from apps_vision import backbone, create_body, num_features, vision_learner
from apps_vision.timm_backbones import timm_model
from trainloop_callbacks import load_learner

# small ones of three kinds: a CNN, a CNN with a different stem, a transformer (tokens: pooled as a 1x1 map)
NAMES = ["timm:resnet18", "timm:mobilenetv3_small_050", "timm:vit_tiny_patch16_224"]


@pytest.mark.parametrize("name", NAMES)
def test_timm_body_features_and_split(name):
    bb = backbone(name)
    assert bb.source == "timm" and bb.family == "timm"
    body = create_body(name, pretrained=False)
    size = max(64, bb.min_size)
    out = body.eval()(torch.zeros(2, 3, size, size))
    assert out.ndim == 4 and out.shape[0] == 2
    assert num_features(body, size=size) == out.shape[1] == timm_model(name).num_features
    groups = bb.split(body)
    ids = [id(p) for g in groups for p in g]
    assert len(groups) == 2 and all(groups)
    assert sorted(ids) == sorted(id(p) for p in body.parameters())  # every parameter exactly once


def test_timm_stats_come_from_the_pretrained_configuration():
    assert backbone("timm:vit_tiny_patch16_224").stats == ([0.5, 0.5, 0.5], [0.5, 0.5, 0.5])
    assert backbone("timm:vit_tiny_patch16_224").min_size == 224
    assert backbone("timm:resnet18").stats[0] == pytest.approx([0.485, 0.456, 0.406])


def test_unknown_timm_name_is_refused():
    with pytest.raises(ValueError, match="unknown timm model 'resnet_nope'"):
        backbone("timm:resnet_nope")


def test_pretrained_timm_reads_a_file_and_never_downloads(tmp_path, folder_data):
    with pytest.raises(FileNotFoundError, match=r"huggingface\.co/timm/resnet18"):
        create_body("timm:resnet18", pretrained=True)
    torch.manual_seed(1)
    ref = timm_model("timm:resnet18")
    state = {**ref.state_dict(), "fc.weight": torch.zeros(1000, 512), "fc.bias": torch.zeros(1000)}  # a classifier
    torch.save(state, tmp_path / "resnet18.pth")
    body = create_body("timm:resnet18", pretrained=True, weights=tmp_path / "resnet18.pth")
    assert torch.equal(body[0].model.conv1.weight, ref.conv1.weight)
    from apps_vision import ImageDataLoaders, Resize

    dls = ImageDataLoaders.from_folder(folder_data, item_tfms=Resize(32), bs=4)
    learn = vision_learner(dls, "timm:resnet18", weights=tmp_path / "resnet18.pth")
    assert torch.equal(learn.model[0][0].model.conv1.weight, ref.conv1.weight)
    body = learn.model[0][0].model
    assert not body.conv1.weight.requires_grad and not body.layer4[1].conv2.weight.requires_grad  # frozen body
    assert body.bn1.weight.requires_grad  # but its batch norms train (train_bn=True, as fastai)


def test_timm_learner_trains_exports_and_loads(tmp_path, folder_data):
    from apps_vision import ImageDataLoaders, Resize

    torch.manual_seed(0)
    dls = ImageDataLoaders.from_folder(folder_data, item_tfms=Resize(32), bs=4)
    learn = vision_learner(dls, "timm:mobilenetv3_small_050", pretrained=False)
    with learn.no_bar():
        learn.fit(1)
    file = learn.export(tmp_path / "timm.pth")
    loaded = load_learner(file)
    assert loaded.model.arch == "timm:mobilenetv3_small_050"
    x = torch.rand(2, 3, 32, 32)
    learn.model.eval(), loaded.model.eval()
    torch.testing.assert_close(loaded.model(x), learn.model.cpu()(x))
