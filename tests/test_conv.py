"""The conv layers: fast (im2col) == plain loops (conv_reference), PyTorch's shapes and init,
the transposed convolution as the exact adjoint of the convolution, the strict backend,
the skip switches, and a clear error for each bad input."""

import re

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from npgan.backend import to_device, to_host
from npgan.gradcheck import check_directional
from npgan.nn import (Conv2d, ConvTranspose2d, Flatten, LeakyReLU, Linear, Sequential,
                      Unflatten, Upsample, input_grad_only)
from npgan.nn import conv_reference as ref
from conftest import TOL
from strict_backend import strict

F64 = np.float64


def run(layer, x, dout):
    """Forward and backward from zeroed grads: (y, dx, {name: grad})."""
    layer.zero_grad()
    y = layer(x)
    dx = layer.backward(dout)
    return y, dx, {name: p.grad.copy() for name, p in layer.named_parameters()}


def close(a, b):
    return np.max(np.abs(a - b), initial=0.0) <= 1e-12 * max(1.0, np.max(np.abs(b), initial=0.0))


# -- fast == reference ---------------------------------------------------------------------------

@st.composite
def conv_setups(draw):
    """Sizes that fit: H = (OH - 1) s + kh - 2p for an output height OH >= 1."""
    kh, kw, s, p = (draw(st.integers(1, 4)), draw(st.integers(1, 4)), draw(st.integers(1, 3)),
                    draw(st.integers(0, 2)))
    OH, OW = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    H, W = (OH - 1) * s + kh - 2 * p, (OW - 1) * s + kw - 2 * p
    if H < 1 or W < 1:
        H, W, p = H + 2 * p, W + 2 * p, 0
    return dict(N=draw(st.integers(1, 3)), C=draw(st.integers(1, 3)), F=draw(st.integers(1, 3)),
                H=H, W=W, kernel=(kh, kw), stride=s, padding=p, seed=draw(st.integers(0, 99)))


@settings(max_examples=60)
@given(conv_setups(), st.booleans())
def test_conv2d_equals_the_loops(c, bias):
    rng = np.random.default_rng(c["seed"])
    layer = Conv2d(c["C"], c["F"], c["kernel"], stride=c["stride"], padding=c["padding"],
                   bias=bias, rng=rng, dtype=F64)
    x = rng.standard_normal((c["N"], c["C"], c["H"], c["W"]))
    w, b = layer.weight.data, layer.bias.data if bias else None
    y_ref = ref.conv2d(x, w, b, c["stride"], c["padding"])
    dout = rng.standard_normal(y_ref.shape)
    y, dx, grads = run(layer, x, dout)
    dx_ref, dw_ref, db_ref = ref.conv2d_backward(dout, x, w, c["stride"], c["padding"])
    assert close(y, y_ref) and close(dx, dx_ref) and close(grads["weight"], dw_ref)
    assert not bias or close(grads["bias"], db_ref)


@settings(max_examples=60)
@given(conv_setups(), st.booleans(), st.integers(0, 2))
def test_conv_transpose2d_equals_the_loops(c, bias, output_padding):
    rng = np.random.default_rng(c["seed"])
    s, p, op = c["stride"], c["padding"], min(output_padding, c["stride"] - 1)
    layer = ConvTranspose2d(c["C"], c["F"], c["kernel"], stride=s, padding=p, output_padding=op,
                            bias=bias, rng=rng, dtype=F64)
    x = rng.standard_normal((c["N"], c["C"], c["H"], c["W"]))
    w, b = layer.weight.data, layer.bias.data if bias else None
    if (c["H"] - 1) * s - 2 * p + c["kernel"][0] + op < 1 or \
            (c["W"] - 1) * s - 2 * p + c["kernel"][1] + op < 1:
        return                                       # the padding leaves no output: refused
    y_ref = ref.conv_transpose2d(x, w, b, s, p, op)
    dout = rng.standard_normal(y_ref.shape)
    y, dx, grads = run(layer, x, dout)
    dx_ref, dw_ref, db_ref = ref.conv_transpose2d_backward(dout, x, w, s, p)
    assert close(y, y_ref) and close(dx, dx_ref) and close(grads["weight"], dw_ref)
    assert not bias or close(grads["bias"], db_ref)


