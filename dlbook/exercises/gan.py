"""Chapter 9 (GANs and super-resolution): the sub-pixel rearrangement of PixelShuffle, the
discriminator's loss with its gradients on the logits, and PSNR."""

from __future__ import annotations

import numpy as np

from ..gan import discriminator_loss
from ..image_quality import psnr as _psnr
from ..nn.functional.activation import sigmoid
from ..nn.functional.loss import log_sigmoid
from ..nn.functional.pixelshuffle import pixel_shuffle as _pixel_shuffle
from .core import Case, Exercise, Slip

CHAPTER = 9
_F32 = {"en": "float32", "zh": "float32"}


# -- pixel_shuffle --------------------------------------------------------------------------
def reference_pixel_shuffle(x, upscale_factor):
    return _pixel_shuffle(x, upscale_factor)


def _cases_pixel_shuffle(rng):
    def case(shape, r, dtype=np.float64, note=None):
        return Case({"x": rng.standard_normal(shape).astype(dtype), "upscale_factor": r}, note)
    return [
        case((2, 8, 3, 3), 2, note={"en": "square maps, two output channels",
                                    "zh": "正方形的特征图，两个输出通道"}),
        case((1, 4, 2, 5), 2, note={"en": "one picture, one output channel, H ≠ W",
                                    "zh": "一张图、一个输出通道，H ≠ W"}),
        case((3, 27, 2, 4), 3, note={"en": "upscale_factor 3, three output channels",
                                     "zh": "upscale_factor 为 3，三个输出通道"}),
        case((2, 4, 3, 2), 1, note={"en": "upscale_factor 1: nothing moves",
                                    "zh": "upscale_factor 为 1：什么都不动"}),
        case((2, 12, 4, 3), 2, dtype=np.float32, note=_F32),
    ]


def _shuffle_variant(layout):
    """PixelShuffle with the channel axis read in another order ("rrc": the output channel
    last; "jic": the column offset before the row offset) or no transpose at all."""
    def shuffle(x, upscale_factor):
        r = upscale_factor
        n, channels, h, w = x.shape
        c = channels // (r * r)
        if layout == "reshape":  # the values keep their memory order
            return x.reshape(n, c, h * r, w * r)
        if layout == "rrc":
            blocks = x.reshape(n, r, r, c, h, w).transpose(0, 3, 4, 1, 5, 2)
        else:  # "cji": channel c·r² + j·r + i
            blocks = x.reshape(n, c, r, r, h, w).transpose(0, 1, 4, 3, 5, 2)
        return blocks.reshape(n, c, h * r, w * r)
    return shuffle


PIXEL_SHUFFLE = Exercise(
    id="pixel_shuffle", chapter=CHAPTER,
    title={"en": "The sub-pixel rearrangement (PixelShuffle)", "zh": "亚像素重排（PixelShuffle）"},
    statement={
        "en": """torch.nn.functional.pixel_shuffle for a batch: x (N, C·r², H, W) ->
(N, C, H·r, W·r) with r = upscale_factor. Input channel c·r² + i·r + j becomes the
pixel at row offset i, column offset j of each r × r block of output channel c:
out[n, c, h·r + i, w·r + j] = x[n, c·r² + i·r + j, h, w]. Return an array of x's dtype.""",
        "zh": """批量版的 torch.nn.functional.pixel_shuffle：x (N, C·r², H, W) ->
(N, C, H·r, W·r)，r = upscale_factor。输入的第 c·r² + i·r + j 个通道成为输出第 c 个通道
每个 r × r 小块中第 i 行、第 j 列的像素：
out[n, c, h·r + i, w·r + j] = x[n, c·r² + i·r + j, h, w]。返回的数组 dtype 与 x 相同。"""},
    reference=reference_pixel_shuffle, cases=_cases_pixel_shuffle, outputs=("output",),
    slips=(
        Slip("channel_last_in_group", {
            "en": "the output channel is the slowest index of the input channel, c·r² + i·r + j "
                  "(torch's order), not (i·r + j)·C + c: reshape to (N, C, r, r, H, W).",
            "zh": "输出通道是输入通道编号中变化最慢的那一位：c·r² + i·r + j（torch 的顺序），"
                  "不是 (i·r + j)·C + c；应 reshape 成 (N, C, r, r, H, W)。"},
            variants=(_shuffle_variant("rrc"),)),
        Slip("offsets_swapped", {
            "en": "the row and column offsets are swapped: channel c·r² + i·r + j goes to row "
                  "offset i (the slower one) and column offset j; after the reshape to "
                  "(N, C, r, r, H, W) transpose to (N, C, H, r, W, r).",
            "zh": "行偏移和列偏移对调了：第 c·r² + i·r + j 个通道去第 i 行（变化较慢的那一位）、"
                  "第 j 列；reshape 成 (N, C, r, r, H, W) 后应转置为 (N, C, H, r, W, r)。"},
            variants=(_shuffle_variant("cji"),)),
        Slip("reshape_only", {
            "en": "a reshape alone keeps the values in memory order: the r² channels of a group "
                  "must be interleaved into the picture, which takes a transpose.",
            "zh": "只 reshape 不转置，数值按内存顺序排列：一组的 r² 个通道必须交错地铺进图像，"
                  "这需要一次转置。"},
            variants=(_shuffle_variant("reshape"),)),
    ),
)


