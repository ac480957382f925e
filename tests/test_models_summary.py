"""dlbook.models.summary: per-layer output shapes, parameter counts and receptive fields,
checked against hand computation on tiny models, and the tables that show them."""

import numpy as np
import pytest
import torch

from dlbook import nn
from dlbook.models import alexnet, as_table, summary, vgg
from dlbook.models.summary import LayerArithmetic, Table, compose, union
from dlbook.receptive_field import ReceptiveField


def _tiny_torch():
    return torch.nn.Sequential(
        torch.nn.Conv2d(1, 4, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Conv2d(4, 8, 3, stride=2), torch.nn.Flatten(), torch.nn.Linear(32, 3))


def _tiny_numpy():
    return nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1, seed=0), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(4, 8, 3, stride=2, seed=1), nn.Flatten(), nn.Linear(32, 3, seed=2))


# by hand, for a (1, 1, 10, 10) input:
# conv 3×3 pad 1: 10×10, field 3, jump 1; pool 2: 5×5, field 3 + 1·1 = 4, jump 2;
# conv 3×3 stride 2: (5 - 3)//2 + 1 = 2, field 4 + 2·2 = 8, jump 4; then no field
EXPECTED = [
    ("input", "", (1, 1, 10, 10), 0, 1, 1),
    ("0", "Conv2d", (1, 4, 10, 10), 4 * 1 * 9 + 4, 3, 1),
    ("1", "ReLU", (1, 4, 10, 10), 0, 3, 1),
    ("2", "MaxPool2d", (1, 4, 5, 5), 0, 4, 2),
    ("3", "Conv2d", (1, 8, 2, 2), 8 * 4 * 9 + 8, 8, 4),
    ("4", "Flatten", (1, 32), 0, None, None),
    ("5", "Linear", (1, 3), 32 * 3 + 3, None, None),
]


def _rows(result):
    return [(r.name, r.type, r.output_shape, r.params, r.rf_size, r.rf_jump) for r in result]


@pytest.mark.parametrize("build", [_tiny_torch, _tiny_numpy], ids=["torch", "numpy"])
def test_tiny_model_by_hand(build):
    model = build()
    result = summary(model, (1, 1, 10, 10))
    assert _rows(result) == EXPECTED
    assert result.total_params == 40 + 296 + 99 == sum(r.params for r in result)


def test_meta_device_gives_the_same_rows():
    with torch.device("meta"):
        model = _tiny_torch()
    assert _rows(summary(model, (1, 1, 10, 10))) == EXPECTED


def test_the_start_of_the_field_is_kept_per_axis():
    model = torch.nn.Sequential(torch.nn.Conv2d(1, 1, (3, 5), stride=(1, 2)),
                                torch.nn.MaxPool2d(2))
    field = summary(model, (1, 1, 12, 12))["1"].field
    # conv: size (3, 5), jump (1, 2), start (1, 2); pool 2: size (3+1, 5+2), jump (2, 4),
    # start (1 + 0.5·1, 2 + 0.5·2)
    assert field == ReceptiveField((4, 7), (2, 4), (1.5, 3.0))


def test_lrn_passes_the_field_and_adaptive_pooling_keeps_it_only_for_equal_bins():
    model = torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3, padding=1),
                                torch.nn.LocalResponseNorm(2), torch.nn.AdaptiveAvgPool2d(3))
    equal = summary(model, (1, 1, 6, 6))
    assert [(r.rf_size, r.rf_jump) for r in equal][1:] == [(3, 1), (3, 1), (3 + 1, 2)]
    unequal = summary(model, (1, 1, 7, 7))  # bins of 3 and 4 rows: no single field
    assert unequal["2"].rf_size is None and unequal["2"].output_shape == (1, 2, 3, 3)


