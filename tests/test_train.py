"""dlbook.train: one loop for NumPy and torch models. It learns, takes the same steps as torch for
the same seed, stops early and puts back the best weights, runs the hooks where they belong,
evaluates without side effects, and plots its history."""

import math

import matplotlib
import numpy as np
import pytest
import torch

matplotlib.use("Agg")

from dlbook import nn, optim  # noqa: E402
from dlbook.check import rel_error  # noqa: E402
from dlbook.data import load_digits_split  # noqa: E402
from dlbook.train import History, evaluate, fit  # noqa: E402


@pytest.fixture(scope="module")
def digits():
    return load_digits_split(seed=0)


def _mlp(seed=0, dropout=0.2):
    layers = [nn.Linear(64, 32, dtype=np.float64, seed=seed), nn.ReLU()]
    layers += [nn.Dropout(dropout, seed=seed)] if dropout else []
    return nn.Sequential(*layers, nn.Linear(32, 10, dtype=np.float64, seed=seed + 1))


# -- learning and reproducibility ------------------------------------------------------------------
def test_fit_learns_digits(digits):
    model = _mlp()
    history = fit(model, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.1, momentum=0.9),
                  digits.X_train, digits.y_train, digits.X_test, digits.y_test, epochs=8, batch_size=32,
                  track={"norm": nn.weight_norm}, progress=False)
    assert isinstance(history, History) and history.epochs == 8
    assert len(history.train_loss) == len(history.val_acc) == len(history.tracked["norm"]) == 8
    assert history.train_loss[-1] < history.train_loss[0] / 3
    assert history.val_acc[-1] > 0.9  # chance is 0.1
    assert history.tracked["norm"][-1] == nn.weight_norm(model)  # recorded after the last epoch
    assert history.best_epoch is None and not history.stopped_early
    assert model.training  # fit leaves the model in training mode, evaluate restores it
    assert all(m.saved_count == 0 for m in model.modules())  # every forward was consumed or saved nothing


def _record_batches(model, X, y, seed, batch_size=7, epochs=2):
    """The targets of every batch, in order, as fit hands them to a train_step."""
    seen = []

    def step(xb, yb):
        seen.append(np.asarray(yb.cpu() if torch.is_tensor(yb) else yb).copy())
        return 0.0

    fit(model, None, None, X, y, epochs=epochs, batch_size=batch_size, seed=seed, train_step=step,
        device="cpu", progress=False)
    return seen


def test_numpy_and_torch_models_get_the_same_batches_for_the_same_seed():
    X, y = np.arange(30, dtype=np.float64)[:, None], np.arange(30)
    ours = _record_batches(nn.Linear(1, 1, dtype=np.float64), X, y, seed=4)
    theirs = _record_batches(torch.nn.Linear(1, 1), X, y, seed=4)
    assert [len(b) for b in ours] == [7, 7, 7, 7, 2] * 2  # the last, partial batch is kept
    assert len(ours) == len(theirs) and all(np.array_equal(a, b) for a, b in zip(ours, theirs))
    for epoch in (ours[:5], ours[5:]):  # every sample once per epoch
        assert sorted(np.concatenate(epoch)) == list(range(30))
    assert not np.array_equal(np.concatenate(ours[:5]), np.concatenate(ours[5:]))  # reshuffled each epoch
    other = _record_batches(nn.Linear(1, 1, dtype=np.float64), X, y, seed=5)
    assert not np.array_equal(np.concatenate(ours), np.concatenate(other))


def test_a_numpy_mlp_and_its_torch_twin_train_to_the_same_weights(digits):
    """One epoch of SGD with momentum and weight decay over shuffled batches (the last one partial):
    the two loops must take identical steps, or the float64 weights drift far beyond 1e-10."""
    model = _mlp(seed=3, dropout=0)
    twin = nn.to_torch(model)
    assert len(digits.X_train) % 32 != 0
    config = dict(lr=0.05, momentum=0.9, weight_decay=1e-3)
    ours = fit(model, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), **config), digits.X_train,
               digits.y_train, digits.X_test, digits.y_test, epochs=1, batch_size=32, seed=11, progress=False)
    theirs = fit(twin, torch.nn.CrossEntropyLoss(), torch.optim.SGD(twin.parameters(), **config), digits.X_train,
                 digits.y_train, digits.X_test, digits.y_test, epochs=1, batch_size=32, seed=11, device="cpu",
                 progress=False)
    start = _mlp(seed=3, dropout=0).state_dict()
    for name, p in twin.state_dict().items():
        assert rel_error(model.state_dict()[name], p.numpy()) < 1e-10, name
        assert rel_error(model.state_dict()[name], start[name]) > 1e-3, name  # it did train
    for curve in ("train_loss", "val_loss", "train_acc", "val_acc"):
        assert rel_error(getattr(ours, curve), getattr(theirs, curve)) < 1e-10, curve


