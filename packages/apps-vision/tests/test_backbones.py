import pytest
import torch
import torchvision
from torch.overrides import TorchFunctionMode

from apps_vision import EXCLUDED, backbone, create_body, list_backbones, load_weights, num_features, weights_path


class _EmptyOnMeta(TorchFunctionMode):
    """Parameters allocated on the meta device (no memory, no init cost); small build-time tensors stay real."""

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func is torch.empty:
            kwargs["device"] = "meta"
        return func(*args, **kwargs)


def _meta_body(name):
    with _EmptyOnMeta():
        body = create_body(name, pretrained=False)
    return body.to("meta")


def _check_split_covers(bb, body):
    groups = bb.split(body)
    ids = [id(p) for g in groups for p in g]
    assert len(groups) == 2 and all(groups)
    assert len(ids) == len(set(ids)), "a parameter is in two groups"
    assert set(ids) == {id(p) for p in body.parameters()}, "a parameter is in no group"


def test_registry_is_torchvision_minus_documented_exclusions():
    tv = set(torchvision.models.list_models(module=torchvision.models))
    assert set(EXCLUDED) <= tv
    assert set(list_backbones(source="torchvision")) == tv - set(EXCLUDED)
    assert len(list_backbones(source="torchvision")) == len(tv) - len(EXCLUDED)
    assert list_backbones(source="tiers") == ["xresnet18", "xresnet34", "xresnet50"]
    assert backbone("resnet34") is backbone(torchvision.models.resnet34)
    assert "resnet18" in list_backbones("resnet") and "vgg16_bn" in list_backbones("vgg")
    with pytest.raises(ValueError, match="unknown backbone 'resnet19'"):
        backbone("resnet19")
    with pytest.raises(ValueError, match="auxiliary heads"):
        backbone("googlenet")


@pytest.mark.parametrize("name", ["resnet18", "squeezenet1_1", "mobilenet_v3_small", "regnet_x_400mf"])
def test_small_bodies_run_on_cpu(name):
    bb = backbone(name)
    body = create_body(name, pretrained=False)
    nf = num_features(body, size=32 if bb.min_size <= 32 else bb.min_size)
    assert nf == {"resnet18": 512, "squeezenet1_1": 512, "mobilenet_v3_small": 576, "regnet_x_400mf": 400}[name]
    _check_split_covers(bb, body)


@pytest.mark.slow
@pytest.mark.parametrize("name", list_backbones())
def test_every_registered_body_forward_features_and_split(name):
    bb = backbone(name)
    body = _meta_body(name)
    out = body(torch.zeros(2, 3, bb.min_size, bb.min_size, device="meta"))
    assert out.ndim == 4 and out.shape[0] == 2  # a (batch, features, h, w) map for the head's pooling
    assert out.shape[1] == num_features(body, size=bb.min_size) > 0
    _check_split_covers(bb, body)


def test_n_in_adapts_the_first_conv():
    body = create_body("resnet18", n_in=1, pretrained=False)
    assert body[0].in_channels == 1
    assert body.eval()(torch.zeros(1, 1, 32, 32)).shape == (1, 512, 1, 1)
    body4 = create_body("resnet18", n_in=4, pretrained=False)
    assert body4[0].weight.shape[1] == 4


def test_cut_overrides_the_registry():
    body = create_body("resnet18", pretrained=False, cut=-3)  # children[:-3]: without fc, avgpool and layer4
    assert len(body) == 7 and num_features(body, size=32) == 256
    body = create_body("resnet18", pretrained=False, cut=lambda m: torch.nn.Sequential(m.conv1, m.bn1))
    assert num_features(body, size=32) == 64


def test_pretrained_weights_come_from_the_hub_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    file = weights_path("resnet18")
    assert file == tmp_path / "hub" / "checkpoints" / "resnet18-f37072fd.pth"
    with pytest.raises(FileNotFoundError) as e:
        create_body("resnet18", pretrained=True)
    msg = str(e.value)
    assert str(file) in msg and "https://download.pytorch.org/models/resnet18-f37072fd.pth" in msg
    torch.manual_seed(0)
    saved = torchvision.models.resnet18().state_dict()  # random weights stand in for the real file
    file.parent.mkdir(parents=True)
    torch.save(saved, file)
    body = create_body("resnet18", pretrained=True)
    assert torch.equal(body[0].weight, saved["conv1.weight"])
    assert torch.equal(body[7][1].conv2.weight, saved["layer4.1.conv2.weight"])
    assert torch.equal(body[1].running_mean, saved["bn1.running_mean"])
    # a grey-scale body sums the RGB filters (fastai's rule)
    bw = create_body("resnet18", n_in=1, pretrained=True)
    assert torch.allclose(bw[0].weight, saved["conv1.weight"].sum(1, keepdim=True))
    # weights given as a path
    other = tmp_path / "mine.pth"
    torch.save({k: v + 1 if v.is_floating_point() else v for k, v in saved.items()}, other)
    assert torch.equal(create_body("resnet18", weights=str(other))[0].weight, saved["conv1.weight"] + 1)
    model, enum = load_weights("resnet18")
    assert enum.name == "IMAGENET1K_V1" and torch.equal(model.fc.weight, saved["fc.weight"])


def test_weights_that_do_not_fit_are_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    file = weights_path("resnet18")
    file.parent.mkdir(parents=True)
    torch.save(torchvision.models.resnet34().state_dict(), file)
    with pytest.raises(ValueError, match="does not fit resnet18"):
        create_body("resnet18", pretrained=True)
