"""NumPy layers with hand-written forward and backward passes that mirror ``torch.nn``.

Every class here has the name, constructor arguments, parameter names and layouts of
its torch twin; see :mod:`dlbook.nn.module` for the contract.
"""

from .module import Module, Parameter, accumulate_grad, is_grad_enabled, no_grad
from .bridge import from_torch, to_torch

from . import functional, init
from .activation import LeakyReLU, LogSoftmax, ReLU, Sigmoid, Softmax, Tanh
from .batchnorm import BatchNorm1d, BatchNorm2d
from .container import Flatten, ModuleList, Sequential
from .conv import Conv2d
from .dropout import Dropout
from .linear import Linear
from .loss import CrossEntropyLoss, MSELoss, MultiMarginLoss
from .naive_conv import naive_conv2d
from .normalization import LocalResponseNorm
from .pooling import AdaptiveAvgPool2d, AvgPool2d, MaxPool2d
from .regularization import l2_penalty, l2_penalty_backward, weight_norm

# -- chapter 6 (issue 12): recurrent layers, embeddings, gradient clipping ------------
from . import utils
from .rnn import LSTM, RNN, LSTMCell, RNNCell
from .sparse import Embedding
# -- end chapter 6 -------------------------------------------------------------------

# -- chapter 9 (issue 15): pixel shuffle (sub-pixel convolution), binary cross-entropy -
from .loss import BCELoss, BCEWithLogitsLoss
from .pixelshuffle import PixelShuffle, PixelUnshuffle
from .activation import PReLU
# -- end chapter 9 -------------------------------------------------------------------