def test_fit_is_reproducible(digits):
    runs = []
    for _ in range(2):
        model = _mlp()
        runs.append(fit(model, nn.CrossEntropyLoss(), optim.Adam(model.parameters(), lr=1e-2), digits.X_train[:200],
                        digits.y_train[:200], epochs=2, seed=3, progress=False).train_loss)
    assert runs[0] == runs[1]


def test_regression_targets_give_nan_accuracy():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((40, 3))
    y = X @ np.array([[1.0], [-2.0], [0.5]])
    model = nn.Linear(3, 1, dtype=np.float64, seed=0)
    history = fit(model, nn.MSELoss(), optim.SGD(model.parameters(), lr=0.1), X, y, epochs=30, batch_size=8,
                  progress=False)
    assert np.isnan(history.train_acc[-1]) and history.train_loss[-1] < 1e-3


def test_the_scheduler_steps_once_per_epoch():
    model = torch.nn.Linear(3, 2)
    opt = torch.optim.SGD(model.parameters(), lr=1.0)
    scheduler = torch.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
    X, y = np.zeros((10, 3), np.float32), np.zeros(10, np.int64)
    fit(model, torch.nn.CrossEntropyLoss(), opt, X, y, epochs=3, batch_size=4, device="cpu", scheduler=scheduler,
        progress=False)
    assert opt.param_groups[0]["lr"] == 0.5 ** 3


# -- early stopping --------------------------------------------------------------------------------
def _drifting_problem():
    """Training targets 2x, validation targets 1x: from w = 0, full-batch gradient descent moves w
    toward 2, so the validation loss falls while w approaches 1, then rises."""
    x = np.random.default_rng(0).standard_normal((64, 1))
    return x, 2 * x, x, 1 * x


def _numpy_line():
    model = nn.Linear(1, 1, bias=False, dtype=np.float64)
    model.weight[...] = 0.0
    return model, nn.MSELoss(), optim.SGD(model.parameters(), lr=0.05), lambda m: float(m.weight[0, 0])


def _torch_line():
    model = torch.nn.Linear(1, 1, bias=False, dtype=torch.float64)
    torch.nn.init.zeros_(model.weight)
    return model, torch.nn.MSELoss(), torch.optim.SGD(model.parameters(), lr=0.05), lambda m: m.weight.item()


@pytest.mark.parametrize("make", [_numpy_line, _torch_line], ids=["numpy", "torch"])
def test_early_stopping_stops_and_restores_the_best_epoch(make):
    model, loss_fn, opt, weight = make()
    X, y, X_val, y_val = _drifting_problem()
    history = fit(model, loss_fn, opt, X, y, X_val, y_val, epochs=100, batch_size=64, patience=3, device="cpu",
                  track={"w": weight}, progress=False)
    best = history.best_epoch
    assert 2 < best < 20  # the validation loss did fall for a while before rising
    assert history.val_loss[best] == min(history.val_loss)
    assert all(a > b for a, b in zip(history.val_loss[:best], history.val_loss[1:best + 1]))  # falling
    assert all(a < b for a, b in zip(history.val_loss[best:], history.val_loss[best + 1:]))  # then rising
    assert history.stopped_early and len(history.val_loss) == best + 1 + 3  # patience 3
    assert weight(model) == history.tracked["w"][best] != history.tracked["w"][-1]
    assert abs(weight(model) - 1) < abs(history.tracked["w"][-1] - 1)
    assert evaluate(model, loss_fn, X_val, y_val, device="cpu")[0] == pytest.approx(history.val_loss[best], rel=1e-12)