class _Residual(torch.nn.Module):
    """out = relu(conv_b(relu(conv_a(x))) + shortcut(x)), then a strided pair."""

    def __init__(self):
        super().__init__()
        self.conv_a = torch.nn.Conv2d(2, 2, 3, padding=1)
        self.conv_b = torch.nn.Conv2d(2, 2, 3, padding=1)
        self.relu = torch.nn.ReLU()
        self.down = torch.nn.Conv2d(2, 2, 3, stride=2, padding=1)
        self.skip = torch.nn.Conv2d(2, 2, 1, stride=2)
        self.head = torch.nn.Linear(2 * 4 * 4, 1)

    def forward(self, x):
        out = self.relu(self.conv_b(self.relu(self.conv_a(x))) + x)
        out = self.relu(self.down(out) + self.skip(out))
        return self.head(torch.flatten(out, 1))


def test_a_residual_sum_sees_the_union_of_its_terms():
    result = summary(_Residual(), (1, 2, 8, 8))
    sizes = [(r.name, r.rf_size, r.rf_jump) for r in result]
    # conv_a 3, conv_b 5; the sum with x (field 1) still 5; down: 5 + 2 = 7 with jump 2,
    # skip: 5 + 0 = 5; their sum: 7; the Linear after torch.flatten: none
    assert sizes == [("input", 1, 1), ("conv_a", 3, 1), ("relu", 3, 1), ("conv_b", 5, 1),
                     ("relu", 5, 1), ("down", 7, 2), ("skip", 5, 2), ("relu", 7, 2),
                     ("head", None, None)]
    assert result.total_params == sum(r.params for r in result)  # relu counted once


def test_union_and_compose_by_hand():
    a = ReceptiveField((3, 3), (2, 2), (0.0, 0.0))
    b = ReceptiveField((1, 1), (2, 2), (3.0, 3.0))   # a pixel 3 to the right and down
    assert union([a, b]) == ReceptiveField((5, 5), (2, 2), (1.0, 1.0))  # covers -1..3
    assert union([a, ReceptiveField((3, 3), (1, 1), (0.0, 0.0))]) is None  # other grid
    assert union([a, None]) is None
    # a 3×3 stride-2 layer, then a 3×3 layer on its output: 3 + 2·2 = 7, jump 2
    assert compose(ReceptiveField((3, 3), (2, 2), (1.0, 1.0)),
                   ReceptiveField((3, 3), (1, 1), (1.0, 1.0))).size == (7, 7)


def test_a_module_used_twice_counts_its_parameters_once():
    conv = torch.nn.Conv2d(2, 2, 3, padding=1)
    result = summary(torch.nn.Sequential(conv, torch.nn.ReLU(), conv), (1, 2, 5, 5))
    assert [r.params for r in result] == [0, 2 * 2 * 9 + 2, 0, 0]
    assert [r.rf_size for r in result] == [1, 3, 3, 5]


def test_summary_restores_modes_and_leaves_the_statistics_alone():
    model = torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3), torch.nn.BatchNorm2d(2),
                                torch.nn.Dropout(0.5))
    model[2].eval()  # a mixed state must come back as it was
    before = {k: v.clone() for k, v in model.state_dict().items()}
    summary(model, (1, 1, 5, 5))
    assert [m.training for m in model] == [True, True, False] and model.training
    for key, value in model.state_dict().items():
        assert torch.equal(value, before[key]), key
    numpy_model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2))
    summary(numpy_model, (1, 1, 5, 5))
    assert numpy_model.training and numpy_model[1].training
    assert int(numpy_model[1].num_batches_tracked) == 0
    assert all(m.saved_count == 0 for m in numpy_model.modules())
    assert "forward" not in numpy_model[0].__dict__  # the watcher is gone


def test_known_receptive_fields_of_alexnet_and_vgg16():
    """195 pixels after AlexNet's pool5 and 212 after VGG-16's (Araujo et al., Distill 2019)."""
    assert summary(alexnet("torchvision", device="meta"))["features.12"].rf_size == 195
    assert summary(alexnet("paper", device="meta"))["pool5"].rf_size == 195
    assert summary(vgg("D", device="meta"))["features.30"].rf_size == 212


def test_input_shape_defaults_to_the_models_own():
    result = summary(alexnet("paper", device="meta"))
    assert result[0].output_shape == (1, 3, 227, 227)
    assert result["fc8"].output_shape == (1, 1000)


