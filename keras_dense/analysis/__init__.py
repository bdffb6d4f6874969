"""Inspecting models: MAC/FLOP counts, summaries, the record tables, and Grad-CAM.

`gradcam` (`keras_dense.gradcam`) is imported on use: it needs the backend's autodiff.

Example:
    >>> from keras_dense import analysis
    >>> analysis.count_flops(model)
    >>> analysis.summarize(model, per_layer=True)
"""

from keras_dense.analysis.flops import count_flops, count_macs, layer_macs
from keras_dense.analysis.summary import model_totals, summarize

__all__ = ["count_flops", "count_macs", "layer_macs", "model_totals", "summarize"]
