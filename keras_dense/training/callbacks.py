"""`RunRecorder`: the one callback of a training run; it acts at epoch ends only.

Why not Keras's `TerminateOnNaN`, `ModelCheckpoint`, `CSVLogger` and
`BackupAndRestore`: `TerminateOnNaN` reads the loss after every batch, a
device-to-host sync per step; a callback with any per-batch hook also turns
off Keras's asynchronous callback dispatch. The checkpoint files and their
reasons are in `keras_dense.training.run_folder`.

Example:
    >>> recorder = RunRecorder(run_dir, state, recipe, (x_test, y_test), loss, train_images=49_920)
    >>> model.fit(batches, epochs=recipe.epochs, callbacks=[recorder])
"""

import math
import pathlib
import time

import keras

from keras_dense.training import evaluation, plots, run_folder


class RunRecorder(keras.callbacks.Callback):
    """After each epoch: stops on a non-finite loss, tests when due, writes the run folder.

    Per epoch, in order: a NaN or infinite epoch loss stops training before
    anything of that epoch is written (the last good checkpoint stays); every
    `recipe.eval_every` epochs and after the last, a test pass
    (`evaluation.epoch_test_metrics`: averaged weights with `use_ema`, flip
    test-time augmentation with `tta_flip`) adds `val_loss` / `val_accuracy`
    to the logs and writes `best.keras` when the accuracy improved; every
    `recipe.checkpoint_every` epochs and after the last, `last.keras` with the
    run state and `curves.png`; always `history.csv`.

    Args:
        run_dir: the run folder.
        state: the run state (`epoch`, `history`, `best_accuracy`, `best_epoch`).
        recipe: the run's `Recipe`.
        test: `(x_test, y_test)`.
        loss: the training loss object (for `val_loss`).
        train_images: images trained on per epoch (for images/s).
    """

    def __init__(self, run_dir, state, recipe, test, loss, train_images):
        super().__init__()
        self.run_dir = pathlib.Path(run_dir)
        self.history = list(state["history"])
        self.best_accuracy = state.get("best_accuracy")
        self.best_epoch = state.get("best_epoch")
        self.recipe = recipe
        self.test = test
        self.loss = loss
        self.train_images = train_images
        self.eval_batch = evaluation.eval_batch_size(recipe.batch_size)
        self.diverged = None
        self.predictions = None  # test predictions of the last tested epoch
        self._epoch_start = None

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch_start = time.perf_counter()

    def _due(self, epoch, every):
        return epoch == self.recipe.epochs or epoch % every == 0

    def on_epoch_end(self, epoch, logs=None):
        logs = logs if logs is not None else {}
        train_end = time.perf_counter()
        loss = float(logs["loss"])
        if not math.isfinite(loss):
            self.diverged = (epoch + 1, loss)
            self.model.stop_training = True
            return
        done = epoch + 1
        train_seconds = train_end - self._epoch_start
        row = {
            "epoch": done,
            "loss": loss,
            "accuracy": float(logs["accuracy"]),
            "val_loss": None,
            "val_accuracy": None,
            "lr": float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate)),
            "train_seconds": train_seconds,
            "images_per_second": self.train_images / max(train_seconds, 1e-9),
        }
        if self._due(done, self.recipe.eval_every):
            self._test(row, logs)
        row["epoch_seconds"] = time.perf_counter() - self._epoch_start
        self.history.append(row)
        if self._due(done, self.recipe.checkpoint_every):
            state = {
                "epoch": done,
                "history": self.history,
                "best_accuracy": self.best_accuracy,
                "best_epoch": self.best_epoch,
            }
            run_folder.save_model_atomic(self.model, self.run_dir / run_folder.LAST_FILE, state)
            plots.plot_curves(self.history, self.run_dir / "curves.png")
        run_folder.write_history(self.run_dir, self.history)

    def _test(self, row, logs):
        with evaluation.averaged_weights(self.model):  # one swap for the test and best.keras
            result = evaluation.epoch_test_metrics(
                self.model, self.test, self.loss, self.eval_batch, self.recipe.tta_flip
            )
            self.predictions = result["predictions"]
            row["val_loss"], row["val_accuracy"] = result["val_loss"], result["val_accuracy"]
            logs.update(val_loss=row["val_loss"], val_accuracy=row["val_accuracy"])
            if self.best_accuracy is None or row["val_accuracy"] > self.best_accuracy:
                self.best_accuracy, self.best_epoch = row["val_accuracy"], row["epoch"]
                run_folder.save_model_atomic(self.model, self.run_dir / run_folder.BEST_FILE)
