import warnings

import numpy as np
import pytest
import torch
import torchvision
from PIL import Image
from torch import nn

from apps_vision import (
    DynamicUnet,
    ImageDataLoaders,
    Resize,
    SegmentationDataLoaders,
    VisionLearner,
    VisionModel,
    XResNet,
    create_body,
    create_head,
    get_image_files,
    unet_learner,
    vision_learner,
    weights_path,
    xresnet18,
)
from datablock import Normalize
from trainloop_callbacks import BCEWithLogitsLossFlat, Callback, CancelFitException, CrossEntropyLossFlat, MSELossFlat
from trainloop_callbacks.layers import AdaptiveConcatPool2d, Flatten, LinBnDrop


class _StopAtStart(Callback):
    def before_fit(self):
        raise CancelFitException()


def test_create_head_is_fastais():
    head = create_head(512, 10)
    kinds = [type(m) for m in head]
    assert kinds == [AdaptiveConcatPool2d, Flatten, LinBnDrop, LinBnDrop]
    first, last = head[2], head[3]
    assert isinstance(first[0], nn.BatchNorm1d) and first[0].num_features == 1024  # concat pool doubles
    assert first[1].p == 0.25 and isinstance(first[2], nn.Linear) and first[2].out_features == 512
    assert isinstance(first[3], nn.ReLU)
    assert last[1].p == 0.5 and last[2].out_features == 10 and len(last) == 3  # no activation at the end
    assert head.eval()(torch.randn(2, 512, 3, 3)).shape == (2, 10)
    plain = create_head(64, 3, lin_ftrs=[], concat_pool=False, first_bn=False, y_range=(0, 5))
    with torch.no_grad():
        out = plain.eval()(torch.randn(4, 64, 2, 2))
    assert out.shape == (4, 3) and float(out.min()) >= 0 and float(out.max()) <= 5


def test_vision_learner_from_scratch(folder_data):
    dls = ImageDataLoaders.from_folder(folder_data, item_tfms=Resize(32), bs=4)
    learn = vision_learner(dls, torchvision.models.resnet18, pretrained=False)
    assert isinstance(learn, VisionLearner) and isinstance(learn.model, VisionModel)
    assert learn.model[1][-1][-1].out_features == 2  # n_out from dls.c
    assert isinstance(learn.loss_func, CrossEntropyLossFlat)
    groups = learn.splitter(learn.model)
    assert len(groups) == 3 and sum(len(g) for g in groups) == len(list(learn.model.parameters()))
    assert all(p.requires_grad for p in learn.model.parameters())  # nothing frozen without pretrained weights
    assert not any(isinstance(t, Normalize) for t in dls.train.after_batch.fs)  # fastai: only with weights
    with learn.no_bar():
        learn.fit_one_cycle(1, 1e-3)
    assert len(learn.opt.param_groups) == 3
    with pytest.warns(UserWarning, match="randomly initialised body"), learn.no_bar():
        learn.fine_tune(1, cbs=_StopAtStart())  # the warning comes before any training


