"""Training recipes as plain data: optimizer, schedule, regularisation, presets.

A `Recipe` is saved in each run's `config.json`; `keras_dense.training.optim`
turns it into Keras objects. This module imports no Keras, so the command line
can list the choices instantly.

Example:
    >>> recipe = preset("default", epochs=30)
    >>> recipe.schedule, recipe.lr
    ('cosine', 0.1)
"""

import dataclasses

from keras_dense._choices import OPTIMIZERS, SCHEDULES


@dataclasses.dataclass(frozen=True)
class Recipe:
    """How to train.

    Attributes:
        epochs: number of epochs.
        batch_size: images per step.
        optimizer: `"sgd"` (momentum with Nesterov) or `"adamw"`.
        lr: peak learning rate.
        momentum: SGD momentum (AdamW's beta_1).
        weight_decay: decoupled decay, Keras' `weight_decay`: each step
            multiplies the weights by `1 - lr * weight_decay`. Under SGD with
            momentum m this matches an L2 penalty of `weight_decay * (1 - m)`,
            so the paper's L2 1e-4 with m=0.9 is 1e-3 here. Batch-norm and
            bias variables are not decayed.
        schedule: `"cosine"` (linear warm-up then cosine to 0), `"onecycle"`
            (cosine up from lr/25 over `warmup_epochs`, then cosine down to
            lr/1e4), `"step"` (multiply by `step_factor` at the `step_at`
            fractions of training: the paper's and the notes' schedule) or
            `"constant"`.
        warmup_epochs: warm-up length of `"cosine"` and `"onecycle"`.
        step_at: fractions of the epochs where `"step"` multiplies the rate.
        step_factor: the multiplier of `"step"`.
        label_smoothing: label smoothing of the cross-entropy.
        crop_padding: zero padding of the random crop (0 disables it).
        flip: random horizontal flips.
        cutout: cutout square side in pixels (0 disables it).
        bn_momentum: momentum of every batch-norm layer's moving statistics;
            None picks it from the run's length (`auto_bn_momentum`), so a
            run of a few hundred steps tests with statistics of its final
            weights rather than of its first ones (Keras's 0.99 averages over
            about 100 steps).
        use_ema: keep an exponential moving average of the weights (Keras's
            optimizer `use_ema`); evaluation, `best.keras` and the final model
            use the averaged weights.
        ema_momentum: the average's momentum (Keras's `ema_momentum`).
        tta_flip: test-time augmentation: evaluation averages the predicted
            probabilities of each image and its mirror image.
        eval_every: evaluate on the test set every N epochs (and after the last).
        checkpoint_every: write `last.keras` every N epochs (and after the last).
        steps_per_execution: training steps per compiled call (Keras's
            `compile(steps_per_execution=...)`).
        drop_remainder: train on full batches only: every step has the same
            shape (one compilation under XLA); each epoch leaves out a
            different random `images % batch_size` images.
        head_epochs: fine-tuning on an image folder: the first `head_epochs`
            of the `epochs` train the new head alone (backbone frozen, batch
            norm in inference mode); the rest unfreeze the backbone (all of
            it, or its last N weighted layers) at `lr * finetune_lr_scale`.
            0: one phase.
        finetune_lr_scale: the second phase's learning rate as a fraction of
            `lr` (Keras's transfer-learning guide: ten to a hundred times smaller).
    """

    epochs: int = 100
    batch_size: int = 128
    optimizer: str = "sgd"
    lr: float = 0.1
    momentum: float = 0.9
    weight_decay: float = 5e-3
    schedule: str = "cosine"
    warmup_epochs: float = 2.0
    step_at: tuple = (0.5, 0.75)
    step_factor: float = 0.1
    label_smoothing: float = 0.1
    crop_padding: int = 4
    flip: bool = True
    cutout: int = 0
    bn_momentum: float | None = None
    use_ema: bool = False
    ema_momentum: float = 0.99
    tta_flip: bool = False
    eval_every: int = 1
    checkpoint_every: int = 1
    steps_per_execution: int = 1
    drop_remainder: bool = True
    head_epochs: int = 0
    finetune_lr_scale: float = 0.1

    def __post_init__(self):
        problems = []
        if not isinstance(self.epochs, int) or self.epochs < 1:
            problems.append(f"epochs must be a positive integer (got {self.epochs!r})")
        if not isinstance(self.batch_size, int) or self.batch_size < 1:
            problems.append(f"batch_size must be a positive integer (got {self.batch_size!r})")
        if self.optimizer not in OPTIMIZERS:
            problems.append(f"optimizer must be one of {OPTIMIZERS} (got {self.optimizer!r})")
        if self.schedule not in SCHEDULES:
            problems.append(f"schedule must be one of {SCHEDULES} (got {self.schedule!r})")
        if not self.lr > 0:
            problems.append(f"lr must be > 0 (got {self.lr!r})")
        if not 0 <= self.momentum < 1:
            problems.append(f"momentum must be in [0, 1) (got {self.momentum!r})")
        if self.weight_decay < 0:
            problems.append(f"weight_decay must be >= 0 (got {self.weight_decay!r})")
        if isinstance(self.epochs, int) and not 0 <= self.warmup_epochs < self.epochs:
            problems.append(
                f"warmup_epochs must be in [0, epochs) "
                f"(got {self.warmup_epochs!r} of {self.epochs!r})"
            )
        if any(not 0 < f < 1 for f in self.step_at) or list(self.step_at) != sorted(self.step_at):
            problems.append(
                f"step_at must be increasing fractions in (0, 1) (got {self.step_at!r})"
            )
        if not 0 <= self.label_smoothing < 1:
            problems.append(f"label_smoothing must be in [0, 1) (got {self.label_smoothing!r})")
        if self.crop_padding < 0 or self.cutout < 0:
            problems.append("crop_padding and cutout must be >= 0 pixels")
        if self.bn_momentum is not None and not 0 <= self.bn_momentum < 1:
            problems.append(f"bn_momentum must be in [0, 1) or None (got {self.bn_momentum!r})")
        if not 0 < self.ema_momentum < 1:
            problems.append(f"ema_momentum must be in (0, 1) (got {self.ema_momentum!r})")
        for name in ("eval_every", "checkpoint_every", "steps_per_execution"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                problems.append(f"{name} must be a positive integer (got {value!r})")
        if not isinstance(self.head_epochs, int) or isinstance(self.head_epochs, bool):
            problems.append(f"head_epochs must be an integer (got {self.head_epochs!r})")
        elif isinstance(self.epochs, int) and not 0 <= self.head_epochs <= self.epochs:
            problems.append(
                f"head_epochs must be in [0, epochs] (got {self.head_epochs!r} of {self.epochs!r})"
            )
        if not 0 < self.finetune_lr_scale <= 1:
            problems.append(f"finetune_lr_scale must be in (0, 1] (got {self.finetune_lr_scale!r})")
        if problems:
            raise ValueError("Bad training recipe: " + "; ".join(problems) + ".")

    def to_dict(self):
        return {**dataclasses.asdict(self), "step_at": list(self.step_at)}

    @classmethod
    def from_dict(cls, data):
        data = dict(data)
        if "step_at" in data:
            data["step_at"] = tuple(data["step_at"])
        return cls(**data)


# Starting points; the GPU presets are to be tuned on a GPU.
# The DenseNet paper: batch 64, lr 0.1, /10 at 50% and 75% of 300 epochs,
# L2 1e-4 (1e-3 decoupled, see Recipe.weight_decay), no label smoothing.
_PAPER = Recipe(
    epochs=300,
    batch_size=64,
    lr=0.1,
    weight_decay=1e-3,
    schedule="step",
    warmup_epochs=0.0,
    label_smoothing=0.0,
)
PRESETS = {
    # SGD-Nesterov, 2-epoch warm-up then cosine, label smoothing: a sound default.
    "default": Recipe(),
    "paper": _PAPER,
    # A short one-cycle run with large batches and cutout, aimed at ~94%.
    # Flip test-time augmentation; the test pass every 4 epochs keeps it off the hot path.
    "fast94": Recipe(
        epochs=40,
        batch_size=512,
        lr=0.4,
        weight_decay=5e-3,
        schedule="onecycle",
        warmup_epochs=8.0,
        label_smoothing=0.2,
        cutout=12,
        tta_flip=True,
        eval_every=4,
    ),
    # The paper's DenseNet-BC-100 k=12 recipe (95.49% in the paper) with flip
    # test-time augmentation, and the test pass and checkpoint every 10 epochs
    # to keep them off the hot path: the starting point for 95.5% on a GPU.
    "paper95": dataclasses.replace(_PAPER, tta_flip=True, eval_every=10, checkpoint_every=10),
    # Keras's transfer-learning guide on an image folder: 3 epochs of the new head on the
    # frozen backbone, then 5 of the unfrozen backbone at a tenth of the rate (AdamW).
    "finetune": Recipe(
        epochs=8,
        head_epochs=3,
        batch_size=32,
        optimizer="adamw",
        lr=1e-3,
        finetune_lr_scale=0.1,
        weight_decay=1e-4,
        warmup_epochs=0.0,
        label_smoothing=0.1,
        crop_padding=0,
    ),
}


def preset(name, **overrides):
    """Returns the named preset recipe with `overrides` applied.

    When `epochs` is overridden and `warmup_epochs` is not, the warm-up is
    capped at a fifth of the epochs.

    Example:
        >>> preset("paper", epochs=10).schedule
        'step'
    """
    if name not in PRESETS:
        raise ValueError(f"Unknown recipe preset {name!r}; choose one of {sorted(PRESETS)}.")
    base = PRESETS[name]
    if "epochs" in overrides and "head_epochs" not in overrides:
        overrides["head_epochs"] = min(base.head_epochs, overrides["epochs"])
    if "epochs" in overrides and "warmup_epochs" not in overrides:
        # Shorter runs keep the preset's warm-up, but at most a fifth of the epochs.
        overrides["warmup_epochs"] = min(base.warmup_epochs, overrides["epochs"] / 5)
    return dataclasses.replace(base, **overrides)


def auto_bn_momentum(total_steps):
    """Batch-norm momentum for a run of `total_steps` training steps.

    The moving statistics average over about `1 / (1 - momentum)` steps; this
    keeps that window at a tenth of the run (at least 2 steps), capped at
    Keras's 0.99, so the statistics at the end describe the final weights.
    A 2-epoch run of 39 steps an epoch gets 0.87; runs of 1,000 steps or more
    get 0.99.

    Example:
        >>> auto_bn_momentum(78)
        0.8717948717948718
    """
    return min(0.99, max(0.5, 1.0 - 10.0 / max(total_steps, 1)))
