"""One training loop for every model of the book: NumPy (:mod:`dlbook.nn`) and torch alike.

:func:`fit` runs epochs of shuffled minibatches. Each step is the same five moves in both
worlds: clear the gradients, forward, loss, backward, optimizer step. For a NumPy model
"backward" is ``model.backward(loss_fn.backward())``; for a torch model it is
``loss.backward()``. After each epoch the model is evaluated (in eval mode, without saving
anything for backward) on the training and the validation data, and a :class:`History` keeps
the curves.

Three hooks let later chapters change a step without writing a new loop:

* ``before_step(model)`` runs between backward and the optimizer step (gradient clipping for
  recurrent networks);
* ``after_step(model)`` runs after the optimizer step (Keras-style weight constraints);
* ``train_step(x, y) -> float | dict`` replaces the whole step (a GAN alternates two
  optimizers): the loop still shuffles, batches, shows progress and records what the step
  returns, averaged per epoch, in ``History.tracked``.

Recurrent language models use :func:`tbptt_step` as the ``train_step``: truncated
backpropagation through time, the recurrent state carried from each batch to the next
(``shuffle=False`` and data laid out by :func:`dlbook.data.tbptt_windows`).

Checkpoints (torch models): ``fit(..., checkpoint=path)`` saves after every epoch everything
needed to go on (weights, optimizer and scheduler state, the curves, the batch-order and torch
random states); ``fit(..., resume_from=path)`` continues such a run, with the same result as a
run that never stopped.

Several processes: a torch model wrapped in ``DistributedDataParallel`` (launched by
``torchrun``) is trained by the same loop: ``batch_size`` is then the global batch, each process
takes its share of every batch (the rows ``rank, rank + world_size, ...``, the rule of torch's
``DistributedSampler``), DDP averages the gradients, and only rank 0 shows progress and writes
checkpoints. See :mod:`dlbook.experiments.distributed`.

Sequence outputs: a model may map (N, L) inputs to (N, L, C) scores with (N, L) integer
targets (a character model's logits); the loss must then average over all N·L positions
(e.g. flatten to (N·L, C)), and the accuracy :func:`evaluate` reports is over positions.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
from tqdm.auto import tqdm

from .data import minibatches
from .nn.module import Module, no_grad


@dataclass
class History:
    """Per-epoch curves. ``*_acc`` is NaN when targets are not class indices; ``val_*`` is
    empty without validation data; ``tracked[name]`` holds each ``track`` function's values
    and each quantity a custom ``train_step`` returned. ``best_epoch`` (0-based) is the epoch of
    the lowest validation loss when early stopping was on; ``stopped_early`` says whether it cut
    the run short."""

    train_loss: list[float] = field(default_factory=list)
    train_acc: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    val_acc: list[float] = field(default_factory=list)
    tracked: dict[str, list[float]] = field(default_factory=dict)
    best_epoch: int | None = None
    stopped_early: bool = False

    @property
    def epochs(self) -> int:
        return max(len(self.train_loss), *(len(v) for v in self.tracked.values()), 0)

    def plot(self, metric: str = "loss", ax=None, lang: str = "en", logy: bool = False):
        """Training and validation curves of ``metric`` ("loss", "acc" or a tracked name) per epoch."""
        import matplotlib.pyplot as plt

        words = {"zh": {"train": "训练集", "val": "验证集", "epoch": "轮（epoch）", "loss": "损失",
                        "acc": "准确率"},
                 "en": {"train": "training set", "val": "validation set", "epoch": "epoch", "loss": "loss",
                        "acc": "accuracy"}}
        if lang not in words:
            raise ValueError(f"lang must be 'zh' or 'en', got {lang!r}")
        w = words[lang]
        if metric in ("loss", "acc"):
            curves = {w["train"]: getattr(self, f"train_{metric}"), w["val"]: getattr(self, f"val_{metric}")}
        elif metric in self.tracked:
            curves = {metric: self.tracked[metric]}
        else:
            raise KeyError(f"no curve {metric!r}: expected 'loss', 'acc' or one of {sorted(self.tracked)}")
        ax = ax or plt.subplots(figsize=(5, 3.2))[1]
        for label, values in curves.items():
            if len(values):
                ax.plot(np.arange(1, len(values) + 1), values, label=label)
        if self.best_epoch is not None:
            ax.axvline(self.best_epoch + 1, color="gray", linestyle=":", linewidth=1)
        ax.set_xlabel(w["epoch"])
        ax.set_ylabel(w.get(metric, metric))
        if logy:
            ax.set_yscale("log")
        ax.legend()
        return ax


def _is_torch(model) -> bool:
    import torch

    return isinstance(model, torch.nn.Module)


def evaluate(model, loss_fn, X, y, *, batch_size: int = 512, device=None) -> tuple[float, float]:
    """(mean loss, accuracy) of ``model`` on (X, y) in eval mode; each submodule's mode is restored.

    X: (N, ...) inputs; y: (N,) class indices (accuracy = argmax over axis 1) or other targets
    (accuracy NaN). Sequence targets y of shape (N, L) with outputs (N, L, C): accuracy is the
    fraction of the N·L positions whose argmax over the last axis is right. ``loss_fn`` must
    average over the batch (``reduction="mean"``; for sequences, over every position). Works for
    a dlbook module (NumPy arrays) and for a torch module (arrays or tensors, moved to the
    model's device).
    """
    if len(X) == 0:
        raise ValueError("evaluate needs at least one sample")
    if len(X) != len(y):
        raise ValueError(f"X and y must have the same length, got {len(X)} and {len(y)}")
    y_array = y.cpu().numpy() if hasattr(y, "cpu") else np.asarray(y)
    classify = np.issubdtype(y_array.dtype, np.integer)
    positions = y_array.size  # N labels, or N·L for sequence targets
    modes = [(module, module.training) for module in model.modules()]  # each its own (a frozen Dropout)
    model.eval()
    total_loss, correct = 0.0, 0
    try:
        if _is_torch(model):
            batches = _torch_batches(model, X, y, batch_size, None, device)
        else:
            batches = minibatches(X, y, batch_size)
        with _no_grad_for(model):
            for xb, yb in batches:
                out = model(xb)
                total_loss += float(loss_fn(out, yb)) * len(xb)
                if classify:
                    sequence = out.ndim == yb.ndim + 1 and tuple(out.shape[:-1]) == tuple(yb.shape)
                    correct += int((out.argmax(-1 if sequence else 1) == yb).sum())
    finally:
        for module, mode in modes:
            module.training = mode
    return total_loss / len(X), (correct / positions if classify else float("nan"))


def _no_grad_for(model):
    if _is_torch(model):
        import torch

        return torch.no_grad()
    return no_grad()


def _torch_batches(model, X, y, batch_size: int, rng: np.random.Generator | None, device,
                   shard: tuple[int, int] = (0, 1)):
    """Minibatches as tensors on the model's device (the whole set is moved there once).
    shard=(rank, world_size): this process's rows of each batch (rank, rank + world_size, ...)."""
    import torch

    param = next(model.parameters(), None)
    device = torch.device(device) if device is not None else (param.device if param is not None else "cpu")
    dtype = param.dtype if param is not None else torch.float32
    Xt = torch.as_tensor(np.asarray(X) if not torch.is_tensor(X) else X, device=device)
    Xt = Xt.to(dtype) if Xt.is_floating_point() else Xt
    yt = torch.as_tensor(np.asarray(y) if not torch.is_tensor(y) else y, device=device)
    order = rng.permutation(len(Xt)) if rng is not None else np.arange(len(Xt))
    rank, world_size = shard
    for start in range(0, len(Xt), batch_size):
        idx = torch.as_tensor(order[start:start + batch_size][rank::world_size], device=device)
        yield Xt[idx], yt[idx]


def fit(model, loss_fn, optimizer, X_train, y_train, X_val=None, y_val=None, *, epochs: int = 10,
        batch_size: int = 64, seed: int = 0, device=None, scheduler=None, patience: int | None = None,
        before_step: Callable | None = None, train_step: Callable | None = None,
        track: dict[str, Callable] | None = None, desc: str | None = None,
        progress: bool | None = None, shuffle: bool = True, eval_batch_size: int = 512,
        after_step: Callable | None = None, checkpoint: str | Path | None = None,
        resume_from: str | Path | None = None) -> History:
    """Train ``model`` for ``epochs`` passes over (X_train, y_train); return its :class:`History`.

    model, loss_fn, optimizer: a dlbook module with a dlbook loss layer and optimizer, or a
    torch module with a torch loss and ``torch.optim`` optimizer. A torch model is moved to
    ``device`` (default :func:`dlbook.devices.best_device`: CUDA when there is one).
    seed: fixes the batch order (the same for NumPy and torch) and torch's generator.
    shuffle: False takes the batches in the data's order every epoch (truncated BPTT needs it).
    scheduler: anything with ``.step()``, called after each epoch (e.g. a torch LR scheduler).
    patience: stop when the validation loss has not improved for this many epochs, and put back
    the weights of the best epoch (needs validation data).
    before_step(model): called after backward, before ``optimizer.step()`` (gradient clipping).
    after_step(model): called after ``optimizer.step()`` (projecting weights onto constraints).
    train_step(x, y) -> float | dict[str, float]: replaces the whole step (then ``optimizer``
    may be None, and ``loss_fn`` None skips the per-epoch evaluation). A train_step with a
    ``reset()`` method has it called at the start of each epoch (:func:`tbptt_step` forgets
    its carried state); one whose ``keeps_order`` is true refuses ``shuffle=True``.
    track: ``{name: fn(model) -> float}`` recorded after each epoch (e.g. a weight norm).
    progress: None shows a tqdm bar in a terminal or notebook (tqdm's ``disable=None``).
    eval_batch_size: batch size of the per-epoch evaluation (smaller for large outputs, such as
    a language model's (N, L, vocabulary) logits).
    checkpoint: a file written after every epoch (torch models; see :func:`load_checkpoint`).
    resume_from: a checkpoint of an earlier run with the same settings: its weights, optimizer
    and scheduler state, curves and random states are loaded into ``model``, ``optimizer`` and
    ``scheduler``, and training goes on from the epoch after it up to ``epochs``. A custom
    ``train_step``'s own state (its optimizers) is not saved.
    Under ``torch.distributed`` with a ``DistributedDataParallel`` model, ``batch_size`` is the
    global batch and each process trains on its share (see the module's docstring); every
    process evaluates the whole data.
    """
    if epochs < 1 or batch_size < 1:
        raise ValueError(f"epochs and batch_size must be >= 1, got {epochs} and {batch_size}")
    if eval_batch_size < 1:
        raise ValueError(f"eval_batch_size must be >= 1, got {eval_batch_size}")
    if shuffle and getattr(train_step, "keeps_order", False):
        raise ValueError("this train_step carries state from one batch to the next (truncated BPTT): "
                         "pass shuffle=False")
    if (X_val is None) != (y_val is None):
        raise ValueError("give both X_val and y_val, or neither")
    if len(X_train) != len(y_train):
        raise ValueError(f"X_train and y_train must have the same length, got {len(X_train)} and {len(y_train)}")
    if patience is not None and (X_val is None or patience < 1):
        raise ValueError("early stopping needs validation data and patience >= 1")
    if patience is not None and loss_fn is None:
        raise ValueError("early stopping needs a loss_fn to compute the validation loss")
    if train_step is None and (loss_fn is None or optimizer is None):
        raise ValueError("fit needs a loss_fn and an optimizer, or a train_step that does the whole step")
    torch_model = _is_torch(model)
    if not torch_model and not isinstance(model, Module):
        raise TypeError(f"fit expects a dlbook.nn.Module or a torch.nn.Module, got {type(model).__name__}")
    if (checkpoint is not None or resume_from is not None) and not torch_model:
        raise TypeError("checkpoint and resume_from work with torch models (torch.save); save a dlbook "
                        "model's state_dict() yourself")
    shard = _shard_of(model, len(X_train), batch_size) if torch_model else (0, 1)
    if torch_model:
        import torch

        from .devices import resolve_device

        torch.manual_seed(seed)
        device = resolve_device(device)
        model.to(device)
    step = train_step or (torch_step(model, loss_fn, optimizer, before_step, after_step) if torch_model
                          else numpy_step(model, loss_fn, optimizer, before_step, after_step))
    rng = np.random.default_rng(seed) if shuffle else None
    history = History(tracked={name: [] for name in (track or {})})
    best, best_state, waited, start = np.inf, None, 0, 0
    if resume_from is not None:
        saved = load_checkpoint(resume_from, map_location=device)
        _unwrapped(model).load_state_dict(saved["model"])
        if optimizer is not None:
            optimizer.load_state_dict(saved["optimizer"])
        if scheduler is not None and saved.get("scheduler") is not None:
            scheduler.load_state_dict(saved["scheduler"])
        history = History(**saved["history"])
        best, waited, best_state = saved["best"], saved["waited"], saved["best_state"]
        if rng is not None:
            rng.bit_generator.state = saved["shuffle_rng"]
        _set_torch_rng(saved)
        start = saved["epoch"]
    quiet = shard[0] != 0  # rank 0 alone reports
    bar = tqdm(range(start, epochs), desc=desc, initial=start, total=epochs,
               disable=True if quiet else (None if progress is None else not progress))
    for epoch in bar:
        model.train()
        if callable(getattr(step, "reset", None)):
            step.reset()
        logged: dict[str, list[float]] = {}
        batches = _torch_batches(model, X_train, y_train, batch_size, rng, device, shard) if torch_model \
            else minibatches(X_train, y_train, batch_size, rng)
        for xb, yb in batches:
            out = step(xb, yb)
            for name, value in (out.items() if isinstance(out, dict) else [("step_loss", out)]):
                logged.setdefault(name, []).append(float(value))
        if scheduler is not None:
            scheduler.step()
        if train_step is not None:
            for name, values in logged.items():
                history.tracked.setdefault(name, []).append(float(np.mean(values)))
        if loss_fn is not None:
            _record(history, model, loss_fn, X_train, y_train, X_val, y_val, device, eval_batch_size)
        for name, fn in (track or {}).items():
            history.tracked[name].append(float(fn(model)))
        bar.set_postfix({k: f"{v[-1]:.4f}" for k, v in (("train_loss", history.train_loss),
                                                          ("val_loss", history.val_loss)) if v})
        if patience is not None:
            if history.val_loss[-1] < best:
                best, waited, history.best_epoch = history.val_loss[-1], 0, epoch
                best_state = {k: _copy(v) for k, v in model.state_dict().items()}
            else:
                waited += 1
                if waited >= patience:
                    history.stopped_early = epoch < epochs - 1
        if checkpoint is not None and not quiet:
            _save_checkpoint(checkpoint, epoch + 1, model, optimizer, scheduler, history, rng,
                             best, waited, best_state)
        if history.stopped_early:
            break
    if best_state is not None:
        model.load_state_dict(best_state)
    return history


def _copy(value):
    return value.detach().clone() if hasattr(value, "detach") else np.array(value, copy=True)


def _record(history: History, model, loss_fn, X_train, y_train, X_val, y_val, device,
            batch_size: int = 512) -> None:
    loss, acc = evaluate(model, loss_fn, X_train, y_train, batch_size=batch_size, device=device)
    history.train_loss.append(loss)
    history.train_acc.append(acc)
    if X_val is not None:
        loss, acc = evaluate(model, loss_fn, X_val, y_val, batch_size=batch_size, device=device)
        history.val_loss.append(loss)
        history.val_acc.append(acc)


def numpy_step(model: Module, loss_fn, optimizer, before_step, after_step=None):
    def step(xb, yb) -> float:
        optimizer.zero_grad()
        loss = loss_fn(model(xb), yb)
        model.backward(loss_fn.backward())
        if before_step is not None:
            before_step(model)
        optimizer.step()
        if after_step is not None:
            after_step(model)
        return float(loss)
    return step


def torch_step(model, loss_fn, optimizer, before_step, after_step=None):
    def step(xb, yb) -> float:
        optimizer.zero_grad()
        loss = loss_fn(model(xb), yb)
        loss.backward()
        if before_step is not None:
            before_step(model)
        optimizer.step()
        if after_step is not None:
            after_step(model)
        return float(loss.detach())
    return step


# -- checkpoints and several processes ---------------------------------------------------------
def load_checkpoint(path: str | Path, map_location=None) -> dict:
    """A checkpoint written by ``fit(..., checkpoint=path)``: ``epoch`` (epochs done), ``model``,
    ``optimizer`` and ``scheduler`` state dicts, ``history`` (a :class:`History` as a dict),
    ``shuffle_rng`` (the batch-order generator's state), ``torch_rng`` / ``cuda_rng``, and the
    early-stopping state (``best``, ``waited``, ``best_state``)."""
    import torch

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint {path}: fit(..., checkpoint=path) writes one after every epoch")
    saved = torch.load(path, map_location=map_location, weights_only=True)
    if not isinstance(saved, dict) or "epoch" not in saved or "model" not in saved:
        raise ValueError(f"{path} is not a dlbook.train checkpoint (expected the dict fit(checkpoint=...) writes)")
    return saved


def _save_checkpoint(path, epochs_done: int, model, optimizer, scheduler, history: History, rng,
                     best: float, waited: int, best_state) -> None:
    import torch

    state = {"epoch": epochs_done, "model": _unwrapped(model).state_dict(),
             "optimizer": optimizer.state_dict() if optimizer is not None else None,
             "scheduler": scheduler.state_dict() if hasattr(scheduler, "state_dict") else None,
             "history": asdict(history), "shuffle_rng": rng.bit_generator.state if rng is not None else None,
             "torch_rng": torch.get_rng_state(),
             "cuda_rng": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None,
             "best": float(best), "waited": waited, "best_state": best_state}
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    torch.save(state, partial)
    os.replace(partial, path)  # a crash while saving leaves the previous checkpoint intact


def _set_torch_rng(saved: dict) -> None:
    import torch

    torch.set_rng_state(saved["torch_rng"].cpu())
    if saved.get("cuda_rng") is not None and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([s.cpu() for s in saved["cuda_rng"]])


def _unwrapped(model):
    """The module inside a DistributedDataParallel (or DataParallel) wrapper."""
    import torch

    wrappers = (torch.nn.parallel.DistributedDataParallel, torch.nn.DataParallel)
    return model.module if isinstance(model, wrappers) else model


def _shard_of(model, n_samples: int, batch_size: int) -> tuple[int, int]:
    """(rank, world_size) for a DistributedDataParallel model, (0, 1) otherwise. Averaging the
    processes' gradients equals the global batch's gradient only when every process gets as
    many rows of every batch: the batch size (and the last batch) must split evenly."""
    import torch

    if not isinstance(model, torch.nn.parallel.DistributedDataParallel):
        return 0, 1
    import torch.distributed as dist

    rank, world_size = dist.get_rank(), dist.get_world_size()
    last = n_samples % batch_size
    if batch_size % world_size or last % world_size:
        raise ValueError(f"under torch.distributed batch_size is the global batch and must split evenly "
                         f"over the {world_size} processes, the last batch too: got batch_size={batch_size} "
                         f"and {n_samples} samples (last batch {last or batch_size})")
    return rank, world_size


class TBPTTStep:
    """A ``train_step`` for :func:`fit` doing truncated backpropagation through time; made by
    :func:`tbptt_step` (see there)."""

    #: fit refuses shuffle=True: the carried state belongs to the previous batch's streams
    keeps_order = True

    def __init__(self, model, loss_fn, optimizer, max_norm: float | None = None,
                 before_step: Callable | None = None) -> None:
        if loss_fn is None or optimizer is None:
            raise ValueError("tbptt_step needs a loss_fn and an optimizer")
        if max_norm is not None and not max_norm > 0:
            raise ValueError(f"max_norm must be positive or None, got {max_norm!r}")
        self.torch = _is_torch(model)
        if not self.torch and not isinstance(model, Module):
            raise TypeError(f"tbptt_step expects a dlbook.nn.Module or a torch.nn.Module, "
                            f"got {type(model).__name__}")
        self.model, self.loss_fn, self.optimizer = model, loss_fn, optimizer
        self.max_norm, self.before_step = max_norm, before_step
        self.state = None  # the last batch's final state, detached (None: start from zeros)
        self.grad_norms: list[float] = []  # total gradient norm of each step, before clipping

    def reset(self) -> None:
        """Forget the carried state (fit calls this at the start of each epoch)."""
        self.state = None

    def __call__(self, xb, yb) -> float:
        model, loss_fn, optimizer = self.model, self.loss_fn, self.optimizer
        if self.state is not None and _batch_of(self.state) != len(xb):
            raise ValueError(f"truncated BPTT carries a state for {_batch_of(self.state)} streams into a "
                             f"batch of {len(xb)}: every batch must hold the same streams (lay the data "
                             f"out with dlbook.data.tbptt_windows and fit(..., batch_size=streams, "
                             f"shuffle=False))")
        optimizer.zero_grad()
        out, state = model(xb, self.state, return_state=True)
        loss = loss_fn(out, yb)
        if self.torch:
            loss.backward()
        else:
            model.backward(loss_fn.backward())  # the returned d(initial state) stops here: the truncation
        if self.before_step is not None:
            self.before_step(model)
        if self.max_norm is not None:
            self.grad_norms.append(_clip(model, self.max_norm, self.torch))
        optimizer.step()
        self.state = _detached(state)
        return float(loss.detach()) if self.torch else float(loss)


def tbptt_step(model, loss_fn, optimizer, *, max_norm: float | None = None,
               before_step: Callable | None = None) -> TBPTTStep:
    """A ``train_step`` for :func:`fit`: truncated backpropagation through time (BPTT).

    Each step runs ``out, state = model(x, state, return_state=True)`` from the state the
    previous step ended in, backpropagates the loss through this batch's time steps only
    (the carried state is detached: no gradient reaches earlier batches), clips the total
    gradient norm to ``max_norm`` (None: no clipping; torch's ``clip_grad_norm_`` or
    :func:`dlbook.nn.utils.clip_grad_norm_`), and steps the optimizer. The state starts from
    zeros at each epoch (fit calls ``reset()``). Works for torch and dlbook models alike.

    The model's protocol: ``model(x, hx, return_state=True) -> (output, h_n)`` with ``hx``
    None or a previous ``h_n``: an array/tensor or a tuple of them (an LSTM's (h, c)) shaped
    (num_layers, N, H) as torch's; ``loss_fn(output, y)`` as for fit (a dlbook loss has
    ``backward()``). A dlbook model's ``backward(d_output)`` may return the gradient of its
    initial state: it is dropped. Consecutive batches must continue the same N streams:
    :func:`dlbook.data.tbptt_windows` lays the data out that way for ``fit(...,
    batch_size=N, shuffle=False)``. The step's ``grad_norms`` lists each step's gradient norm
    before clipping.
    """
    return TBPTTStep(model, loss_fn, optimizer, max_norm, before_step)


def _batch_of(state) -> int:
    first = state[0] if isinstance(state, (tuple, list)) else state
    return int(first.shape[1]) if first.ndim == 3 else 1


def _detached(state):
    if isinstance(state, (tuple, list)):
        return type(state)(_detached(s) for s in state)
    return state.detach() if hasattr(state, "detach") else np.array(state, copy=True)


def _clip(model, max_norm: float, torch_model: bool) -> float:
    if torch_model:
        import torch

        return float(torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm))
    from .nn.utils import clip_grad_norm_

    return float(clip_grad_norm_(model.parameters(), max_norm))