def test_vision_learner_pretrained_freezes_and_normalizes(folder_data, tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    file = weights_path("resnet18")
    file.parent.mkdir(parents=True)
    torch.manual_seed(1)
    saved = torchvision.models.resnet18().state_dict()
    torch.save(saved, file)
    dls = ImageDataLoaders.from_folder(folder_data, item_tfms=Resize(32), bs=4)
    learn = vision_learner(dls, "resnet18")  # pretrained=True by default, as fastai
    assert torch.equal(learn.model[0][0].weight, saved["conv1.weight"])
    norms = [t for t in dls.train.after_batch.fs if isinstance(t, Normalize)]
    assert len(norms) == 1 and norms[0].mean == pytest.approx([0.485, 0.456, 0.406])
    assert any(isinstance(t, Normalize) for t in dls.valid.after_batch.fs)
    body_convs = [p for n, p in learn.model[0].named_parameters() if p.ndim == 4]
    assert body_convs and not any(p.requires_grad for p in body_convs)  # body frozen
    assert all(p.requires_grad for p in learn.model[1].parameters())  # head trains
    bn = [m for m in learn.model[0].modules() if isinstance(m, nn.BatchNorm2d)]
    assert all(m.weight.requires_grad for m in bn)  # train_bn: batch norm stays trainable (fastai)
    before = learn.model[0][0].weight.clone()
    with learn.no_bar():
        learn.fit(1, 1e-2)
    assert torch.equal(learn.model[0][0].weight, before)
    learn2 = vision_learner(dls, "resnet18")
    assert sum(isinstance(t, Normalize) for t in dls.train.after_batch.fs) == 1  # not added twice
    learn2.unfreeze()
    assert all(p.requires_grad for p in learn2.model.parameters())


def test_losses_follow_the_targets(folder_data):
    fnames = get_image_files(folder_data)
    multi = ImageDataLoaders.from_lists(folder_data, fnames, [["a", "b"]] * 16, item_tfms=Resize(32), bs=4)
    assert isinstance(vision_learner(multi, "resnet18", pretrained=False).loss_func, BCEWithLogitsLossFlat)
    reg = ImageDataLoaders.from_lists(folder_data, fnames, [float(i) for i in range(16)], item_tfms=Resize(32), bs=4)
    learn = vision_learner(reg, "resnet18", pretrained=False, n_out=1, y_range=(0, 16))
    assert isinstance(learn.loss_func, MSELossFlat)
    assert learn.model.eval()(torch.rand(2, 3, 32, 32)).max() <= 16


def test_vision_model_config_round_trip():
    model = VisionModel("resnet18", 5, n_in=1, lin_ftrs=[32], ps=0.1, y_range=(-1, 1)).eval()
    cfg = model.to_config()
    assert cfg["arch"] == "resnet18" and cfg["n_out"] == 5 and cfg["lin_ftrs"] == [32]
    back = VisionModel.from_config(cfg).eval()
    back.load_state_dict(model.state_dict())
    x = torch.rand(2, 1, 32, 32)
    assert torch.allclose(back(x), model(x))
    with pytest.raises(ValueError, match="custom head"):
        VisionModel("resnet18", 2, custom_head=nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten())).to_config()


def test_xresnet_bag_of_tricks():
    m = xresnet18(n_out=7)
    assert isinstance(m, XResNet) and m.eval()(torch.rand(2, 3, 32, 32)).shape == (2, 7)
    assert [m[i][0].kernel_size for i in range(3)] == [(3, 3)] * 3  # stem of three 3x3 convs
    blocks = [b for b in m.modules() if type(b).__name__ == "ResBlock"]
    assert len(blocks) == 8
    for blk in blocks:  # the last norm of each residual branch starts at zero: the block starts as its shortcut
        last_bn = [x for x in blk.convpath.modules() if isinstance(x, nn.BatchNorm2d)][-1]
        assert torch.count_nonzero(last_bn.weight) == 0
    stage2_first = m[5][0]
    pools = [mod for mod in stage2_first.modules() if isinstance(mod, nn.AvgPool2d)]
    assert pools, "downsampling shortcut average-pools (ResNet-D)"
    back = XResNet.from_config(m.to_config())
    assert sum(p.numel() for p in back.parameters()) == sum(p.numel() for p in m.parameters())
    body = create_body("xresnet18", pretrained=False)
    assert body.eval()(torch.rand(1, 3, 32, 32)).shape == (1, 512, 1, 1)
    with pytest.raises(ValueError, match="no pretrained weights"):
        create_body("xresnet18", pretrained=True)


