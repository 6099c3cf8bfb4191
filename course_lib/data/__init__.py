"""Data: CIFAR-10 (or your own image folder) as uint8 tensors, and batched augmentation."""

from .augment import BatchAugment, EvalTransform, denormalize, normalize
from .cifar10 import CIFAR10_CLASSES, load_cifar10, load_course_data, load_image_folder
from .dataset import ImageDataset, channel_stats
from .image_folder import DatasetError, read_image_folder, stratified_split
from .pil_pipeline import TensorImageDataset, pil_eval_transform, pil_train_transform
from .subset import balanced_indices, balanced_subset, calibration_images, hold_out_validation

__all__ = [
    "BatchAugment",
    "CIFAR10_CLASSES",
    "DatasetError",
    "EvalTransform",
    "ImageDataset",
    "TensorImageDataset",
    "balanced_indices",
    "balanced_subset",
    "calibration_images",
    "channel_stats",
    "denormalize",
    "hold_out_validation",
    "load_cifar10",
    "load_course_data",
    "load_image_folder",
    "normalize",
    "pil_eval_transform",
    "pil_train_transform",
    "read_image_folder",
    "stratified_split",
]
