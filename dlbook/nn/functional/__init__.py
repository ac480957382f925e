"""Functional forms (no parameters, no state) of what the layers in :mod:`dlbook.nn` compute."""

from .linear import linear, linear_backward
from .loss import (cross_entropy, cross_entropy_backward, log_softmax, multi_margin_loss,
                   multi_margin_loss_backward, softmax)

# -- functional forms of chapter 3 (issue 4) ----------------------------------------
from .activation import (leaky_relu, leaky_relu_backward, log_softmax_backward, relu, relu_backward,
                         sigmoid, sigmoid_backward, softmax_backward, tanh, tanh_backward)
# -- end chapter 3 -------------------------------------------------------------------

# -- functional forms of chapter 4 (issue 5) ----------------------------------------
from .conv import (avg_pool2d, avg_pool2d_backward, avg_pool2d_forward, conv2d, conv2d_backward,
                   conv2d_forward, max_pool2d, max_pool2d_backward, max_pool2d_forward,
                   max_pool2d_with_indices)
# -- end chapter 4 -------------------------------------------------------------------

# -- functional forms of chapter 5 (issue 11) ---------------------------------------
from .adaptive_pool import (adaptive_avg_pool2d, adaptive_avg_pool2d_backward,
                            adaptive_avg_pool2d_forward, adaptive_pool_bins)
from .normalization import (local_response_norm, local_response_norm_backward,
                            local_response_norm_forward)
# -- end chapter 5 -------------------------------------------------------------------

# -- functional forms of chapter 6 (issue 12) ---------------------------------------
from . import recurrent
from .recurrent import (input_part, lstm_cell, lstm_cell_backward, lstm_cell_forward,
                        recurrent_weight_grads, rnn_cell, rnn_cell_backward, rnn_cell_forward)
# -- end chapter 6 -------------------------------------------------------------------

# -- functional forms of chapter 9 (issue 15) ---------------------------------------
from .loss import (binary_cross_entropy, binary_cross_entropy_backward, binary_cross_entropy_with_logits,
                   binary_cross_entropy_with_logits_backward, log_sigmoid)
from .pixelshuffle import (pixel_shuffle, pixel_shuffle_backward, pixel_unshuffle,
                           pixel_unshuffle_backward)
# -- end chapter 9 -------------------------------------------------------------------