# -- discriminator_loss_and_grads -----------------------------------------------------------
def reference_discriminator_loss_and_grads(real_logits, fake_logits):
    loss, d_real, d_fake = discriminator_loss(real_logits, fake_logits)
    return real_logits.dtype.type(loss), d_real, d_fake  # float32 logits: float32 precision


def _cases_discriminator_loss_and_grads(rng):
    def case(n_real, n_fake, scale=2.0, shift=0.0, dtype=np.float64, note=None):
        return Case({"real_logits": (scale * rng.standard_normal(n_real) + shift).astype(dtype),
                     "fake_logits": (scale * rng.standard_normal(n_fake) - shift).astype(dtype)},
                    note)
    return [
        case(5, 5),
        case(4, 7, note={"en": "batches of different sizes", "zh": "两个批量大小不同"}),
        case(1, 1, note={"en": "one logit each", "zh": "各只有一个 logit"}),
        case(6, 6, scale=0.1, note={"en": "logits near 0: D cannot tell (loss ≈ 2 log 2)",
                                    "zh": "logit 接近 0：D 分不出来（损失 ≈ 2 log 2）"}),
        Case({"real_logits": -rng.uniform(40, 100, 4), "fake_logits": rng.uniform(40, 100, 3)},
             {"en": "a confidently wrong D: logits of 40 to 100 with the wrong sign",
              "zh": "自信地判错的 D：符号相反、大小 40 到 100 的 logit"}),
        case(5, 5, scale=30.0, shift=20.0,
             note={"en": "large logits (|a| up to about 100): log σ must not overflow",
                   "zh": "logit 很大（|a| 可达 100 左右）：log σ 不能溢出"}),
        case(5, 4, dtype=np.float32, note=_F32),
    ]


def _d_variant(slip):
    """The discriminator's loss with one slip (stable log σ unless the slip is its absence)."""
    def loss_and_grads(real_logits, fake_logits):
        real, fake = real_logits.astype(np.float64), fake_logits.astype(np.float64)
        n_r, n_f = real.size, fake.size
        sr, sf = sigmoid(real), sigmoid(fake)
        real_terms, fake_terms = -log_sigmoid(real), -log_sigmoid(-fake)
        loss = real_terms.mean() + fake_terms.mean()
        d_real, d_fake = (sr - 1) / n_r, sf / n_f
        if slip == "sum":
            loss, d_real, d_fake = real_terms.sum() + fake_terms.sum(), sr - 1, sf
        elif slip == "grad_sign":
            d_real, d_fake = (1 - sr) / n_r, -sf / n_f
        elif slip == "fake_as_real":  # both batches pushed towards 1
            loss, d_fake = real_terms.mean() - log_sigmoid(fake).mean(), (sf - 1) / n_f
        elif slip == "one_mean":  # one mean over both batches
            n = n_r + n_f
            loss = (real_terms.sum() + fake_terms.sum()) / n
            d_real, d_fake = (sr - 1) / n, sf / n
        elif slip == "naive_log":
            with np.errstate(all="ignore"):
                loss = -np.mean(np.log(sr)) - np.mean(np.log(1 - sf))
        return (real_logits.dtype.type(loss), d_real.astype(real_logits.dtype),
                d_fake.astype(fake_logits.dtype))
    return loss_and_grads


