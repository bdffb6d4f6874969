"""Batch-norm epsilons, one per source: published weights expect the one they were trained with.

Read through `keras_dense.models._layers` (which re-exports them). They live in
this module, which imports nothing, because `_layers` and `_recompute` may be
loaded half-way when Keras's own import registers keras_dense's layers
(`keras_dense/__init__.py`), and `_recompute` needs a value at that moment.

Examples:
    >>> from keras_dense.models import _layers
    >>> _layers.TORCHVISION_BN_EPSILON
    1e-05
"""

KERAS_APPLICATIONS_BN_EPSILON = 1.001e-5  # keras.applications' DenseNet and ResNet
TORCHVISION_BN_EPSILON = 1e-5  # torchvision's BatchNorm2d default (DenseNet, ResNet, VGG)
# keras.applications' InceptionV3 and torchvision's BasicConv2d (GoogLeNet, Inception v3);
# also Keras's BatchNormalization default
INCEPTION_BN_EPSILON = 1e-3