def test_patience_running_out_in_the_last_epoch_is_not_stopping_early():
    X, y, X_val, y_val = _drifting_problem()
    model, loss_fn, opt, weight = _numpy_line()
    full = fit(model, loss_fn, opt, X, y, X_val, y_val, epochs=100, batch_size=64, patience=3, progress=False)
    model, loss_fn, opt, weight = _numpy_line()
    history = fit(model, loss_fn, opt, X, y, X_val, y_val, epochs=len(full.val_loss), batch_size=64, patience=3,
                  track={"w": weight}, progress=False)
    assert history.val_loss == full.val_loss and not history.stopped_early
    assert weight(model) == history.tracked["w"][history.best_epoch]  # the best weights all the same


def test_without_patience_the_last_weights_stay():
    model, loss_fn, opt, weight = _numpy_line()
    X, y, X_val, y_val = _drifting_problem()
    history = fit(model, loss_fn, opt, X, y, X_val, y_val, epochs=20, batch_size=64, track={"w": weight},
                  progress=False)
    assert history.best_epoch is None and weight(model) == history.tracked["w"][-1]


# -- hooks -----------------------------------------------------------------------------------------
def _clip(max_norm):
    def before_step(model):
        grads = [p.grad for p in model.parameters()]
        norm = math.sqrt(sum(float(np.sum(g ** 2)) for g in grads))
        for g in grads:
            g *= min(1.0, max_norm / norm)
    return before_step


@pytest.mark.parametrize("kind", ["numpy", "torch"])
def test_before_step_gradient_clipping_changes_the_update(digits, kind):
    """One full-batch SGD step: clipped to norm 0.01, the step is exactly lr * 0.01 long."""
    lr, max_norm = 0.5, 0.01
    X, y = digits.X_train[:200], digits.y_train[:200]
    steps = {}
    for clip in (False, True):
        model = _mlp(dropout=0)
        if kind == "numpy":
            opt, loss_fn, hook = optim.SGD(model.parameters(), lr=lr), nn.CrossEntropyLoss(), _clip(max_norm)
        else:
            model = nn.to_torch(model)
            opt, loss_fn = torch.optim.SGD(model.parameters(), lr=lr), torch.nn.CrossEntropyLoss()
            hook = lambda m: torch.nn.utils.clip_grad_norm_(m.parameters(), max_norm)  # noqa: E731
        before = [p.detach().numpy().copy() if kind == "torch" else np.array(p) for p in model.parameters()]
        fit(model, loss_fn, opt, X, y, epochs=1, batch_size=len(X), before_step=hook if clip else None,
            device="cpu", progress=False)
        after = [p.detach().numpy().copy() if kind == "torch" else np.array(p) for p in model.parameters()]
        steps[clip] = math.sqrt(sum(float(np.sum((a - b) ** 2)) for a, b in zip(after, before)))
    assert steps[False] > 10 * lr * max_norm  # the raw gradient is much longer than the clip
    # torch's clip_grad_norm_ divides by norm + 1e-6
    assert steps[True] == pytest.approx(lr * max_norm, rel=1e-9 if kind == "numpy" else 1e-5)


def test_a_gan_like_train_step_alternates_two_optimizers_and_its_losses_are_averaged(digits):
    """A least-squares GAN on 2-D points: the discriminator steps on real and generated points, then
    the generator steps through the discriminator. fit calls the step once per batch and averages
    what it returns per epoch into History.tracked."""
    rng = np.random.default_rng(0)
    real = rng.standard_normal((50, 2)) + [3.0, -1.0]
    G = nn.Linear(2, 2, dtype=np.float64, seed=1)
    D = nn.Sequential(nn.Linear(2, 8, dtype=np.float64, seed=2), nn.Tanh(), nn.Linear(8, 1, dtype=np.float64, seed=3))
    g_opt, d_opt, mse = optim.Adam(G.parameters(), lr=0.01), optim.Adam(D.parameters(), lr=0.01), nn.MSELoss()
    g_start, d_start = np.array(G.weight), np.array(D[0].weight)
    returned = []

    def gan_step(x, _):
        z = rng.standard_normal(x.shape)
        d_opt.zero_grad()
        with nn.no_grad():
            fake = G(z)
        ones, zeros = np.ones((len(x), 1)), np.zeros((len(x), 1))
        d_real, d_fake = D(x), D(fake)  # two calls, then two backwards, last in first out
        loss_real, loss_fake = mse(d_real, ones), None
        dy_real = mse.backward()
        loss_fake = mse(d_fake, zeros)
        D.backward(mse.backward())
        D.backward(dy_real)
        d_opt.step()
        g_opt.zero_grad()
        g_loss = mse(D(G(z)), ones)
        G.backward(D.backward(mse.backward()))
        g_opt.step()
        returned.append({"d_loss": float(loss_real + loss_fake), "g_loss": float(g_loss)})
        return returned[-1]

    history = fit(G, None, None, real, np.zeros(len(real)), epochs=3, batch_size=16, train_step=gan_step,
                  progress=False)
    assert len(returned) == 3 * 4  # ceil(50 / 16) = 4 batches per epoch
    for name in ("d_loss", "g_loss"):
        per_epoch = [np.mean([r[name] for r in returned[4 * e:4 * e + 4]]) for e in range(3)]
        assert history.tracked[name] == per_epoch
    assert history.train_loss == [] and history.epochs == 3  # no loss_fn: no evaluation
    assert not np.array_equal(G.weight, g_start) and not np.array_equal(D[0].weight, d_start)
    assert all(m.saved_count == 0 for m in list(G.modules()) + list(D.modules()))


