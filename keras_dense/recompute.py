"""The memory-efficient DenseNet layer: concatenate, BN, ReLU, convolve, recompute.

A plain DenseNet stores, for every layer, the concatenation of all earlier
feature maps and its batch-normalized and ReLU'd copies: memory that grows with
the square of the depth. `RecomputedBNReLUConv` takes the list of earlier
feature maps and computes concat -> BN -> ReLU -> conv inside `keras.remat`,
so only the (small) separate feature maps and the convolution's output are kept
for the backward pass; the rest is recomputed there (Pleiss et al., "Memory-
Efficient Implementation of DenseNets", 2017).

Why not `keras.RematScope`: Keras rematerializes one layer at a time, and a
layer's input is always stored, so rematerializing the `Concatenate`, the
`BatchNormalization` or the `Conv2D` separately keeps the concatenation anyway.
The whole segment has to be one rematerialized function of the separate maps.

The batch statistics are computed outside the recomputed function, per input
map (BN is per channel, so the moments of a concatenation are the concatenated
moments), and the moving statistics are updated there once; recomputing a
`BatchNormalization` layer call would update them twice per step.

The sublayers keep the plain model's names (`{block}_0_bn`, `{block}_1_conv`)
and weight order, so `set_weights(plain.get_weights())` moves weights across.

Example:
    >>> from keras_dense import densenet
    >>> model = densenet.DenseNetCIFAR(100, 12, memory_efficient=True)
"""

import keras
from keras import layers, ops


@keras.saving.register_keras_serializable(package="keras_dense")
class RecomputedBNReLUConv(layers.Layer):
    """Concat -> BatchNorm -> ReLU -> Conv2D over a list of maps, recomputed in backward.

    Args:
        filters: output channels of the convolution.
        kernel_size: convolution size (1 for the bottleneck, 3 without it).
        bn_name: name of the inner `BatchNormalization` (e.g. `"conv2_block1_0_bn"`).
        conv_name: name of the inner `Conv2D` (e.g. `"conv2_block1_1_conv"`).
        epsilon: batch-norm epsilon.
        **kwargs: `keras.layers.Layer` arguments (`name`, `dtype`, ...).

    Call arguments:
        features: list of 4-D channels-last tensors with the same batch and
            spatial size.
        training: whether batch statistics are used (and the moving ones updated).

    Returns:
        The convolution output, `(batch, height, width, filters)`.
    """

    def __init__(self, filters, kernel_size, bn_name, conv_name, epsilon=1.001e-5,
                 **kwargs):
        super().__init__(**kwargs)
        self.filters = filters
        self.kernel_size = kernel_size
        self.bn_name = bn_name
        self.conv_name = conv_name
        self.epsilon = epsilon
        self.bn = layers.BatchNormalization(
            axis=-1, epsilon=epsilon, name=bn_name, dtype=self.dtype_policy
        )
        self.conv = layers.Conv2D(
            filters, kernel_size, padding="same", use_bias=False, name=conv_name,
            dtype=self.dtype_policy,
        )

    def build(self, input_shape):
        if not isinstance(input_shape, (list, tuple)) or not input_shape or not all(
            isinstance(s, (list, tuple)) and len(s) == 4 for s in input_shape
        ):
            raise ValueError(
                f"{self.name} expects a list of 4-D feature maps; got shapes {input_shape}."
            )
        shape = tuple(input_shape[0][:-1]) + (sum(s[-1] for s in input_shape),)
        self.bn.build(shape)
        self.conv.build(shape)

    def _batch_moments(self, features):
        means, variances = [], []
        for x in features:
            mean, variance = ops.moments(ops.cast(x, "float32"), axes=[0, 1, 2])
            means.append(mean)
            variances.append(variance)
        mean = ops.concatenate(means, axis=0)
        variance = ops.concatenate(variances, axis=0)
        bn = self.bn
        bn.moving_mean.assign(
            bn.moving_mean * bn.momentum + ops.cast(mean, bn.moving_mean.dtype) * (1.0 - bn.momentum)
        )
        bn.moving_variance.assign(
            bn.moving_variance * bn.momentum
            + ops.cast(variance, bn.moving_variance.dtype) * (1.0 - bn.momentum)
        )
        return mean, variance

    def call(self, features, training=None):
        features = list(features)
        if training and self.trainable:
            mean, variance = self._batch_moments(features)
        else:
            mean = ops.cast(self.bn.moving_mean, "float32")
            variance = ops.cast(self.bn.moving_variance, "float32")
        gamma = ops.cast(self.bn.gamma, "float32")
        beta = ops.cast(self.bn.beta, "float32")
        kernel = ops.cast(self.conv.kernel, self.compute_dtype)

        # Everything the segment needs is an explicit argument (no keyword
        # arguments, no captured variables): TensorFlow's recompute_grad accepts
        # only positional tensors inside a tf.function.
        def segment(mean, variance, gamma, beta, kernel, *maps):
            x = ops.concatenate([ops.cast(m, "float32") for m in maps], axis=-1)
            x = ops.batch_normalization(
                x, mean, variance, axis=-1, offset=beta, scale=gamma, epsilon=self.epsilon
            )
            x = ops.relu(ops.cast(x, self.compute_dtype))
            return self.conv.convolution_op(x, kernel)

        return keras.remat(segment)(mean, variance, gamma, beta, kernel, *features)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[0][:-1]) + (self.filters,)

    def get_config(self):
        config = super().get_config()
        config.update(
            filters=self.filters, kernel_size=self.kernel_size, bn_name=self.bn_name,
            conv_name=self.conv_name, epsilon=self.epsilon,
        )
        return config
