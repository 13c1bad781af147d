"""Datasets: built-in offline sets, TFDS, folders and .npz files, and their tf.data pipelines.

Importing this package is cheap (no TensorFlow): the GUI lists datasets and shows their
metadata before TensorFlow has loaded. Loading data and building pipelines import it.

Example:

>>> from resnet_studio.core.data import load_dataset, make_pipelines
>>> data = load_dataset("digits", seed=0)
>>> train, val, test = make_pipelines(data, batch_size=64, seed=0, augment=["pad_crop"])
"""

from .base import Dataset, DatasetError, DatasetInfo
from .files import explain_data_error, naming_bad_files
from .pipeline import AUGMENTATIONS, make_pipelines, steps_in_epoch, training_stream
from .registry import dataset_names, describe_dataset, list_datasets, load_dataset

__all__ = [
    "AUGMENTATIONS",
    "Dataset",
    "DatasetError",
    "DatasetInfo",
    "dataset_names",
    "explain_data_error",
    "describe_dataset",
    "list_datasets",
    "load_dataset",
    "make_pipelines",
    "naming_bad_files",
    "steps_in_epoch",
    "training_stream",
]
