r"""Chapter 2's two-layer network written as cs231n-style forward/backward pairs with explicit caches.

``Linear -> activation -> Linear -> cross-entropy``. Layouts follow ``torch.nn.Linear``: samples
are rows, ``weight`` is (out_features, in_features), so a layer computes $y = x W^\top + b$ and
its backward pass is the transpose of the chapter's column form
$\partial g/\partial X = W^\top\,\partial h/\partial Y$: ``dx = dy @ W``, ``dW = dy.T @ x``,
``db = dy.sum(0)``. The arithmetic is :mod:`dlbook.nn.functional`'s; these pairs only make
the caches visible.
"""

from __future__ import annotations

import numpy as np

from ..nn import functional as F
from ..nn.functional import cross_entropy, cross_entropy_backward
from ..nn.init import default_uniform_


def linear_forward(x: np.ndarray, weight: np.ndarray, bias: np.ndarray):
    """y = x @ weight.T + bias.  x: (N, D), weight: (H, D), bias: (H,) -> y: (N, H), cache."""
    if x.ndim != 2 or weight.ndim != 2 or x.shape[1] != weight.shape[1] or bias.shape != (weight.shape[0],):
        raise ValueError(f"linear_forward expects x (N, D), weight (H, D), bias (H,); got x {x.shape}, "
                         f"weight {weight.shape}, bias {bias.shape}")
    return F.linear(x, weight, bias), (x, weight)


def linear_backward(dy: np.ndarray, cache):
    """dy: (N, H) -> dx (N, D) = dy W, dweight (H, D) = dyᵀ x,
    dbias (H,) = column sums of dy."""
    x, weight = cache
    if dy.shape != (x.shape[0], weight.shape[0]):
        raise ValueError(f"linear_backward expects dy of shape "
                         f"{(x.shape[0], weight.shape[0])}, got {dy.shape}")
    return F.linear_backward(dy, x, weight)


def relu_forward(x: np.ndarray):
    """max(x, 0) elementwise; the cache is the input."""
    return F.relu(x), x


def relu_backward(dy: np.ndarray, cache) -> np.ndarray:
    """The gradient passes where the input was positive (0 at x = 0, as torch does)."""
    return F.relu_backward(dy, cache)


def sigmoid_forward(x: np.ndarray):
    """1 / (1 + exp(-x)), computed without overflow; the cache is the output."""
    out = F.sigmoid(x)
    return out, out


def sigmoid_backward(dy: np.ndarray, cache) -> np.ndarray:
    """σ'(x) = σ(x)(1 − σ(x)), read off the cached output."""
    return F.sigmoid_backward(dy, cache)


ACTIVATIONS = {"relu": (relu_forward, relu_backward), "sigmoid": (sigmoid_forward, sigmoid_backward)}
PARAM_NAMES = ("fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias")


def init_mlp(in_features: int, hidden: int, classes: int, seed: int = 0) -> dict[str, np.ndarray]:
    """float64 parameters drawn like torch.nn.Linear's default: U(-1/sqrt(fan_in), 1/sqrt(fan_in))."""
    for what, v in (("in_features", in_features), ("hidden", hidden), ("classes", classes)):
        if not isinstance(v, (int, np.integer)) or v < 1:
            raise ValueError(f"{what} must be a positive int, got {v!r}")
    rng = np.random.default_rng(seed)
    shapes = {"fc1.weight": (hidden, in_features), "fc1.bias": (hidden,),
              "fc2.weight": (classes, hidden), "fc2.bias": (classes,)}
    fan_in = {"fc1": in_features, "fc2": hidden}
    return {name: default_uniform_(np.empty(shape), fan_in[name[:3]], rng) for name, shape in shapes.items()}


def _check_mlp(params: dict, x: np.ndarray, activation: str) -> None:
    missing = [k for k in PARAM_NAMES if k not in params]
    if missing:
        raise KeyError(f"params lack {missing}; expected keys {PARAM_NAMES} (see init_mlp)")
    if activation not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}, got {activation!r}")
    if not isinstance(x, np.ndarray) or x.ndim != 2:
        raise ValueError(f"x must be an array of shape (N, in_features), got {getattr(x, 'shape', type(x).__name__)}")
    if params["fc2.weight"].shape[1] != params["fc1.weight"].shape[0]:
        raise ValueError(f"fc2.weight {params['fc2.weight'].shape} must take fc1's "
                         f"{params['fc1.weight'].shape[0]} hidden units")