DISCRIMINATOR_LOSS_AND_GRADS = Exercise(
    id="discriminator_loss_and_grads", chapter=CHAPTER,
    title={"en": "The discriminator's loss and its gradients on the logits",
           "zh": "判别器的损失及其对 logit 的梯度"},
    statement={
        "en": """The discriminator's loss on its logits, a_r on a batch of real pictures and a_f
on a batch of generated ones (1-D arrays, sizes n_r and n_f):
L_D = -mean(log σ(a_r)) - mean(log(1 - σ(a_f))), binary cross-entropy with target 1
for the real batch and 0 for the fake one, the two means added. Return (loss, d_real,
d_fake): the loss (a number) and dL_D/da_r, dL_D/da_f, each of its logits' shape and
dtype. Logits of ±100 must give finite results: log σ(a) = min(a, 0) - log(1 + e^-|a|).""",
        "zh": """判别器在 logit 上的损失：a_r 是它对一批真实图像的 logit，a_f 是对一批生成图像的
（一维数组，大小 n_r 和 n_f）：
L_D = -mean(log σ(a_r)) - mean(log(1 - σ(a_f)))，即真实的一批目标为 1、生成的一批目标为 0 的
二元交叉熵，两个平均值相加。返回 (loss, d_real, d_fake)：损失（一个数）以及 dL_D/da_r、
dL_D/da_f，形状和 dtype 与各自的 logit 相同。logit 为 ±100 时结果也必须有限：
log σ(a) = min(a, 0) - log(1 + e^-|a|)。"""},
    reference=reference_discriminator_loss_and_grads, cases=_cases_discriminator_loss_and_grads,
    outputs=("loss", "d_real", "d_fake"),
    slips=(
        Slip("naive_log", {
            "en": "log(1 - σ(a)) computed as written breaks for large logits: 1 - σ(40) is "
                  "exactly 0 in float64, and log 0 = -inf (smaller logits lose digits). "
                  "Use log σ(a) = min(a, 0) - log(1 + e^-|a|) and log(1 - σ(a)) = log σ(-a).",
            "zh": "照式子直接算 log(1 - σ(a)) 在 logit 很大时会出错：1 - σ(40) 在 float64 中已经是 0，"
                  "log 0 = -inf（小一些的 logit 也会丢掉有效数字）。"
                  "应当用 log σ(a) = min(a, 0) - log(1 + e^-|a|)，以及 log(1 - σ(a)) = log σ(-a)。"},
            variants=(_d_variant("naive_log"),)),
        Slip("grad_sign", {
            "en": "the gradients have the wrong sign: d/da of -log σ(a) is σ(a) - 1 (negative: "
                  "raising a real logit lowers the loss), and d/da of -log(1 - σ(a)) is σ(a).",
            "zh": "梯度的符号反了：-log σ(a) 对 a 的导数是 σ(a) - 1（为负：提高真实图像的 logit "
                  "会降低损失），-log(1 - σ(a)) 对 a 的导数是 σ(a)。"},
            variants=(_d_variant("grad_sign"),)),
        Slip("fake_as_real", {
            "en": "the fake batch has target 0: its term is -log(1 - σ(a_f)), not -log σ(a_f) "
                  "(that is the generator's non-saturating loss).",
            "zh": "生成的一批目标是 0：它的项是 -log(1 - σ(a_f))，不是 -log σ(a_f)"
                  "（那是生成器的非饱和损失）。"},
            variants=(_d_variant("fake_as_real"),)),
        Slip("one_mean", {
            "en": "each batch has its own mean (divide by n_r and by n_f), and the two are "
                  "added; one mean over both batches halves the loss when n_r = n_f.",
            "zh": "每个批量各自求平均（分别除以 n_r 和 n_f），再把两项相加；"
                  "对两个批量合起来求一个平均，在 n_r = n_f 时损失会减半。"},
            variants=(_d_variant("one_mean"),)),
        Slip("sum", {
            "en": "the loss is a mean over each batch, so each logit's gradient carries a "
                  "factor 1/n_r or 1/n_f.",
            "zh": "损失是对每个批量的平均，所以每个 logit 的梯度带有系数 1/n_r 或 1/n_f。"},
            variants=(_d_variant("sum"),)),
    ),
)


# -- psnr -----------------------------------------------------------------------------------
def reference_psnr(reference, test, data_range):
    return _psnr(reference, test, data_range=data_range)


