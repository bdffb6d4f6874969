"""torchvision for the tests: the import that works beside the CPU torch; trained-like weights."""

import importlib.util
import sys
import types

import numpy as np
import pytest


def import_torchvision():
    """`(torch, torchvision)`, or skip the test with the reason.

    torchvision 0.28.0 (the release matching torch 2.13.0) is built against
    the CUDA torch wheel; beside the local CPU wheel, `import torchvision`
    fails while registering its compiled operators
    (`torchvision._meta_registrations`: "operator torchvision::nms does not
    exist"). Its model definitions are pure Python and need none of those
    operators, so that one module is replaced by an empty module before the
    import.
    """
    torch = pytest.importorskip("torch", reason="torch is not installed: pip install torch==2.13.0")
    if importlib.util.find_spec("torchvision") is None:
        pytest.skip("torchvision is not installed: pip install torchvision==0.28.0 --no-deps")
    if "torchvision" not in sys.modules:
        sys.modules.setdefault(
            "torchvision._meta_registrations", types.ModuleType("torchvision._meta_registrations")
        )
    import torchvision

    return torch, torchvision


def randomize_like_trained(module, batch, seed=0, small_gamma=()):
    """Seeded random batch-norm scales and shifts, statistics from `batch`, then perturbed.

    Running statistics computed on the batch keep every layer's activations
    near unit scale (so deep networks neither vanish nor overflow), and the
    perturbation makes them differ from the batch's: eval-mode outputs then
    depend on every statistic being converted into its place.

    Args:
        module: the torchvision model.
        batch: an NCHW batch of preprocessed images.
        seed: the seed.
        small_gamma: name endings of the batch norms whose scales are drawn
            from [0.1, 0.3] instead of [0.5, 1.5]: the last one of each
            residual branch, so that the branches add small corrections as in
            a trained ResNet (torchvision's `zero_init_residual` starts them at
            0). Random deep ResNets with unit-scale branches amplify float32
            rounding to ~1e-3 (torch's own float32 and float64 outputs differ
            that much), which would hide what the comparison is for.
    """
    import torch

    generator = torch.Generator().manual_seed(seed)
    norms = [(name, m) for name, m in module.named_modules() if isinstance(m, torch.nn.BatchNorm2d)]
    aux_head = getattr(module, "AuxLogits", None)  # Inception v3's needs 299x299 inputs
    if not norms:
        return module.eval()
    with torch.no_grad():
        for name, norm in norms:
            low, high = (0.1, 0.3) if small_gamma and name.endswith(small_gamma) else (0.5, 1.5)
            norm.weight.uniform_(low, high, generator=generator)
            norm.bias.normal_(0.0, 0.1, generator=generator)
            norm.reset_running_stats()
            norm.momentum = None  # a cumulative average: one batch gives its own statistics
        module.train()
        if aux_head is not None:
            module.AuxLogits = None
        module(batch)
        if aux_head is not None:
            module.AuxLogits = aux_head
        module.eval()
        for _, norm in norms:
            size = norm.num_features
            norm.running_mean.add_(
                0.1 * torch.randn(size, generator=generator) * norm.running_var.sqrt()
            )
            norm.running_var.mul_(torch.empty(size).uniform_(0.8, 1.25, generator=generator))
    return module


def torch_outputs(module, images):
    """`module`'s eval-mode outputs for channels-last `images`, as NumPy."""
    import torch

    with torch.no_grad():
        return module(torch.from_numpy(np.ascontiguousarray(images.transpose(0, 3, 1, 2)))).numpy()
