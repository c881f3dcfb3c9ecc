import json

import numpy as np
import pytest
from PIL import Image

from apps_vision import DETECTION_CLASSES, DETECTION_KEYPOINTS, detection_shapes, get_annotations, get_keypoints


def _write(tmp_path, data):
    p = tmp_path / "ann.json"
    p.write_text(json.dumps(data))
    return p


def _coco(**over):
    data = {
        "images": [{"id": 7, "file_name": "a.png"}, {"id": 9, "file_name": "b.png"}, {"id": 3, "file_name": "c.png"}],
        "annotations": [
            {"id": 1, "image_id": 9, "category_id": 2, "bbox": [1, 2, 3, 4], "keypoints": [5, 6, 2, 0, 0, 0]},
            {"id": 2, "image_id": 7, "category_id": 1, "bbox": [0.5, 0, 10, 0], "keypoints": [1.5, 2.5, 1]},
            {"id": 3, "image_id": 9, "category_id": 1, "bbox": [10, 20, 1, 1]},
        ],
        "categories": [{"id": 1, "name": "cat"}, {"id": 2, "name": "dog"}],
    }
    data.update(over)
    return data


def test_get_annotations_converts_xywh_and_keeps_images_without_boxes(tmp_path):
    fns, boxes, labels = get_annotations(_write(tmp_path, _coco()))
    assert fns == ["a.png", "b.png", "c.png"]
    assert boxes == [[[0.5, 0, 10.5, 0]], [[1, 2, 4, 6], [10, 20, 11, 21]], []]
    assert labels == [["cat"], ["dog", "cat"], []]
    fns, points = get_keypoints(_write(tmp_path, _coco()))
    assert points == [[[1.5, 2.5]], [[5, 6]], []]  # visibility 0 is "not labelled": left out


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            {"annotations": [{"id": 4, "image_id": 1, "category_id": 1, "bbox": [0, 0, 1, 1]}]},
            r"annotations\[0\] \(id 4\): image_id 1",
        ),
        (
            {"annotations": [{"id": 4, "image_id": 7, "category_id": 5, "bbox": [0, 0, 1, 1]}]},
            r"\(id 4\): category_id 5",
        ),
        (
            {"annotations": [{"id": 4, "image_id": 7, "category_id": 1, "bbox": [0, 0, -1, 1]}]},
            r"\(id 4\): bbox must be",
        ),
        ({"annotations": [{"id": 4, "image_id": 7, "category_id": 1, "bbox": [0, 0, 1]}]}, r"\(id 4\): bbox must be"),
        (
            {"annotations": [{"image_id": 7, "category_id": 1, "bbox": [0, "1", 1, 1]}]},
            r"annotations\[0\]: bbox must be",
        ),
        ({"images": [{"id": 7}]}, r"images\[0\] must be an object with 'id' and a string 'file_name'"),
        ({"images": [{"id": 7, "file_name": "a"}, {"id": 7, "file_name": "b"}]}, r"images\[1\] repeats id 7"),
        ({"categories": [{"id": 1}]}, r"categories\[0\] must be an object"),
        ({"annotations": None}, r"'annotations' must be a list"),
    ],
)
def test_get_annotations_names_the_bad_entry(tmp_path, change, message):
    with pytest.raises(ValueError, match=message):
        get_annotations(_write(tmp_path, _coco(**change)))


def test_bad_keypoints_and_bad_json_are_refused(tmp_path):
    bad = _coco(annotations=[{"id": 4, "image_id": 7, "category_id": 1, "bbox": [0, 0, 1, 1], "keypoints": [1, 2]}])
    with pytest.raises(ValueError, match=r"\(id 4\): keypoints must be"):
        get_keypoints(_write(tmp_path, bad))
    (tmp_path / "x.json").write_text("{not json")
    with pytest.raises(ValueError, match="not valid JSON"):
        get_annotations(tmp_path / "x.json")
    (tmp_path / "y.json").write_text("[]")
    with pytest.raises(ValueError, match="expected a JSON object"):
        get_annotations(tmp_path / "y.json")


def test_detection_shapes_is_seeded_and_its_annotations_match_the_pictures(tmp_path):
    a = detection_shapes(n_train=6, n_valid=3, size=48, seed=1, dest=tmp_path / "a")
    b = detection_shapes(n_train=6, n_valid=3, size=48, seed=1, dest=tmp_path / "b")
    assert (a / "train.json").read_text() == (b / "train.json").read_text()
    fns, boxes, labels = get_annotations(a / "train.json")
    _, points = get_keypoints(a / "train.json")
    assert fns == [f"train/{k:04d}.png" for k in range(6)] and len(get_annotations(a / "valid.json")[0]) == 3
    cats = json.loads((a / "train.json").read_text())["categories"]
    assert [c["name"] for c in cats] == DETECTION_CLASSES
    for fn, bs, ls, ps in zip(fns, boxes, labels, points, strict=True):
        img = np.asarray(Image.open(a / fn)).astype(int)
        assert img.shape == (48, 48, 3) and np.array_equal(img, np.asarray(Image.open(b / fn)).astype(int))
        assert 1 <= len(bs) <= 3 and len(ps) == sum(len(DETECTION_KEYPOINTS[lbl]) for lbl in ls)
        k = 0
        for (x1, y1, x2, y2), lbl in zip(bs, ls, strict=True):
            assert 0 <= x1 < x2 <= 48 and 0 <= y1 < y2 <= 48
            cx, cy = ps[k]  # the centre point: inside the box, on a pixel of the shape's colour family
            assert x1 < cx < x2 and y1 < cy < y2
            r, g, bl = img[int(cy), int(cx)]
            assert {"circle": r > bl, "square": bl > r, "triangle": g > r and g > bl}[lbl]
            for x, y in ps[k + 1 : k + len(DETECTION_KEYPOINTS[lbl])]:  # corners lie on the box's edges
                assert x1 - 1e-3 <= x <= x2 + 1e-3 and y1 - 1e-3 <= y <= y2 + 1e-3
                assert min(abs(x - x1), abs(x - x2), abs(y - y1), abs(y - y2)) < 1e-3 or lbl == "square"
            k += len(DETECTION_KEYPOINTS[lbl])


def test_detection_shapes_refuses_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="classes must be a non-empty subset"):
        detection_shapes(classes=["hexagon"], dest=tmp_path / "x")
    with pytest.raises(ValueError, match="size must be an int >= 16"):
        detection_shapes(size=8, dest=tmp_path / "x")
    with pytest.raises(ValueError, match="n_shapes must be"):
        detection_shapes(n_shapes=(3, 1), dest=tmp_path / "x")