def _cases_psnr(rng):
    def float_case(shape, noise, data_range=1.0, note=None):
        ref = rng.uniform(0, data_range, shape)
        test = np.clip(ref + noise * data_range * rng.standard_normal(shape), 0, data_range)
        return Case({"reference": ref, "test": test, "data_range": data_range}, note)

    def uint8_case(shape, note):
        ref = rng.integers(0, 256, shape).astype(np.uint8)
        test = np.clip(ref.astype(int) + rng.integers(-20, 21, shape), 0, 255).astype(np.uint8)
        return Case({"reference": ref, "test": test, "data_range": 255}, note)
    return [
        float_case((8, 8), 0.05),
        float_case((6, 7), 0.01, data_range=2.0,
                   note={"en": "data_range 2 (images in [0, 2])", "zh": "data_range 为 2（图像在 [0, 2] 中）"}),
        float_case((5, 5, 3), 0.1, note={"en": "a colour image (H, W, 3)", "zh": "彩色图像 (H, W, 3)"}),
        uint8_case((6, 6), {"en": "uint8 images, data_range 255: a - b wraps around in uint8",
                            "zh": "uint8 图像，data_range 为 255：uint8 里的 a - b 会回绕"}),
        float_case((9, 4), 0.3, data_range=255.0,
                   note={"en": "floats in [0, 255]", "zh": "[0, 255] 范围的浮点数"}),
    ]


def _psnr_variant(slip):
    def psnr(reference, test, data_range):
        if slip == "uint8_wraps":
            diff = (reference - test).astype(np.float64)
        else:
            diff = reference.astype(np.float64) - test.astype(np.float64)
        mse = np.mean(diff ** 2)
        if slip == "twenty_log":
            return float(20 * np.log10(data_range ** 2 / mse))
        if slip == "range_not_squared":
            return float(10 * np.log10(data_range / mse))
        if slip == "rmse_with_ten":
            return float(10 * np.log10(data_range / np.sqrt(mse)))
        if slip == "range_from_image":
            peak = float(reference.max())
            return float(10 * np.log10(peak ** 2 / mse))
        return float(10 * np.log10(data_range ** 2 / mse))
    return psnr


PSNR = Exercise(
    id="psnr", chapter=CHAPTER,
    title={"en": "Peak signal-to-noise ratio", "zh": "峰值信噪比（PSNR）"},
    statement={
        "en": """The peak signal-to-noise ratio of a test image against a reference, in dB:
PSNR = 10 log10(R² / MSE), R = data_range (1 for floats in [0, 1], 255 for uint8) and
MSE the mean of the squared differences over every entry. reference and test have one
shape, any number of axes, float or uint8. Return a float (the inputs differ).""",
        "zh": """测试图像相对参考图像的峰值信噪比，单位 dB：PSNR = 10 log10(R² / MSE)，
R = data_range（[0, 1] 的浮点图像为 1，uint8 为 255），MSE 是所有元素之差的平方的平均。
reference 与 test 形状相同，维数不限，float 或 uint8。返回一个数（两幅图不相同）。"""},
    reference=reference_psnr, cases=_cases_psnr, outputs=("psnr",),
    slips=(
        Slip("twenty_log", {
            "en": "20·log10 goes with the ratio of amplitudes, R / RMSE; with the ratio of "
                  "powers, R² / MSE, it is 10·log10 (the two are the same number).",
            "zh": "20·log10 用于幅度之比 R / RMSE；对功率之比 R² / MSE 应当用 10·log10"
                  "（两者是同一个数）。"},
            variants=(_psnr_variant("twenty_log"),)),
        Slip("range_not_squared", {
            "en": "the peak enters squared: 10·log10(R² / MSE).",
            "zh": "峰值要平方：10·log10(R² / MSE)。"},
            variants=(_psnr_variant("range_not_squared"),)),
        Slip("rmse_with_ten", {
            "en": "with the root mean squared error the factor is 20: 20·log10(R / RMSE).",
            "zh": "用均方根误差时系数是 20：20·log10(R / RMSE)。"},
            variants=(_psnr_variant("rmse_with_ten"),)),
        Slip("uint8_wraps", {
            "en": "uint8 arithmetic wraps around (3 - 5 = 254): convert both images to float "
                  "before subtracting.",
            "zh": "uint8 的运算会回绕（3 - 5 = 254）：先把两幅图转成浮点数再相减。"},
            variants=(_psnr_variant("uint8_wraps"),)),
        Slip("range_from_image", {
            "en": "R is the range the pixel format allows (data_range), not the largest value "
                  "in this image.",
            "zh": "R 是像素格式允许的范围（data_range），不是这幅图里的最大值。"},
            variants=(_psnr_variant("range_from_image"),)),
    ),
)

EXERCISES = [PIXEL_SHUFFLE, DISCRIMINATOR_LOSS_AND_GRADS, PSNR]
