"""Modules: layers that own their weights, composed into models (``torch.nn``'s names).

One file per kind of layer, as in ``torch/nn/modules/``: :mod:`.module` (the base class), :mod:`.parameter`,
:mod:`.container`, :mod:`.linear`, :mod:`.activation`, :mod:`.flatten`, :mod:`.dropout`, :mod:`.sparse`,
:mod:`.normalization`, :mod:`.loss`; the layers for images live in :mod:`sevensteps.layers`.
"""

from . import init
from .activation import LogSoftmax, ReLU, Sigmoid, Softmax, Tanh
from .container import ModuleDict, ModuleList, Sequential
from .dropout import Dropout
from .flatten import Flatten
from .linear import Identity, Linear
from .loss import BCELoss, BCEWithLogitsLoss, CrossEntropyLoss, L1Loss, MSELoss, NLLLoss
from .module import IncompatibleKeys, Module, ShapeMismatchError, StateDictError
from .normalization import LayerNorm
from .parameter import Parameter
from .sparse import Embedding

__all__ = [
    "BCELoss", "BCEWithLogitsLoss", "CrossEntropyLoss", "Dropout", "Embedding", "Flatten", "Identity",
    "IncompatibleKeys", "L1Loss", "LayerNorm", "Linear", "LogSoftmax", "MSELoss", "Module", "ModuleDict",
    "ModuleList", "NLLLoss", "Parameter", "ReLU", "Sequential", "Sigmoid", "Softmax", "Tanh", "init",
]

# Each class says it is ``sevensteps.nn.X``, the name users import it by (as NumPy's ``set_module`` does), so
# reprs, help() and the export's check of a model's layers (checkpoint.describe_model) are as before the split.
for _cls in [*(globals()[name] for name in __all__), ShapeMismatchError, StateDictError]:
    if isinstance(_cls, type):
        _cls.__module__ = __name__
del _cls


# Layers for images build on Module above; they live in layers.py, under torch.nn's names.
from ..layers import (  # noqa: E402, F401
    AdaptiveAvgPool2d,
    AvgPool2d,
    BatchNorm1d,
    BatchNorm2d,
    Conv2d,
    MaxPool2d,
    RandomShift,
    Unflatten,
)
from . import functional  # noqa: E402, F401  (sevensteps.nn.functional, as torch.nn.functional)
