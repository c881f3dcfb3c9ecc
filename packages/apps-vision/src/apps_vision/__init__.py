"""apps_vision: image classification, segmentation, key points and boxes in a few lines."""

from apps_vision.__about__ import __version__
from apps_vision.augment import (
    CropPad,
    DihedralItem,
    FlipItem,
    PadMode,
    RandomCrop,
    RandomResizedCrop,
    RatioResize,
    Resize,
    ResizeMethod,
    crop_pad,
)
from apps_vision.backbones import (
    EXCLUDED,
    Backbone,
    backbone,
    create_body,
    imagenet_stats,
    list_backbones,
    load_weights,
    num_features,
    weights_path,
)
from apps_vision.blocks import BBoxBlock, BBoxLblBlock, ImageBlock, ImageCreate, MaskBlock, PointBlock
from apps_vision.coco import get_annotations, get_keypoints
from apps_vision.coords import (
    BBoxCreate,
    BBoxLabels,
    CanvasFromImage,
    PointCreate,
    canvas_of,
    dihedral_coords,
    map_coords,
    window_coords,
)
from apps_vision.core import AddMaskCodes, ImageToTensor, PILBase, PILImage, PILImageBW, PILMask, load_image
from apps_vision.data import ImageDataLoaders, SegmentationDataLoaders, UsingAttr
from apps_vision.datasets import (
    DETECTION_CLASSES,
    DETECTION_KEYPOINTS,
    SHAPES_CODES,
    detection_shapes,
    digits,
    shapes,
    shapes_label,
    tiers_home,
)
from apps_vision.deploy import (
    PROGRAM_META_FILE,
    DetectionPredictor,
    ImagePredictor,
    detection_predictor,
    export_detection,
    export_onnx,
    export_program,
    image_predictor,
    pil_resize,
    predict_files,
)
from apps_vision.detection import (
    DetectionLearner,
    DetectionLoss,
    Detections,
    DetectionTargets,
    LossTerm,
    detection_learner,
)
from apps_vision.detection_inference import (
    EXPORTABLE_DETECTORS,
    DetectionInference,
    batched_nms_static,
    fixed_candidates,
)
from apps_vision.detection_models import (
    DETECTION_ARCHS,
    LOSS_TERMS,
    DetectionModel,
    FPNBackbone,
    SSDLiteBackbone,
    build_detector,
)
from apps_vision.files import get_image_files, image_extensions, verify_image, verify_images
from apps_vision.interpret import ImageClassificationInterpretation, SegmentationInterpretation
from apps_vision.learner import (
    VisionLearner,
    VisionModel,
    add_normalize,
    create_head,
    data_n_out,
    default_loss,
    make_vision_learner,
    vision_learner,
)
from apps_vision.metrics_detection import (
    COCO_IOU_THRESHOLDS,
    MeanAveragePrecision,
    mean_average_precision,
    recall_thresholds,
    unpad_targets,
)
from apps_vision.unet import DynamicUnet, UnetBlock, unet_learner
from apps_vision.xresnet import XResNet, init_cnn, xresnet18, xresnet34, xresnet50

__all__ = [
    "__version__",
    # image types and files
    "PILBase",
    "PILImage",
    "PILImageBW",
    "PILMask",
    "load_image",
    "ImageToTensor",
    "AddMaskCodes",
    "image_extensions",
    "get_image_files",
    "verify_image",
    "verify_images",
    # blocks
    "ImageBlock",
    "MaskBlock",
    "ImageCreate",
    "PointBlock",
    "BBoxBlock",
    "BBoxLblBlock",
    "PointCreate",
    "BBoxCreate",
    "BBoxLabels",
    "CanvasFromImage",
    "canvas_of",
    "map_coords",
    "window_coords",
    "dihedral_coords",
    # item transforms
    "ResizeMethod",
    "PadMode",
    "crop_pad",
    "Resize",
    "RandomResizedCrop",
    "RatioResize",
    "CropPad",
    "RandomCrop",
    "FlipItem",
    "DihedralItem",
    # factories
    "ImageDataLoaders",
    "SegmentationDataLoaders",
    "UsingAttr",
    # backbones
    "Backbone",
    "backbone",
    "list_backbones",
    "EXCLUDED",
    "imagenet_stats",
    "create_body",
    "weights_path",
    "load_weights",
    "num_features",
    # models and learners
    "create_head",
    "VisionModel",
    "VisionLearner",
    "vision_learner",
    "default_loss",
    "add_normalize",
    "data_n_out",
    "make_vision_learner",
    "DynamicUnet",
    "UnetBlock",
    "unet_learner",
    "XResNet",
    "init_cnn",
    "xresnet18",
    "xresnet34",
    "xresnet50",
    # object detection
    "detection_learner",
    "DetectionLearner",
    "DetectionModel",
    "DetectionLoss",
    "DetectionTargets",
    "Detections",
    "LossTerm",
    "build_detector",
    "FPNBackbone",
    "SSDLiteBackbone",
    "DETECTION_ARCHS",
    "LOSS_TERMS",
    "MeanAveragePrecision",
    "mean_average_precision",
    "COCO_IOU_THRESHOLDS",
    "recall_thresholds",
    "unpad_targets",
    # deployment
    "PROGRAM_META_FILE",
    "ImagePredictor",
    "image_predictor",
    "export_program",
    "export_onnx",
    "predict_files",
    "DetectionPredictor",
    "detection_predictor",
    "export_detection",
    "DetectionInference",
    "EXPORTABLE_DETECTORS",
    "batched_nms_static",
    "fixed_candidates",
    "pil_resize",
    # interpretation
    "ImageClassificationInterpretation",
    "SegmentationInterpretation",
    # data that ship
    "tiers_home",
    "digits",
    "shapes",
    "shapes_label",
    "SHAPES_CODES",
    "detection_shapes",
    "DETECTION_CLASSES",
    "DETECTION_KEYPOINTS",
    # COCO-style annotations
    "get_annotations",
    "get_keypoints",
]
