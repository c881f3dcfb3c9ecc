from PIL import Image

from apps_vision import image_extensions


def test_image_extensions_cover_common_formats_and_open(tmp_path):
    exts = image_extensions()
    assert {".png", ".jpg", ".jpeg"} <= exts
    p = tmp_path / "x.png"
    Image.new("RGB", (4, 4)).save(p)
    assert p.suffix in exts
