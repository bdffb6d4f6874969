"""The on-device augmentation layer and the recipe's schedules and checks."""

import keras
import numpy as np
import pytest

from keras_dense.training import optim
from keras_dense.training.augment import CIFAR10_MEAN, CIFAR10_STD, ImageAugmentation
from keras_dense.training.recipe import PRESETS, Recipe, preset


def _images(n=8, seed=0):
    return np.random.default_rng(seed).integers(0, 256, size=(n, 32, 32, 3), dtype=np.uint8)


def _normalized(images):
    return (images.astype("float32") / 255.0 - np.array(CIFAR10_MEAN, "float32")) / np.array(
        CIFAR10_STD, "float32"
    )


def test_inference_only_normalises():
    images = _images()
    out = keras.ops.convert_to_numpy(ImageAugmentation(cutout=8)(images, training=False))
    assert out.dtype == np.float32 and out.shape == images.shape
    np.testing.assert_allclose(out, _normalized(images), rtol=1e-5, atol=1e-5)


def test_training_output_is_a_shifted_maybe_flipped_window_of_the_padded_image():
    images = _images(16)
    out = keras.ops.convert_to_numpy(ImageAugmentation(padding=4, seed=3)(images, training=True))
    assert out.dtype == np.float32 and out.shape == images.shape
    padded = _normalized(np.pad(images, [(0, 0), (4, 4), (4, 4), (0, 0)]))
    seen = set()
    for i in range(len(images)):
        matches = [
            (dy, dx, flip)
            for dy in range(9)
            for dx in range(9)
            for flip in (False, True)
            if np.allclose(
                (
                    padded[i, dy : dy + 32, dx : dx + 32][:, ::-1]
                    if flip
                    else padded[i, dy : dy + 32, dx : dx + 32]
                ),
                out[i],
                atol=1e-5,
            )
        ]
        assert matches, f"image {i} is no crop of its padded copy"
        seen.add(matches[0])
    assert len(seen) > 8  # offsets and flips really vary over the batch
    assert {flip for _, _, flip in seen} == {False, True}


def test_same_seed_same_augmentation_other_seed_differs():
    images = _images()
    first = ImageAugmentation(cutout=8, seed=7)(images, training=True)
    again = ImageAugmentation(cutout=8, seed=7)(images, training=True)
    other = ImageAugmentation(cutout=8, seed=8)(images, training=True)
    np.testing.assert_array_equal(
        keras.ops.convert_to_numpy(first), keras.ops.convert_to_numpy(again)
    )
    assert not np.allclose(keras.ops.convert_to_numpy(first), keras.ops.convert_to_numpy(other))


def test_cutout_zeroes_one_square_at_most_size_by_size():
    images = np.full((32, 32, 32, 3), 200, dtype=np.uint8)  # no pixel normalises to 0
    out = keras.ops.convert_to_numpy(
        ImageAugmentation(padding=0, flip=False, cutout=8, seed=1)(images, training=True)
    )
    zero = np.all(out == 0, axis=-1)
    areas = zero.sum(axis=(1, 2))
    assert areas.max() == 64 and areas.min() >= 16  # clipped at borders, centre inside
    for mask in zero:
        rows, cols = np.nonzero(mask)
        assert mask[rows.min() : rows.max() + 1, cols.min() : cols.max() + 1].all()  # one rectangle
    np.testing.assert_allclose(out[~zero], _normalized(images)[~zero], atol=1e-5)


def test_layer_config_round_trip_and_bad_arguments():
    layer = ImageAugmentation(padding=2, flip=False, cutout=4, seed=5)
    clone = ImageAugmentation.from_config(layer.get_config())
    assert (clone.padding, clone.flip, clone.cutout, clone.seed) == (2, False, 4, 5)
    with pytest.raises(ValueError, match="padding and cutout must be >= 0"):
        ImageAugmentation(padding=-1)


def _lr(schedule, step):
    return float(keras.ops.convert_to_numpy(schedule(step)))