@pytest.mark.parametrize("size", [(32, 32), (32, 48)])
def test_dynamic_unet_shapes_and_config(size):
    torch.manual_seed(0)
    body = create_body("resnet18", pretrained=False)
    unet = DynamicUnet(body, 3, size).eval()
    x = torch.rand(2, 3, *size)
    assert unet(x).shape == (2, 3, *size)
    unet.arch_config = {"arch": "resnet18", "n_in": 3, "cut": None}
    back = DynamicUnet.from_config(unet.to_config()).eval()
    back.load_state_dict(unet.state_dict())
    assert torch.allclose(back(x), unet(x), atol=1e-6)


def test_unet_learner_on_masks(tmp_path):
    rng = np.random.default_rng(0)
    fnames = []
    for i in range(8):
        Image.fromarray(rng.integers(0, 255, (32, 32, 3), dtype=np.uint8)).save(tmp_path / f"{i}.png")
        mask = np.zeros((32, 32), np.uint8)
        mask[4:20, 6:18] = 1
        Image.fromarray(mask).save(tmp_path / f"{i}_m.png")
        fnames.append(tmp_path / f"{i}.png")
    dls = SegmentationDataLoaders.from_label_func(
        tmp_path, fnames, lambda f: f.parent / f"{f.stem}_m.png", codes=["bg", "box"], bs=4, seed=0
    )
    learn = unet_learner(dls, "resnet18", pretrained=False)
    assert isinstance(learn.loss_func, CrossEntropyLossFlat) and learn.loss_func.axis == 1
    groups = learn.splitter(learn.model)
    assert len(groups) == 3 and sum(len(g) for g in groups) == len(list(learn.model.parameters()))
    with learn.no_bar(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        learn.fit_one_cycle(1, 1e-3)
        preds, targs = learn.get_preds()
        pic = learn.show_results(max_n=1)
    assert pic.size[1] > 2 * 32  # the target mask and the predicted one side by side
    assert preds.shape == (1, 2, 32, 32) and targs.shape == (1, 32, 32)  # int(0.2 * 8) = 1 validation item


def test_a_model_that_contradicts_the_data_is_refused_before_training(folder_data):
    dls = ImageDataLoaders.from_folder(folder_data, item_tfms=Resize(8), bs=4)  # 2 classes, RGB images
    with pytest.raises(ValueError, match=r"n_out=5 but the data have 2 classes"):
        vision_learner(dls, "resnet18", pretrained=False, n_out=5)  # would train 3 classes that never occur
    with pytest.raises(ValueError, match=r"y_range=\(0, 1\) is for regression targets.*CrossEntropyLossFlat"):
        vision_learner(dls, "resnet18", pretrained=False, y_range=(0, 1))  # would squash the logits
    with pytest.raises(ValueError, match=r"n_in=1 but the data's images are PILImage with 3 channel"):
        vision_learner(dls, "resnet18", pretrained=False, n_in=1)
    # the user's own loss decides what extra outputs mean; n_out equal to dls.c is fine
    learn = vision_learner(dls, "resnet18", pretrained=False, n_out=5, loss_func=CrossEntropyLossFlat())
    assert learn.model(dls.one_batch()[0]).shape == (4, 5)
    assert vision_learner(dls, "resnet18", pretrained=False, n_out=2).model.n_out == 2


def test_plot_top_losses_with_more_or_fewer_images_than_asked(folder_data):
    from apps_vision import ImageClassificationInterpretation

    dls = ImageDataLoaders.from_folder(folder_data, item_tfms=Resize(8), bs=4)
    interp = ImageClassificationInterpretation.from_learner(vision_learner(dls, "resnet18", pretrained=False))
    many = interp.plot_top_losses(50, ncols=2)  # 4 validation images: all of them, 2 rows of 2
    two = interp.plot_top_losses(2, ncols=2)
    assert many.size[1] == two.size[1] and many.size[0] > two.size[0]  # (height, width)
    for k in (-1, 1.5, True):
        with pytest.raises(ValueError, match=f"k must be a number of images >= 0.*got {k!r}"):
            interp.plot_top_losses(k)