def mlp_forward(params: dict, x: np.ndarray, activation: str = "relu"):
    """Layer by layer: z1 = x W1ᵀ + b1, a1 = act(z1), scores = a1 W2ᵀ + b2.

    x: (N, D) -> scores (N, C), and the caches of the three layers
    (what backward needs).
    """
    _check_mlp(params, x, activation)
    act_forward, _ = ACTIVATIONS[activation]
    z1, fc1_cache = linear_forward(x, params["fc1.weight"], params["fc1.bias"])
    a1, act_cache = act_forward(z1)
    scores, fc2_cache = linear_forward(a1, params["fc2.weight"], params["fc2.bias"])
    return scores, {"fc1": fc1_cache, "act": act_cache, "fc2": fc2_cache,
                    "activation": activation}


def mlp_backward(dscores: np.ndarray, caches: dict) -> dict[str, np.ndarray]:
    """The same layers in reverse, each turning the upstream gradient into its own:
    (N, C) -> grads by name."""
    _, act_backward = ACTIVATIONS[caches["activation"]]
    da1, grads_w2, grads_b2 = linear_backward(dscores, caches["fc2"])
    dz1 = act_backward(da1, caches["act"])
    _, grads_w1, grads_b1 = linear_backward(dz1, caches["fc1"])
    return {"fc1.weight": grads_w1, "fc1.bias": grads_b1,
            "fc2.weight": grads_w2, "fc2.bias": grads_b2}


def mlp_loss_and_grads(params: dict, x: np.ndarray, y: np.ndarray, activation: str = "relu"):
    """Mean softmax cross-entropy of the MLP on (x, y) and its gradient for every parameter."""
    scores, caches = mlp_forward(params, x, activation)
    loss = float(cross_entropy(scores, y))
    return loss, mlp_backward(cross_entropy_backward(scores, y), caches)


def torch_mlp_loss_and_grads(params: dict, x: np.ndarray, y: np.ndarray, activation: str = "relu", device=None):
    """The reference: the same MLP in torch (float64), gradients by autograd."""
    import torch
    import torch.nn.functional as F

    from ..devices import resolve_device

    _check_mlp(params, x, activation)
    device = resolve_device(device)
    p = {k: torch.tensor(params[k], dtype=torch.float64, device=device, requires_grad=True) for k in PARAM_NAMES}
    xt = torch.tensor(x, dtype=torch.float64, device=device)
    act = torch.relu if activation == "relu" else torch.sigmoid
    scores = F.linear(act(F.linear(xt, p["fc1.weight"], p["fc1.bias"])), p["fc2.weight"], p["fc2.bias"])
    loss = F.cross_entropy(scores, torch.as_tensor(y, device=device))
    loss.backward()
    return loss.item(), {k: v.grad.cpu().numpy() for k, v in p.items()}


def train_mlp_on_digits(hidden: int = 64, steps: int = 300, lr: float = 0.5, seed: int = 0) -> dict:
    """Full-batch gradient descent on the digits: the network of :func:`init_mlp` (ReLU hidden
    layer) as ``dlbook.nn`` layers, trained by :func:`dlbook.train.fit` with one batch of all the
    training digits, so each epoch is one step.

    Returns ``{"losses": (steps,) training loss after each step, "test_acc": float,
    "params": final parameters by the names of :func:`init_mlp`}``.
    """
    from threadpoolctl import threadpool_limits  # installed with scikit-learn

    from .. import nn
    from ..data import load_digits_split
    from ..optim import SGD
    from ..train import evaluate, fit

    split = load_digits_split(seed=seed)
    params = init_mlp(split.X_train.shape[1], hidden, split.n_classes, seed=seed)
    net = nn.Sequential(nn.Linear(split.X_train.shape[1], hidden, dtype=np.float64), nn.ReLU(),
                        nn.Linear(hidden, split.n_classes, dtype=np.float64))
    net.load_state_dict({k.replace("fc1", "0").replace("fc2", "2"): v for k, v in params.items()})
    loss_fn = nn.CrossEntropyLoss()
    # matrices this small gain nothing from BLAS threads, and on a busy machine their
    # synchronisation costs 100x (measured: 15 ms vs 0.13 ms for a (1347, 10) @ (10, 64) product)
    with threadpool_limits(1, user_api="blas"):
        history = fit(net, loss_fn, SGD(net.parameters(), lr=lr), split.X_train, split.y_train,
                      epochs=steps, batch_size=len(split.X_train), seed=seed, desc="MLP on digits")
    trained = {name: np.array(net.state_dict()[name.replace("fc1", "0").replace("fc2", "2")])
               for name in PARAM_NAMES}
    return {"losses": np.array(history.train_loss), "params": trained,
            "test_acc": evaluate(net, loss_fn, split.X_test, split.y_test)[1]}