@settings(max_examples=40)
@given(conv_setups())
def test_transposed_convolution_is_the_adjoint_of_convolution(c):
    """<conv(x), y> == <x, conv_transpose(y)> for one shared weight: a transposed
    convolution is exactly the convolution's input gradient."""
    rng = np.random.default_rng(c["seed"])
    kw = dict(stride=c["stride"], padding=c["padding"], bias=False, rng=rng, dtype=F64)
    conv = Conv2d(c["C"], c["F"], c["kernel"], **kw)
    conv_t = ConvTranspose2d(c["F"], c["C"], c["kernel"], **kw)
    conv_t.weight.data[...] = conv.weight.data               # both (F, C, kh, kw)
    x = rng.standard_normal((c["N"], c["C"], c["H"], c["W"]))
    y = rng.standard_normal(conv(x).shape)
    lhs, rhs = float((conv(x) * y).sum()), float((x * conv_t(y)).sum())
    assert abs(lhs - rhs) <= 1e-12 * max(1.0, float(np.abs(x).sum() * np.abs(y).sum()))
    assert conv_t(y).shape == x.shape


def test_any_input_memory_layout_gives_the_same_numbers(rng):
    """Outputs are views with the batch axis last in memory; inputs of any layout work."""
    layer = Conv2d(3, 4, 3, stride=2, padding=1, rng=rng, dtype=F64)
    x = rng.standard_normal((2, 3, 7, 9))
    expected = ref.conv2d(x, layer.weight.data, layer.bias.data, 2, 1)
    for same_x in (x, np.asfortranarray(x), x[:, ::-1][:, ::-1], x.transpose(1, 2, 3, 0).copy()
                   .transpose(3, 0, 1, 2)):
        assert close(layer(same_x), expected)
    chain = Sequential(Conv2d(3, 4, 3, padding=1, rng=rng, dtype=F64), LeakyReLU(0.2),
                       ConvTranspose2d(4, 2, 4, stride=2, padding=1, rng=rng, dtype=F64),
                       Upsample(2), Flatten(), Linear(2 * 28 * 36, 3, rng=rng, dtype=F64))
    y = chain(x)
    assert y.shape == (2, 3)
    assert check_directional(chain, x)["x"] < TOL


# -- PyTorch's conventions --------------------------------------------------------------------

@pytest.mark.parametrize("H, k, s, p", [(28, 4, 2, 1), (14, 4, 2, 1), (7, 3, 1, 1), (9, 5, 2, 0),
                                        (9, 4, 3, 2), (5, 5, 1, 0)])
