"""The memory-efficient DenseNet layer: concatenate, then BN-ReLU-conv stages, recomputed.

A plain DenseNet stores, for every layer, the concatenation of all earlier
feature maps and its batch-normalized and ReLU'd copies: memory that grows with
the square of the depth. `RecomputedDenseLayer` takes the list of earlier
feature maps and computes concat -> (BN -> ReLU -> conv) x stages inside
`keras.remat`, so only the separate feature maps (the layer's inputs and its
output) are kept for the backward pass; everything in between is recomputed
there (Pleiss et al., "Memory-Efficient Implementation of DenseNets", 2017,
which recompute the concatenation, BN and ReLU before the 1x1 convolution).

A bottleneck layer without dropout is recomputed whole (both stages): on
TensorFlow, recomputing only the first stage still stored the 4k-channel
bottleneck output and its BN/ReLU copy, and left the peak at 0.58 of the plain
model's; recomputing both gives 0.48 for 1.19x the step time
(`benchmarks/train_step.py`). With dropout between the stages only the first
stage is recomputed, since a recomputed dropout would draw a different mask.

Why not `keras.RematScope`: Keras rematerializes one layer at a time, and a
layer's input is always stored, so rematerializing the `Concatenate`, the
`BatchNormalization` or the `Conv2D` separately keeps the concatenation anyway.
The whole segment has to be one rematerialized function of the separate maps.

Batch statistics: those of the first BN are computed outside the recomputed
function, per input map (BN is per channel, so the moments of a concatenation
are the concatenated moments); those of later BNs are computed inside and
returned. The moving statistics are updated outside, once per step:
recomputing a `BatchNormalization` layer call would update them twice.

The sublayers keep the plain model's names (`{block}_0_bn`, `{block}_1_conv`,
`{block}_1_bn`, `{block}_2_conv`) and weight order, so
`set_weights(plain.get_weights())` moves weights across.

Example:
    >>> from keras_dense.models import densenet
    >>> model = densenet.DenseNetCIFAR(100, 12, memory_efficient=True)
"""

import keras
from keras import layers, ops

from keras_dense.models._epsilons import KERAS_APPLICATIONS_BN_EPSILON


def _float32(x):
    return ops.cast(x, "float32")


@keras.saving.register_keras_serializable(package="keras_dense")
class RecomputedDenseLayer(layers.Layer):
    """Concat -> (BatchNorm -> ReLU -> Conv2D) per stage over a list of maps, recomputed.

    Args:
        stages: one `(filters, kernel_size, bn_name, conv_name)` per
            BN-ReLU-conv stage, e.g. `[(48, 1, "conv2_block1_0_bn",
            "conv2_block1_1_conv"), (12, 3, "conv2_block1_1_bn",
            "conv2_block1_2_conv")]` for a bottleneck layer with k=12.
        epsilon: batch-norm epsilon.
        **kwargs: `keras.layers.Layer` arguments (`name`, `dtype`, ...).

    Call arguments:
        features: list of 4-D channels-last tensors with the same batch and
            spatial size.
        training: whether batch statistics are used (and the moving ones updated).

    Returns:
        The last convolution's output, `(batch, height, width, filters)`.
    """

    def __init__(self, stages, epsilon=KERAS_APPLICATIONS_BN_EPSILON, **kwargs):
        super().__init__(**kwargs)
        self.stages = [tuple(stage) for stage in stages]
        if not self.stages:
            raise ValueError(
                f"{self.name} needs at least one (filters, kernel_size, bn_name, conv_name) stage."
            )
        self.epsilon = epsilon
        self.bns, self.convs = [], []
        for filters, kernel_size, bn_name, conv_name in self.stages:
            self.bns.append(
                layers.BatchNormalization(
                    axis=-1, epsilon=epsilon, name=bn_name, dtype=self.dtype_policy
                )
            )
            self.convs.append(
                layers.Conv2D(
                    filters,
                    kernel_size,
                    padding="same",
                    use_bias=False,
                    name=conv_name,
                    dtype=self.dtype_policy,
                )
            )

    def build(self, input_shape):
        if (
            not isinstance(input_shape, (list, tuple))
            or not input_shape
            or not all(isinstance(s, (list, tuple)) and len(s) == 4 for s in input_shape)
        ):
            raise ValueError(
                f"{self.name} expects a list of 4-D feature maps; got shapes {input_shape}."
            )
        shape = tuple(input_shape[0][:-1]) + (sum(s[-1] for s in input_shape),)
        for bn, conv in zip(self.bns, self.convs):
            bn.build(shape)
            conv.build(shape)
            shape = shape[:-1] + (conv.filters,)

    @staticmethod
    def _update_moving(bn, mean, variance):
        mean, variance = ops.stop_gradient(mean), ops.stop_gradient(variance)
        bn.moving_mean.assign(
            bn.moving_mean * bn.momentum
            + ops.cast(mean, bn.moving_mean.dtype) * (1.0 - bn.momentum)
        )
        bn.moving_variance.assign(
            bn.moving_variance * bn.momentum
            + ops.cast(variance, bn.moving_variance.dtype) * (1.0 - bn.momentum)
        )

    def _first_moments(self, features):
        moments = [ops.moments(_float32(x), axes=[0, 1, 2]) for x in features]
        mean = ops.concatenate([m for m, _ in moments], axis=0)
        variance = ops.concatenate([v for _, v in moments], axis=0)
        self._update_moving(self.bns[0], mean, variance)
        return mean, variance

    def call(self, features, training=None):
        features = list(features)
        batch_stats = bool(training and self.trainable)
        if batch_stats:
            mean, variance = self._first_moments(features)
        else:
            mean, variance = (
                _float32(self.bns[0].moving_mean),
                _float32(self.bns[0].moving_variance),
            )
        params = []
        for i, (bn, conv) in enumerate(zip(self.bns, self.convs)):
            params += [
                _float32(bn.gamma),
                _float32(bn.beta),
                ops.cast(conv.kernel, self.compute_dtype),
            ]
            if i and not batch_stats:
                params += [_float32(bn.moving_mean), _float32(bn.moving_variance)]
        n_params = len(params)

        # Everything the segment needs is an explicit argument (no keyword
        # arguments, no captured variables): TensorFlow's recompute_grad accepts
        # only positional tensors inside a tf.function.
        def segment(mean, variance, *args):
            params, maps = list(args[:n_params]), args[n_params:]
            x = ops.concatenate([_float32(m) for m in maps], axis=-1)
            stats = []
            for i, conv in enumerate(self.convs):
                gamma, beta, kernel = params.pop(0), params.pop(0), params.pop(0)
                if i:
                    x = _float32(x)
                    if batch_stats:
                        mean, variance = ops.moments(x, axes=[0, 1, 2])
                        stats += [mean, variance]
                    else:
                        mean, variance = params.pop(0), params.pop(0)
                x = ops.batch_normalization(
                    x, mean, variance, axis=-1, offset=beta, scale=gamma, epsilon=self.epsilon
                )
                x = ops.relu(ops.cast(x, self.compute_dtype))
                x = conv.convolution_op(x, kernel)
            return (x, *stats) if stats else x

        outputs = keras.remat(segment)(mean, variance, *params, *features)
        if not isinstance(outputs, (list, tuple)):
            return outputs
        for i, bn in enumerate(self.bns[1:]):
            self._update_moving(bn, outputs[1 + 2 * i], outputs[2 + 2 * i])
        return outputs[0]

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[0][:-1]) + (self.convs[-1].filters,)

    def get_config(self):
        config = super().get_config()
        config.update(stages=[list(stage) for stage in self.stages], epsilon=self.epsilon)
        return config