def test_a_train_step_returning_a_float_is_tracked_as_step_loss():
    X, y = np.zeros((10, 1)), np.zeros(10)
    history = fit(nn.Linear(1, 1, dtype=np.float64), None, None, X, y, epochs=2, batch_size=4,
                  train_step=lambda xb, yb: float(len(xb)), progress=False)
    assert history.tracked == {"step_loss": [10 / 3, 10 / 3]}


# -- evaluate ----------------------------------------------------------------------------------------
def test_evaluate_uses_eval_mode_saves_nothing_and_restores_the_mode(digits):
    model = nn.Sequential(nn.Linear(64, 32, dtype=np.float64, seed=0), nn.BatchNorm1d(32, dtype=np.float64),
                          nn.ReLU(), nn.Dropout(0.5, seed=0), nn.Linear(32, 10, dtype=np.float64, seed=1))
    model(digits.X_train[:100])  # move the running statistics off their start
    model.clear_saved()
    X, y = digits.X_test, digits.y_test
    running = {k: np.array(v) for k, v in model.named_buffers()}
    with nn.no_grad():
        model.eval()
        scores = model(X)
        expected = float(nn.CrossEntropyLoss()(scores, y))
        expected_acc = float(np.mean(scores.argmax(1) == y))
    model.train()
    model[3].eval()  # a module in its own mode: restored as it was, not as the parent's
    loss, acc = evaluate(model, nn.CrossEntropyLoss(), X, y, batch_size=100)  # 450 samples: a partial batch
    assert loss == pytest.approx(expected, rel=1e-12)  # dropout off, running statistics, batches weighted by size
    assert acc == expected_acc
    assert model.training and model[1].training and not model[3].training
    assert all(m.saved_count == 0 for m in model.modules())
    for k, v in model.named_buffers():
        np.testing.assert_array_equal(v, running[k])  # evaluation does not update the statistics
    model.eval()
    evaluate(model, nn.CrossEntropyLoss(), X, y)
    assert not any(m.training for m in model.modules())


def test_evaluate_restores_the_mode_when_the_loss_fails():
    model = _mlp()

    def broken(out, target):
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        evaluate(model, broken, np.zeros((3, 64)), np.zeros(3, np.int64))
    assert model.training


def test_evaluate_on_a_torch_model_counts_correct_predictions():
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(4, 2))
    with torch.no_grad():
        model[1].weight.copy_(torch.tensor([[1.0, 0, 0, 0], [0, 1.0, 0, 0]]))
        model[1].bias.zero_()
    X = np.array([[[[2, 0], [0, 0]]], [[[0, 2], [0, 0]]], [[[0, 3], [0, 0]]]], np.float64)  # cast to float32
    loss, acc = evaluate(model, torch.nn.CrossEntropyLoss(), X, np.array([0, 1, 0]), batch_size=2, device="cpu")
    assert acc == 2 / 3
    expected = np.mean([np.log1p(np.exp(-2)), np.log1p(np.exp(-2)), np.log1p(np.exp(3))])
    assert loss == pytest.approx(expected, rel=1e-6)  # float32
    assert model.training and all(p.grad is None for p in model.parameters())


