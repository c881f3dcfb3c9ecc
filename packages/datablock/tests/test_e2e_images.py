"""End to end: image files in class folders → DataBlock → DataLoaders → a batch shown to a PNG."""

import numpy as np
import pytest
import torch
from PIL import Image

from datablock import (
    CategoryBlock,
    DataBlock,
    GrandparentSplitter,
    IntToFloatTensor,
    Normalize,
    ToTensor,
    TransformBlock,
    get_files,
    parent_label,
)
from dispatch_transforms import Transform
from typedtensor import TensorCategory, TensorImage

COLORS = {"red": (220, 20, 20), "blue": (20, 20, 220)}


class Resize(Transform):
    """A minimal item resize for PIL images (apps-vision will ship the real one)."""

    order = 1

    def __init__(self, size: int):
        super().__init__()
        self.size = size

    def encodes(self, x: Image.Image) -> Image.Image:
        return x.resize((self.size, self.size))


def open_image(path) -> Image.Image:
    return Image.open(path).convert("RGB")


def ImageBlock():
    """A minimal image block written for this test: open, and make floats on the batch."""
    return TransformBlock(type_tfms=[open_image], batch_tfms=[IntToFloatTensor()])


def get_pngs(path):
    return get_files(path, extensions=[".png"])


@pytest.fixture
def image_folders(tmp_path):
    rng = np.random.default_rng(0)
    for split, n in (("train", 6), ("valid", 2)):
        for label, rgb in COLORS.items():
            folder = tmp_path / split / label
            folder.mkdir(parents=True)
            for i in range(n):
                h, w = 20 + i, 24 + 2 * i  # different sizes: the resize must make them collatable
                noise = rng.integers(0, 20, (h, w, 3))
                Image.fromarray(np.clip(np.array(rgb) + noise, 0, 255).astype(np.uint8)).save(folder / f"{i}.png")
    return tmp_path


def _dblock():
    return DataBlock(
        blocks=(ImageBlock, CategoryBlock),
        get_items=get_pngs,
        get_y=parent_label,
        splitter=GrandparentSplitter(),
        item_tfms=[Resize(16), ToTensor()],
        batch_tfms=[Normalize.from_stats([0.5] * 3, [0.25] * 3)],
    )


def test_datablock_images_to_batches_and_png(image_folders, tmp_path):
    dls = _dblock().dataloaders(image_folders, bs=4)
    assert len(dls.train_ds) == 12 and len(dls.valid_ds) == 4 and list(dls.vocab) == ["blue", "red"]
    xb, yb = dls.one_batch()
    assert type(xb) is TensorImage and xb.shape == (4, 3, 16, 16) and xb.dtype == torch.float32
    assert type(yb) is TensorCategory and list(yb.vocab) == ["blue", "red"]
    # the red channel dominates exactly for the red images, whatever the normalisation
    red = (xb[:, 0].mean((1, 2)) > xb[:, 2].mean((1, 2))).as_subclass(torch.Tensor).long()
    assert torch.equal(red, yb.as_subclass(torch.Tensor))
    decoded = dls.decode_batch(dls.valid.one_batch())
    assert [lab for _, lab in decoded] == ["blue", "blue", "red", "red"]
    img = decoded[0][0]
    assert type(img) is TensorImage and img.dtype == torch.uint8 and img.shape == (3, 16, 16)
    assert img[2].float().mean() > 180  # back to the blue pixels' original values

    out = dls.show_batch(max_n=4, ncols=2).save(tmp_path / "batch.png")
    with Image.open(out) as png:
        assert png.format == "PNG" and png.width >= 2 * 16 and png.height >= 2 * 16
        pixels = np.array(png.convert("RGB")).reshape(-1, 3)
    assert ((pixels[:, 0] > 180) & (pixels[:, 2] < 60)).any() or ((pixels[:, 2] > 180) & (pixels[:, 0] < 60)).any()


def test_show_results_titles_target_and_prediction(image_folders):
    dls = _dblock().dataloaders(image_folders, bs=4)
    b = dls.valid.one_batch()
    preds = torch.tensor([[0.9, 0.1], [0.2, 0.8], [0.3, 0.7], [0.6, 0.4]])
    from datablock.show import decode_preds, show_samples

    samples = dls.valid.decode_batch(b, full=False)
    canvases = show_samples(samples, dls.valid_ds, 1, preds=decode_preds(preds, [b[1]], 9))
    assert [c.title for c in canvases] == ["blue / blue", "blue / red", "red / red", "red / blue"]
    assert dls.show_results(b, preds).size[0] > 16


def test_summary_on_images_names_missing_resize(image_folders):
    dblock = DataBlock(
        blocks=(ImageBlock, CategoryBlock),
        get_items=get_pngs,
        get_y=parent_label,
        splitter=GrandparentSplitter(),
        item_tfms=[ToTensor()],
    )
    lines = []
    with pytest.raises(Exception, match="step 'collate' failed"):
        dblock.summary(image_folders, bs=4, out=lines.append)
    assert "PIL image, mode RGB" in "\n".join(lines) and "add a resize/crop to item_tfms" in lines[-1]


@pytest.mark.slow
def test_images_through_two_workers(image_folders):
    dls = _dblock().dataloaders(image_folders, bs=4, num_workers=2)
    batches = list(dls.train)
    assert len(batches) == 3 and all(type(x) is TensorImage and type(y) is TensorCategory for x, y in batches)
    assert list(batches[0][1].vocab) == ["blue", "red"]
