"""Binary cross-entropy, on probabilities and on logits, softmax cross-entropy for
classifiers, and MSGAN's mode-seeking term for a generator. Each returns ``(loss, grad)``.

Both average over every element, N = p.size (for a discriminator's (N, 1) output, the batch).
Targets ``y`` may be an array of p's shape or a scalar, and may be soft (0.9 for one-sided
label smoothing): the formulas hold for any y in [0, 1].
"""

from npgan.backend import get_array_module


def bce(p, y, eps=1e-7):
    """Binary cross-entropy of probabilities.   p: (N, 1) or (N,) in (0, 1); y: same, or scalar.

        L  = -mean( y * log(p) + (1 - y) * log(1 - p) )
        dp = (p - y) / (p * (1 - p)) / N

    p is clipped to [eps, 1 - eps] so log(0) cannot appear; where the clip is active the
    gradient is that of the clipped value. Prefer ``bce_with_logits``, which needs no clip.
    Returns (loss as a float, dL/dp of p's shape and dtype).
    """
    xp = get_array_module(p)
    n = p.size
    pc = xp.clip(p, eps, 1 - eps)
    loss = -(y * xp.log(pc) + (1 - y) * xp.log(1 - pc)).mean()
    dp = (pc - y) / (pc * (1 - pc)) / n
    return float(loss), dp.astype(p.dtype, copy=False)


def bce_with_logits(z, y):
    """Binary cross-entropy of sigmoid(z), computed from the logits z without overflow.

    z: (N, 1) or (N,) real; y: same shape, or scalar, in [0, 1].

    Per element, with s = sigmoid(z):
        l = -[y log s + (1 - y) log(1 - s)]
    Using log s = -log(1 + e^-z) and log(1 - s) = -z - log(1 + e^-z):
        l = (1 - y) z + log(1 + e^-z)
    which overflows for z << 0. Writing log(1 + e^-z) = max(-z, 0) + log(1 + e^-|z|) gives the
    stable form used here:
        l = max(z, 0) - y z + log(1 + e^-|z|)
    Its derivative: dl/dz = (1 - y) - e^-z / (1 + e^-z) = (1 - y) - (1 - s) = s - y, so
        dL/dz = (sigmoid(z) - y) / N
    bounded by 1/N for any z, even +/-1e4. Returns (loss as a float, dL/dz of z's shape).
    """
    xp = get_array_module(z)
    n = z.size
    loss = (xp.maximum(z, 0) - y * z + xp.log1p(xp.exp(-xp.abs(z)))).mean()
    s = 0.5 * (1 + xp.tanh(0.5 * z))                    # sigmoid(z), overflow-free
    dz = (s - y) / n
    return float(loss), dz.astype(z.dtype, copy=False)


def softmax_cross_entropy(z, labels):
    """Cross-entropy of softmax(z) against integer class labels, from the logits z.

    z: (N, C) real logits; labels: (N,) integers in 0 .. C-1. Averages over the N rows.

    Per row, with p = softmax(z), p_k = e^(z_k) / sum_j e^(z_j), and true class y:
        l = -log p_y = -z_y + log sum_j e^(z_j)
    Subtracting the row maximum m first changes nothing (e^(z_j - m) / sum e^(z_i - m) = p_j)
    but keeps every exponent <= 0, so e^(...) cannot overflow:
        l = -(z_y - m) + log sum_j e^(z_j - m)
    Its derivative: dl/dz_k = -[k == y] + e^(z_k) / sum_j e^(z_j) = p_k - onehot(y)_k, so
        dL/dz = (softmax(z) - onehot(y)) / N
    the same shape as the sigmoid form, and bounded by 1/N per entry.
    Returns (loss as a float, dL/dz of z's shape and dtype).
    """
    xp = get_array_module(z)
    n = z.shape[0]
    rows = xp.arange(n)
    shifted = z - z.max(axis=1, keepdims=True)          # (N, C), every entry <= 0
    log_norm = xp.log(xp.exp(shifted).sum(axis=1))      # (N,)  log sum_j e^(z_j - m)
    loss = (log_norm - shifted[rows, labels]).mean()
    dz = xp.exp(shifted - log_norm[:, None])            # softmax(z), (N, C)
    dz[rows, labels] -= 1
    dz /= n
    return float(loss), dz.astype(z.dtype, copy=False)


