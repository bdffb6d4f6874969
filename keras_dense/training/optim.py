"""Keras optimizer, learning-rate schedule and loss for a `Recipe`.

The schedules are Keras `LearningRateSchedule`s driven by
`optimizer.iterations`, so a resumed run continues exactly where it stopped;
Keras's own are used except `OneCycle`, which Keras does not have.

Example:
    >>> recipe = preset("default", epochs=30)
    >>> optimizer = make_optimizer(recipe, steps_per_epoch=391)
    >>> loss = make_loss(recipe)
"""

import math

import keras
from keras import ops

# Variables kept out of weight decay: batch-norm scale/shift and biases.
NO_DECAY = ("gamma", "beta", "bias")


@keras.saving.register_keras_serializable(package="keras_dense")
class OneCycle(keras.optimizers.schedules.LearningRateSchedule):
    """One-cycle learning rate: cosine from `max_lr / div` up to `max_lr` over
    `warmup_steps`, then cosine down to `max_lr / final_div` at `total_steps`.

    Example:
        >>> schedule = OneCycle(0.4, total_steps=3900, warmup_steps=780)
    """

    def __init__(self, max_lr, total_steps, warmup_steps, div=25.0, final_div=1e4):
        self.max_lr = float(max_lr)
        self.total_steps = int(total_steps)
        self.warmup_steps = int(warmup_steps)
        self.div = float(div)
        self.final_div = float(final_div)

    def __call__(self, step):
        step = ops.cast(step, "float32")
        start, low = self.max_lr / self.div, self.max_lr / self.final_div
        up = ops.clip(step / max(self.warmup_steps, 1), 0.0, 1.0)
        down = ops.clip(
            (step - self.warmup_steps) / max(self.total_steps - self.warmup_steps, 1), 0.0, 1.0
        )
        rising = start + (self.max_lr - start) * (1 - ops.cos(math.pi * up)) / 2
        falling = low + (self.max_lr - low) * (1 + ops.cos(math.pi * down)) / 2
        return ops.where(step < self.warmup_steps, rising, falling)

    def get_config(self):
        return {
            "max_lr": self.max_lr,
            "total_steps": self.total_steps,
            "warmup_steps": self.warmup_steps,
            "div": self.div,
            "final_div": self.final_div,
        }


def make_schedule(recipe, steps_per_epoch):
    """The recipe's learning rate as a `LearningRateSchedule` (or a float)."""
    total = recipe.epochs * steps_per_epoch
    warmup = int(round(recipe.warmup_epochs * steps_per_epoch))
    if recipe.schedule == "constant":
        return recipe.lr
    if recipe.schedule == "cosine":
        return keras.optimizers.schedules.CosineDecay(
            initial_learning_rate=0.0 if warmup else recipe.lr,
            decay_steps=max(total - warmup, 1),
            alpha=0.0,
            warmup_target=recipe.lr if warmup else None,
            warmup_steps=warmup,
        )
    if recipe.schedule == "onecycle":
        return OneCycle(recipe.lr, total, warmup)
    boundaries = [int(round(f * total)) for f in recipe.step_at]
    values = [recipe.lr * recipe.step_factor**i for i in range(len(boundaries) + 1)]
    return keras.optimizers.schedules.PiecewiseConstantDecay(boundaries, values)


def exclude_from_decay(optimizer):
    """Keeps batch-norm and bias variables out of weight decay (not saved with
    the optimizer, so this is applied again after loading a checkpoint)."""
    inner = getattr(optimizer, "inner_optimizer", optimizer)  # LossScaleOptimizer
    if inner.weight_decay:
        inner.exclude_from_weight_decay(var_names=list(NO_DECAY))
    return optimizer


def make_optimizer(recipe, steps_per_epoch):
    """The recipe's optimizer with its schedule and weight decay.

    Args:
        recipe: a `Recipe`.
        steps_per_epoch: training steps per epoch (for the schedule).

    Returns:
        A `keras.optimizers.Optimizer`; with `recipe.use_ema` it keeps the
        moving average of the weights (`finalize_variable_values` puts it in
        the model; `fit` does so when it ends).
    """
    schedule = make_schedule(recipe, steps_per_epoch)
    decay = recipe.weight_decay or None
    average = {"use_ema": recipe.use_ema, "ema_momentum": recipe.ema_momentum}
    if recipe.optimizer == "sgd":
        optimizer = keras.optimizers.SGD(
            learning_rate=schedule,
            momentum=recipe.momentum,
            nesterov=True,
            weight_decay=decay,
            **average,
        )
    else:
        optimizer = keras.optimizers.AdamW(
            learning_rate=schedule,
            beta_1=recipe.momentum,
            weight_decay=recipe.weight_decay,
            **average,
        )
    return exclude_from_decay(optimizer)


def make_loss(recipe):
    """Cross-entropy on one-hot labels with the recipe's label smoothing."""
    return keras.losses.CategoricalCrossentropy(label_smoothing=recipe.label_smoothing)