def test_conv2d_output_size(H, k, s, p):
    layer = Conv2d(2, 3, k, stride=s, padding=p)
    x = np.zeros((1, 2, H, H + s), np.float32)                # non-square: W = H + s also fits
    assert layer(x).shape == (1, 3, (H + 2 * p - k) // s + 1, (H + s + 2 * p - k) // s + 1)


@pytest.mark.parametrize("H, k, s, p, op", [(7, 4, 2, 1, 0), (14, 4, 2, 1, 0), (7, 3, 2, 1, 1),
                                            (4, 5, 3, 2, 2), (3, 3, 1, 0, 0)])
def test_conv_transpose2d_output_size(H, k, s, p, op):
    layer = ConvTranspose2d(2, 3, k, stride=s, padding=p, output_padding=op)
    y = layer(np.zeros((1, 2, H, H + 1), np.float32))
    assert y.shape == (1, 3, (H - 1) * s - 2 * p + k + op, H * s - 2 * p + k + op)


def test_dcgan_shapes():
    G = Sequential(Unflatten((128, 7, 7)), ConvTranspose2d(128, 64, 4, stride=2, padding=1),
                   ConvTranspose2d(64, 1, 4, stride=2, padding=1))
    D = Sequential(Conv2d(1, 64, 4, stride=2, padding=1), Conv2d(64, 128, 4, stride=2, padding=1),
                   Flatten())
    images = G(np.zeros((2, 128 * 7 * 7), np.float32))
    assert images.shape == (2, 1, 28, 28) and D(images).shape == (2, 128 * 7 * 7)


def test_init_is_pytorchs():
    """W, b ~ U(-k, k): k = 1/sqrt(in * kh * kw) for Conv2d (weight (out, in, kh, kw)) and
    k = 1/sqrt(weight.size(1) * kh * kw) = 1/sqrt(out * kh * kw) for ConvTranspose2d
    (weight (in, out, kh, kw))."""
    conv = Conv2d(6, 40, (3, 5), rng=np.random.default_rng(0))
    conv_t = ConvTranspose2d(40, 6, (3, 5), rng=np.random.default_rng(0))
    for layer, shape, k in [(conv, (40, 6, 3, 5), 1 / np.sqrt(6 * 15)),
                            (conv_t, (40, 6, 3, 5), 1 / np.sqrt(6 * 15))]:
        w = layer.weight.data
        assert w.shape == shape and w.dtype == np.float32
        assert np.abs(w).max() <= k and np.abs(w).max() > 0.98 * k    # fills (-k, k)
        assert abs(w.mean()) < 0.05 * k
        assert layer.bias.shape == (shape[0] if layer is conv else shape[1],)
        assert np.abs(layer.bias.data).max() <= k
    assert np.array_equal(Conv2d(6, 40, (3, 5), rng=np.random.default_rng(0)).weight.data,
                          conv.weight.data)                          # the seed reproduces them
    assert Conv2d(2, 3, 3, bias=False).bias is None


# -- the strict backend: the same bits as NumPy --------------------------------------------------

LAYERS = {   # name: rng -> (layer, input)
    "Conv2d": lambda rng: (Conv2d(3, 4, (3, 2), stride=2, padding=1, rng=rng, dtype=F64),
                           rng.standard_normal((2, 3, 7, 6))),
    "Conv2d float32": lambda rng: (Conv2d(2, 3, 4, stride=2, padding=1, rng=rng),
                                   rng.standard_normal((2, 2, 6, 8)).astype(np.float32)),
    "ConvTranspose2d": lambda rng: (ConvTranspose2d(3, 2, 4, stride=2, padding=1,
                                                    output_padding=1, rng=rng, dtype=F64),
                                    rng.standard_normal((2, 3, 3, 4))),
    "Upsample": lambda rng: (Upsample(2), rng.standard_normal((2, 3, 3, 4))),
    "Flatten": lambda rng: (Flatten(), rng.standard_normal((2, 3, 3, 4))),
    "Unflatten": lambda rng: (Unflatten((3, 2, 2)), rng.standard_normal((2, 12))),
}


@pytest.mark.parametrize("name", LAYERS)
def test_strict_backend_gives_numpys_bits(name):
    layer, x = LAYERS[name](np.random.default_rng(7))
    y = layer(x)
    dout = np.random.default_rng(8).standard_normal(y.shape).astype(y.dtype)
    on_host = run(layer, x, dout)
    layer.to(strict)
    on_device = run(layer, to_device(x, strict), to_device(dout, strict))
    for a, b in zip(on_host[:2], on_device[:2]):
        assert np.array_equal(a, to_host(b)) and a.dtype == to_host(b).dtype
    assert on_host[2].keys() == on_device[2].keys()
    assert all(np.array_equal(on_host[2][k], to_host(on_device[2][k])) for k in on_host[2])


def test_directional_check_runs_on_the_strict_backend(rng):
    layer = ConvTranspose2d(3, 2, 3, stride=2, rng=rng, dtype=F64)
    x = rng.standard_normal((2, 3, 4, 4))
    on_host = check_directional(layer, x)
    assert check_directional(layer.to(strict), to_device(x, strict)) == on_host


# -- the skip switches ---------------------------------------------------------------------------

@pytest.mark.parametrize("cls", [Conv2d, ConvTranspose2d])
def test_without_input_grad_and_input_grad_only(cls, rng):
    layer = cls(2, 3, 3, stride=2, padding=1, rng=rng, dtype=F64)
    x = rng.standard_normal((2, 2, 5, 5))
    dout = rng.standard_normal(layer(x).shape)
    y, dx, grads = run(layer, x, dout)
    with layer.without_input_grad():
        _, no_dx, same_grads = run(layer, x, dout)
    assert no_dx is None and layer.input_grad
    assert all(np.array_equal(grads[k], same_grads[k]) for k in grads)
    with input_grad_only(layer):
        _, same_dx, no_grads = run(layer, x, dout)
    assert np.array_equal(dx, same_dx)
    assert all(not np.any(g) for g in no_grads.values())


def test_gradients_accumulate(rng):
    layer = Conv2d(2, 3, 3, rng=rng, dtype=F64)
    x, dout = rng.standard_normal((2, 2, 5, 5)), rng.standard_normal((2, 3, 3, 3))
    _, _, once = run(layer, x, dout)
    layer(x)
    layer.backward(dout)                                     # a second pass adds on
    assert np.allclose(layer.weight.grad, 2 * once["weight"])
    with pytest.raises(RuntimeError, match="without a forward"):
        layer.backward(dout)


# -- clear errors --------------------------------------------------------------------------------

def test_conv_input_errors():
    conv = Conv2d(3, 8, 4, stride=2, padding=1)
    with pytest.raises(ValueError, match=r"Conv2d\(3 -> 8.*4-D input.*add a batch axis"):
        conv(np.zeros((3, 28, 28), np.float32))
    with pytest.raises(ValueError, match=r"expects 3 input channels, got 1"):
        conv(np.zeros((2, 1, 28, 28), np.float32))
    with pytest.raises(TypeError, match=r"float32 weights but got float64.*astype"):
        conv(np.zeros((2, 3, 28, 28)))
    with pytest.raises(ValueError, match=r"input height 27 .* 13.5 outputs.*heights 26 or 28"):
        conv(np.zeros((2, 3, 27, 28), np.float32))
    with pytest.raises(ValueError, match=r"input width 9 .*widths 8 or 10"):
        conv(np.zeros((2, 3, 28, 9), np.float32))
    with pytest.raises(ValueError, match=r"kernel width 5 is larger than the padded input "
                                         r"width 2 \+ 2\*1 = 4"):
        Conv2d(3, 8, 5, padding=1)(np.zeros((1, 3, 6, 2), np.float32))


def test_conv_transpose_input_errors():
    conv_t = ConvTranspose2d(16, 8, 4, stride=2, padding=1)
    with pytest.raises(ValueError, match=r"ConvTranspose2d\(16 -> 8.*add a batch axis"):
        conv_t(np.zeros((16, 7, 7), np.float32))
    with pytest.raises(ValueError, match=r"expects 16 input channels, got 8"):
        conv_t(np.zeros((2, 8, 7, 7), np.float32))
    with pytest.raises(TypeError, match=r"float32 weights but got float64"):
        conv_t(np.zeros((2, 16, 7, 7)))
    with pytest.raises(ValueError, match=r"output of 0x0.*use less padding"):
        ConvTranspose2d(1, 1, 2, padding=1)(np.zeros((1, 1, 1, 1), np.float32))


def test_constructor_errors():
    with pytest.raises(ValueError, match=r"output_padding must be an int with 0 <= "
                                         r"output_padding < stride = 2, got 2"):
        ConvTranspose2d(2, 2, 4, stride=2, output_padding=2)
    with pytest.raises(ValueError, match=r"kernel_size must be an int >= 1"):
        Conv2d(2, 2, (3, 0))
    with pytest.raises(ValueError, match=r"Conv2d: stride must be an int >= 1"):
        Conv2d(2, 2, 3, stride=0)
    with pytest.raises(ValueError, match=r"padding must be an int >= 0"):
        ConvTranspose2d(2, 2, 3, padding=(1, 1))
    with pytest.raises(ValueError, match=r"scale_factor must be an int >= 1"):
        Upsample(1.5)
    for bad in (0, 3.0, True, None):
        with pytest.raises(ValueError, match=r"Conv2d: in_channels must be an int >= 1"):
            Conv2d(bad, 8, 3)
        with pytest.raises(ValueError, match=r"ConvTranspose2d: out_channels must be an int"):
            ConvTranspose2d(8, bad, 3)
    with pytest.raises(ValueError, match=r"kernel_size must be an int >= 1"):
        Conv2d(3, 8, True)
    with pytest.raises(ValueError, match=r"stride must be an int >= 1"):
        Conv2d(3, 8, 3, stride=True)
    # NumPy ints are ints
    layer = ConvTranspose2d(np.int64(2), 3, np.int64(3), stride=np.int64(2),
                            output_padding=np.int64(1))
    assert (layer.in_channels, layer.output_padding, Upsample(np.int64(2)).scale_factor) == (2, 1, 2)


@pytest.mark.parametrize("make, x_shape, wrong", [
    (lambda: Conv2d(2, 3, 3, padding=1), (2, 2, 4, 6), (2, 3, 6, 4)),   # H and W swapped
    (lambda: Conv2d(2, 3, 3, padding=1), (2, 2, 4, 6), (2, 4, 4, 6)),   # channels
    (lambda: ConvTranspose2d(2, 3, 4, stride=2, padding=1), (2, 2, 3, 5), (2, 3, 10, 6)),
    (lambda: Upsample(2), (2, 3, 2, 4), (2, 3, 8, 4)),
    (lambda: Unflatten((3, 2, 4)), (2, 24), (2, 3, 4, 2)),
])
def test_backward_refuses_a_dout_of_another_shape(make, x_shape, wrong):
    """The same number of values in another shape would otherwise reshape into a wrong
    gradient, silently."""
    layer = make()
    layer(np.zeros(x_shape, np.float32))
    with pytest.raises(ValueError, match=r"backward expects dout of shape .* the shape its "
                                         r"forward returned, got " + re.escape(str(wrong))):
        layer.backward(np.zeros(wrong, np.float32))


def test_upsample_is_numpys_repeat(rng):
    x = rng.standard_normal((2, 3, 4, 5))
    assert np.array_equal(Upsample(3)(x), x.repeat(3, axis=2).repeat(3, axis=3))


def test_reshape_and_upsample_errors():
    with pytest.raises(ValueError, match=r"Flatten expects an input \(N, \.\.\.\) with a batch"):
        Flatten()(np.zeros(5))
    flatten = Flatten()
    flatten(np.zeros((2, 3, 4, 4)))
    with pytest.raises(ValueError, match=r"dout of shape \(2, 48\).*got \(2, 47\)"):
        flatten.backward(np.zeros((2, 47)))
    with pytest.raises(ValueError, match=r"Unflatten\(128, 7, 7\) expects an input of shape "
                                         r"\(N, 6272\).*got shape \(2, 6000\)"):
        Unflatten((128, 7, 7))(np.zeros((2, 6000)))
    with pytest.raises(ValueError, match=r"Upsample expects a 4-D input.*add a batch axis"):
        Upsample(2)(np.zeros((3, 4, 4)))


def test_col2im_in_channel_blocks_equals_one_pass_over_all_channels():
    """At the DCGAN's D conv2 size col2im adds in blocks of 16 channels (cache-sized); the
    result is bit for bit the plain loop's, which adds each offset over all channels at once."""
    from npgan.nn.conv import col2im
    rng = np.random.default_rng(0)
    N, C, H, W, k, s, p = 64, 64, 14, 14, 4, 2, 1
    cols = rng.standard_normal((C * k * k, 7 * 7 * N)).astype(np.float32)
    c6 = cols.reshape(C, k, k, 7, 7, N)
    plain = np.zeros((C, H + 2 * p, W + 2 * p, N), np.float32)
    for i in range(k):
        for j in range(k):
            plain[:, i:i + s * 7:s, j:j + s * 7:s, :] += c6[:, i, j]
    fast = col2im(cols, (N, C, H, W), (k, k), s, p)
    assert np.array_equal(fast, plain[:, p:p + H, p:p + W].transpose(3, 0, 1, 2))


@settings(max_examples=40)
@given(conv_setups(), st.integers(2, 9), st.integers(2, 3))
def test_im2col_and_col2im_on_threads_equal_one_thread(c, channels, n_threads):
    """The threaded fast paths (channel blocks on every thread) give the one-thread functions'
    numbers bit for bit, for any size, stride, padding and channel count (odd ones too)."""
    from npgan.nn import conv
    from npgan.nn.conv import col2im, im2col
    from npgan.threads import set_threads
    rng = np.random.default_rng(c["seed"])
    N, H, W, k, s, p = c["N"], c["H"], c["W"], c["kernel"], c["stride"], c["padding"]
    x = rng.standard_normal((N, channels, H, W)).astype(np.float32)
    cols_shape = im2col(x, k, s, p).shape
    dcols = rng.standard_normal(cols_shape).astype(np.float32)
    results, block_bytes = [], conv.BLOCK_BYTES
    try:
        conv.BLOCK_BYTES = 1                # col2im's blocks: one channel each, so they split
        for threads in (1, n_threads):
            set_threads(threads)
            results.append((im2col(x, k, s, p), col2im(dcols, x.shape, k, s, p)))
    finally:
        set_threads(1)                      # the suite's setting (tests/conftest.py)
        conv.BLOCK_BYTES = block_bytes
    (cols1, dx1), (cols2, dx2) = results
    assert np.array_equal(cols1, cols2) and np.array_equal(dx1, dx2)
    assert np.array_equal(cols1, ref_im2col(x, k, s, p))
    assert np.array_equal(dx1, ref_col2im(dcols, x.shape, k, s, p))


def ref_im2col(x, kernel, s, p):
    """im2col's definition, entry by entry: cols[(c, i, j), (oh, ow, n)] = x_pad[n, c, ...]."""
    (kh, kw), (N, C, H, W) = kernel, x.shape
    xp = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))
    OH, OW = (H + 2 * p - kh) // s + 1, (W + 2 * p - kw) // s + 1
    cols = np.empty((C, kh, kw, OH, OW, N), x.dtype)
    for c, i, j, oh, ow in np.ndindex(C, kh, kw, OH, OW):
        cols[c, i, j, oh, ow] = xp[:, c, oh * s + i, ow * s + j]
    return cols.reshape(C * kh * kw, OH * OW * N)


def ref_col2im(cols, x_shape, kernel, s, p):
    """col2im's definition: each entry added onto the pixel it was copied from, in the
    order (i, j) that col2im adds (float32 sums depend on the order)."""
    (kh, kw), (N, C, H, W) = kernel, x_shape
    OH, OW = (H + 2 * p - kh) // s + 1, (W + 2 * p - kw) // s + 1
    c6 = cols.reshape(C, kh, kw, OH, OW, N)
    x_pad = np.zeros((N, C, H + 2 * p, W + 2 * p), cols.dtype)
    for i, j in np.ndindex(kh, kw):
        for oh, ow in np.ndindex(OH, OW):
            x_pad[:, :, oh * s + i, ow * s + j] += c6[:, i, j, oh, ow].T
    return x_pad[:, :, p:p + H, p:p + W]