# -- History.plot ----------------------------------------------------------------------------------
@pytest.mark.parametrize("lang, train_label, val_label, xlabel, ylabel", [
    ("en", "training set", "validation set", "epoch", "loss"),
    ("zh", "训练集", "验证集", "轮（epoch）", "损失"),
])
def test_history_plot_draws_the_curves(lang, train_label, val_label, xlabel, ylabel):
    import matplotlib.pyplot as plt

    history = History(train_loss=[1.0, 0.5, 0.25], val_loss=[1.2, 0.7, 0.9], best_epoch=1)
    ax = history.plot(lang=lang)
    lines = {line.get_label(): line for line in ax.get_lines()}
    np.testing.assert_array_equal(lines[train_label].get_xdata(), [1, 2, 3])
    np.testing.assert_array_equal(lines[train_label].get_ydata(), [1.0, 0.5, 0.25])
    np.testing.assert_array_equal(lines[val_label].get_ydata(), [1.2, 0.7, 0.9])
    best = [line for label, line in lines.items() if label not in (train_label, val_label)]
    assert len(best) == 1 and list(best[0].get_xdata()) == [2, 2]  # the best epoch, 1-based
    assert ax.get_xlabel() == xlabel and ax.get_ylabel() == ylabel
    assert [t.get_text() for t in ax.get_legend().get_texts()] == [train_label, val_label]
    plt.close(ax.figure)


def test_history_plot_other_curves_and_errors():
    import matplotlib.pyplot as plt

    history = History(train_acc=[0.5, 0.9], tracked={"weight_norm": [3.0, 2.0]})
    fig, ax = plt.subplots()
    assert history.plot("acc", ax=ax) is ax
    assert [line.get_label() for line in ax.get_lines()] == ["training set"]  # no validation curve to draw
    assert ax.get_ylabel() == "accuracy"
    ax = history.plot("weight_norm", logy=True)
    np.testing.assert_array_equal(ax.get_lines()[0].get_ydata(), [3.0, 2.0])
    assert ax.get_yscale() == "log" and ax.get_ylabel() == "weight_norm"
    with pytest.raises(KeyError, match="weight_norm"):
        history.plot("grad_norm")
    with pytest.raises(ValueError, match="lang"):
        history.plot(lang="fr")
    plt.close("all")


# -- bad arguments -----------------------------------------------------------------------------------
def test_bad_arguments(digits):
    model = _mlp()
    opt, loss = optim.SGD(model.parameters(), lr=0.1), nn.CrossEntropyLoss()
    X, y = digits.X_train[:20], digits.y_train[:20]
    cases = [
        (dict(epochs=0), ValueError, "epochs and batch_size must be >= 1"),
        (dict(batch_size=0), ValueError, "epochs and batch_size must be >= 1"),
        (dict(X_val=X), ValueError, "both X_val and y_val"),
        (dict(y_train=y[:10]), ValueError, "same length"),
        (dict(patience=2), ValueError, "early stopping needs validation data"),
        (dict(X_val=X, y_val=y, patience=0), ValueError, "patience >= 1"),
        (dict(optimizer=None), ValueError, "a loss_fn and an optimizer, or a train_step"),
        (dict(loss_fn=None), ValueError, "a loss_fn and an optimizer, or a train_step"),
        (dict(loss_fn=None, X_val=X, y_val=y, patience=1, train_step=lambda a, b: 0.0), ValueError,
         "early stopping needs a loss_fn"),
        (dict(model=lambda x: x), TypeError, "dlbook.nn.Module or a torch.nn.Module"),
    ]
    for overrides, error, message in cases:
        kwargs = dict(model=model, loss_fn=loss, optimizer=opt, X_train=X, y_train=y, epochs=1, progress=False)
        kwargs.update(overrides)
        with pytest.raises(error, match=message):
            fit(**kwargs)
    with pytest.raises(ValueError, match="at least one sample"):
        evaluate(model, loss, X[:0], y[:0])
    with pytest.raises(ValueError, match="same length"):
        evaluate(model, loss, X, y[:5])
    with pytest.raises(TypeError, match=r"pass model.parameters\(\)"):
        optim.SGD(model, lr=0.1)
