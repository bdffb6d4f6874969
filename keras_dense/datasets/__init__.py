"""Datasets for training and evaluating the models: CIFAR-10 first.

Example:
    >>> from keras_dense.datasets import cifar10
    >>> (x_train, y_train), (x_test, y_test), class_names = cifar10.load("../shared/data/cifar10")
"""

from keras_dense.datasets.cifar10 import DataSourceError, load

__all__ = ["DataSourceError", "load"]