def test_cosine_schedule_warms_up_then_decays_to_zero():
    recipe = Recipe(epochs=10, lr=0.2, warmup_epochs=2, schedule="cosine")
    schedule = optim.make_schedule(recipe, steps_per_epoch=10)
    assert _lr(schedule, 0) == pytest.approx(0.0)
    assert _lr(schedule, 10) == pytest.approx(0.1, rel=1e-4)
    assert _lr(schedule, 20) == pytest.approx(0.2, rel=1e-4)
    assert _lr(schedule, 60) == pytest.approx(0.1, rel=1e-3)  # half-way down the cosine
    assert _lr(schedule, 100) == pytest.approx(0.0, abs=1e-6)


def test_onecycle_and_step_schedules():
    recipe = Recipe(epochs=10, lr=0.4, warmup_epochs=3, schedule="onecycle")
    schedule = optim.make_schedule(recipe, steps_per_epoch=10)
    assert _lr(schedule, 0) == pytest.approx(0.4 / 25, rel=1e-4)
    assert _lr(schedule, 30) == pytest.approx(0.4, rel=1e-4)
    assert _lr(schedule, 100) == pytest.approx(0.4 / 1e4, rel=1e-3)
    restored = optim.OneCycle.from_config(schedule.get_config())
    assert _lr(restored, 55) == pytest.approx(_lr(schedule, 55))

    step = optim.make_schedule(Recipe(epochs=8, lr=0.1, schedule="step", warmup_epochs=0), 5)
    assert [round(_lr(step, s), 6) for s in (0, 20, 21, 30, 31)] == [0.1, 0.1, 0.01, 0.01, 0.001]


def test_optimizers_follow_the_recipe():
    sgd = optim.make_optimizer(Recipe(epochs=4, weight_decay=1e-3), steps_per_epoch=5)
    assert isinstance(sgd, keras.optimizers.SGD) and sgd.nesterov and sgd.momentum == 0.9
    assert sgd.weight_decay == pytest.approx(1e-3)
    adamw = optim.make_optimizer(Recipe(epochs=4, optimizer="adamw", lr=1e-3, weight_decay=0.05), 5)
    assert isinstance(adamw, keras.optimizers.AdamW)
    loss = optim.make_loss(Recipe(label_smoothing=0.2))
    value = loss(np.eye(10, dtype="float32")[:1], np.eye(10, dtype="float32")[:1] * 0.99 + 0.001)
    assert float(keras.ops.convert_to_numpy(value)) > 0.3  # smoothing penalises confidence


def test_bad_recipes_and_presets_are_refused():
    with pytest.raises(ValueError, match="optimizer must be one of"):
        Recipe(optimizer="rmsprop")
    with pytest.raises(ValueError, match="label_smoothing must be in"):
        Recipe(label_smoothing=1.5)
    with pytest.raises(ValueError, match="Unknown recipe preset 'fast'"):
        preset("fast")
    assert {"default", "paper", "paper95", "fast94"} <= set(PRESETS)
    assert preset("default", epochs=5).warmup_epochs == 1.0
    assert Recipe.from_dict(PRESETS["paper"].to_dict()) == PRESETS["paper"]
    # paper95 trains as the paper does; it only tests with flips, and less often.
    loop_only = {"tta_flip", "eval_every", "checkpoint_every"}
    paper, paper95 = PRESETS["paper"].to_dict(), PRESETS["paper95"].to_dict()
    assert {key for key in paper if paper[key] != paper95[key]} == loop_only
    for field, bad in (
        ("eval_every", 0),
        ("steps_per_execution", 1.5),
        ("bn_momentum", 1.0),
        ("ema_momentum", 0.0),
    ):
        with pytest.raises(ValueError, match=field):
            Recipe(**{field: bad})
    # A config.json written before these options existed still loads, with their defaults.
    old = {key: value for key, value in PRESETS["paper"].to_dict().items() if key not in loop_only}
    assert Recipe.from_dict(old).eval_every == 1


def test_mixed_precision_values_name_keras_dtype_policies():
    from keras_dense.training.trainer import dtype_policy_name

    assert dtype_policy_name(None, accelerator=None) == "float32"
    assert dtype_policy_name(None, accelerator="NVIDIA H100") == "mixed_float16"
    assert dtype_policy_name("bfloat16", accelerator=None) == "mixed_bfloat16"
    assert dtype_policy_name(True, accelerator=None) == "mixed_float16"
    with pytest.raises(ValueError, match="mixed_precision must be"):
        dtype_policy_name("int8", accelerator=None)