@pytest.mark.parametrize("call, error, match", [
    (lambda: summary(_tiny_torch()), ValueError, r"needs input_shape, e\.g\. \(1, 3, 224, 224\)"),
    (lambda: summary(_tiny_torch(), (1, 1, 0, 10)), ValueError, "positive ints"),
    (lambda: summary(_tiny_torch(), 10), ValueError, "tuple of positive ints"),
    (lambda: summary(object(), (1, 1, 4, 4)), TypeError, "torch.nn.Module or a dlbook.nn.Module"),
    (lambda: summary(_tiny_torch(), (1, 1, 10, 10))["nope"], KeyError, "no layer 'nope'"),
])
def test_bad_input_is_refused(call, error, match):
    with pytest.raises(error, match=match):
        call()


# -- tables ----------------------------------------------------------------------------------
def test_table_in_both_languages_with_a_total():
    result = summary(_tiny_torch(), (1, 1, 10, 10))
    en, zh = result.table("en"), result.table("zh")
    assert en.columns == ["layer", "type", "output shape", "parameters", "receptive field",
                          "jump"]
    assert zh.columns == ["层", "类型", "输出形状", "参数量", "感受野", "跳步"]
    assert en.footer == ("total", None, None, 435, None, None) and zh.footer[0] == "合计"
    markdown = en.to_markdown().splitlines()
    assert markdown[0] == "| layer | type | output shape | parameters | receptive field | jump |"
    assert markdown[2] == "| input |  | 1×1×10×10 | 0 | 1 | 1 |"
    assert markdown[-1] == "| total |  |  | 435 |  |  |"
    html = result._repr_html_()
    assert html.startswith("<table>") and "<td style=\"text-align: right\">1×8×2×2</td>" in html
    assert str(result).splitlines()[0].split() == ["layer", "type", "output", "shape",
                                                   "parameters", "receptive", "field", "jump"]


def test_as_table_of_arithmetic_rows():
    rows = [LayerArithmetic("fc", "Linear", (10,), (10, 4096), 40960, 10),
            LayerArithmetic("pool", "MaxPool2d", (8, 3, 3), None, 0, 0)]
    table = as_table(rows, fields=["name", "weight_shape", "weights", "biases", "params"])
    assert table.rows == [("fc", (10, 4096), 40960, 10, 40970), ("pool", None, 0, 0, 0)]
    assert table.footer == ("total", None, 40960, 10, 40970)
    assert "| fc | 10×4096 | 40,960 | 10 | 40,970 |" in table.to_markdown()


@pytest.mark.parametrize("call, error, match", [
    (lambda: as_table([], "en"), TypeError, "non-empty list of dataclass records"),
    (lambda: as_table([LayerArithmetic("a", "b", (1,), None, 0, 0)], "fr"), ValueError, "lang"),
    (lambda: as_table([LayerArithmetic("a", "b", (1,), None, 0, 0)], fields=["x"]),
     ValueError, "no column"),
    (lambda: Table(["a", "b"], [(1,)]), ValueError, "every row needs 2 cells"),
])
def test_bad_tables_are_refused(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_numpy_and_torch_twins_give_the_same_rows():
    model = nn.Sequential(nn.Conv2d(3, 4, 5, stride=2, padding=2, seed=0), nn.BatchNorm2d(4),
                          nn.ReLU(), nn.LocalResponseNorm(3), nn.AdaptiveAvgPool2d(2),
                          nn.Flatten(), nn.Linear(16, 2, seed=1))
    ours, theirs = summary(model, (2, 3, 8, 8)), summary(nn.to_torch(model), (2, 3, 8, 8))
    assert _rows(ours) == _rows(theirs)
    assert ours["4"].rf_size == 5 + 2 * (2 - 1)  # 4×4 pooled to 2×2: 2-windows at jump 2
    assert np.all([r.params for r in ours] == np.array([0, 4 * 3 * 25 + 4, 8, 0, 0, 0, 0, 34]))