def mode_seeking(images, z, eps=1e-5):
    """The mode-seeking term of MSGAN (Mao et al. 2019, "Mode Seeking Generative Adversarial
    Networks for Diverse Image Synthesis"), for G to minimize beside its adversarial loss.

    images: (N, ...) G's output for the noise z: (N, K); N >= 2. Row i of the first half and
    row i of the second half form a pair (z1, z2), drawn for the same label; with an odd N
    the last row is in no pair. With the root-mean-square differences over the M = N // 2
    pairs, with D the number of values in an image:
        diff  = G(z1) - G(z2)                    (M, ...)
        d_img = sqrt(mean diff^2)                (over the M * D entries)
        d_z   = sqrt(mean (z1 - z2)^2)           (over M * K entries; a constant for G)
        r     = d_img / d_z                      how far apart two noise vectors' images land
        L     = 1 / (r + eps)
    L is large when different noise gives nearly the same image, the sign of a G that ignores
    z (within a class, for a conditional G). Its derivative, by the chain rule:
        dL/dr          = -1 / (r + eps)^2 = -L^2
        dd_img/ddiff   = diff / (M * D * d_img)
        dL/dG(z1)      = -L^2 * diff / (M * D * d_img * d_z),    dL/dG(z2) = -dL/dG(z1)
    At d_img = 0 (the pairs identical) sqrt has no derivative; the gradient returned there is
    0. Near it the gradient is large (L^2 / d_img grows as r falls), which Adam's step
    normalizes.

    MSGAN's paper takes mean absolute differences. Their gradient, -L^2 sign(diff) / (M D
    d_z') with d_z' = mean |z1 - z2|, pushes every pixel apart as hard, the black background
    too, where two images agree up to rounding; in a first trial on MNIST the digits came out
    speckled. The squared form's gradient is proportional to diff, so it leaves alike pixels
    alone (tests/test_mode_seeking.py).
    Returns (loss as a float, dL/d(images) of images' shape and dtype).
    """
    xp = get_array_module(images)
    m = images.shape[0] // 2
    if m == 0:
        raise ValueError(f"mode_seeking needs at least one pair of images, got {images.shape[0]}")
    diff = images[:m] - images[m:2 * m]                 # (M, ...)  G(z1) - G(z2)
    d_z = float(xp.sqrt(((z[:m] - z[m:2 * m]) ** 2).mean()))
    if d_z == 0:
        raise ValueError("mode_seeking: every pair has the same noise (z1 = z2), so the "
                         "distance between their images means nothing")
    d_img = float(xp.sqrt((diff ** 2).mean()))
    loss = 1.0 / (d_img / d_z + eps)
    g1 = diff * (-loss * loss / (diff.size * max(d_img, 1e-30) * d_z))   # dL/dG(z1), as above
    grad = xp.zeros_like(images)
    grad[:m], grad[m:2 * m] = g1, -g1
    return loss, grad


def info_term(out, dverdict, codes, weight):
    """InfoGAN's term (Chen et al. 2016; npgan/train.py) on D's output ``out``: (B, 1 + K),
    its verdict (a logit) in column 0 and Q's K logits for z's code after it. ``dverdict``
    is the gradient of the BCE on the verdict, (B, 1). Returns (L_I, dL/dout) for
    L = BCE + weight * L_I, with L_I = CE(out[:, 1:], codes) for a fake batch (``codes``:
    (B,) ints). A real batch (``codes`` None) has no code: L_I = 0 and Q's columns of dL/dout
    are 0, so Q learns from fakes only. The gradient is softmax_cross_entropy's, scaled."""
    dout = get_array_module(out).zeros_like(out)
    dout[:, :1] = dverdict
    if codes is None:
        return 0.0, dout
    info, dq = softmax_cross_entropy(out[:, 1:], codes)        # (B, K)
    dout[:, 1:] = weight * dq
    return info, dout
