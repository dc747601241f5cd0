"""Pictures of training: grids of generated images and loss curves, written as PNG files.

Figures are built with ``matplotlib.figure.Figure`` directly, never with pyplot, so this
module selects no backend, opens no windows, keeps no global figure state (safe in threads
and notebooks), and leaves the user's matplotlib settings alone. Files are written through
``checkpoint.atomic_write``: a crash never leaves half a PNG.
"""
import math
import os

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from npgan.checkpoint import atomic_write

_SCALE = 2                                       # screen pixels per image pixel
_DPI = 100
_PAD = 2                                         # pixels between tiles


def as_pictures(images, shape=None):
    """Images as pictures to draw or save: (n, h, w) grey or (n, h, w, 3) colour (RGB last).

    images: (n, h, w) or (n, h, w, 3) pictures, returned as they are; or flat (n, d) rows as
            the networks make them, unflattened by ``shape`` = (C, H, W), channels first (see
            npgan/models/config.py; C = 1 gives (n, H, W), C = 3 gives (n, H, W, 3)), or
            without ``shape`` as square grey s x s pictures, d = s * s (784 -> 28 x 28).
    Anything else, or n = 0, is a ValueError.
    """
    images = np.asarray(images)
    if images.ndim == 2 and shape is not None:
        c, h, w = (int(s) for s in shape)
        if c not in (1, 3) or images.shape[1] != c * h * w:
            raise ValueError(f"images of shape {images.shape} do not unflatten to shape "
                             f"{(c, h, w)} (C, H, W) with C = 1 or 3")
        images = images.reshape(len(images), c, h, w).transpose(0, 2, 3, 1)   # (n, H, W, C)
        images = images[..., 0] if c == 1 else images
    elif images.ndim == 2:
        side = math.isqrt(images.shape[1])
        if side * side != images.shape[1]:
            raise ValueError(f"images of shape {images.shape}: flat images need a square "
                             "number of pixels, like (n, 784) for 28 x 28, or a shape (C, H, W)")
        images = images.reshape(len(images), side, side)
    colour = images.ndim == 4 and images.shape[3] == 3
    if not (images.ndim == 3 or colour) or images.shape[0] == 0:
        raise ValueError(f"images must have shape (n, h, w), (n, h, w, 3) or (n, d) with "
                         f"n >= 1, got {images.shape}")
    return images


def make_grid(images, nrow, pad=_PAD, pad_value=1.0, *, shape=None):
    """Tile images into one picture with values in [0, 1]: grey (H, W) or colour (H, W, 3).

    images:    (n, h, w) grey, (n, h, w, 3) colour, or flat (n, d) rows with ``shape``
               (C, H, W), or square grey without (e.g. (n, 784) -> 28 x 28 tiles); see
               ``as_pictures``. Values in [-1, 1] as a Tanh generator makes them; mapped by
               (x + 1) / 2, clipped.
    nrow:      images per row, i.e. the number of columns (as in torchvision's make_grid).
    pad:       pixels between tiles and around the border, filled with ``pad_value``.
    Returns (H, W) or (H, W, 3), with H = rows * (h + pad) + pad and W = cols * (w + pad) + pad,
    where cols = min(nrow, n) and rows = ceil(n / cols). Image k sits at row k // cols, column
    k % cols, top-left corner (pad + row * (h + pad), pad + col * (w + pad)); the unused
    tiles of the last row are left at ``pad_value``.
    """
    images = as_pictures(images, shape)                          # (n, h, w[, 3])
    if int(nrow) < 1 or int(pad) < 0:
        raise ValueError(f"need nrow >= 1 and pad >= 0, got nrow={nrow}, pad={pad}")
    n, h, w = images.shape[:3]
    cols = min(int(nrow), n)
    rows = -(-n // cols)                                         # ceil(n / cols)
    grid = np.full((rows * (h + pad) + pad, cols * (w + pad) + pad, *images.shape[3:]),
                   pad_value, np.float64)
    for k, img in enumerate(np.clip((images + 1.0) / 2.0, 0.0, 1.0)):
        top, left = pad + (k // cols) * (h + pad), pad + (k % cols) * (w + pad)
        grid[top:top + h, left:left + w] = img                   # (h, w[, 3])
    return grid


def _save_figure(fig, path):
    """Write ``fig`` atomically; the format comes from the suffix of ``path`` (default PNG)."""
    fmt = os.path.splitext(os.fspath(path))[1].lstrip(".").lower() or "png"

    def write(f):
        fig.savefig(f, format=fmt, bbox_inches="tight", pad_inches=0.05)
    return atomic_write(path, write)


def save_image_grid(images, path, *, nrow=None, row_labels=None, title=None, shape=None):
    """Draw images as a grid with small white gaps and no ticks, and save it to ``path``.

    images:     (n, 28, 28), (n, 784), (n, h, w, 3) colour, or flat (n, d) rows with
                ``shape`` = (C, H, W); values in [-1, 1] (see ``make_grid``). Grey images are
                drawn grey, colour ones in colour.
    nrow:       images per row; default ceil(sqrt(n)), a square-ish grid.
    row_labels: optional list of strings, one per row, drawn at the left of each row
                (e.g. Fashion-MNIST class names for a 10 x 10 class-conditional grid).
    title:      optional title drawn above the grid.
    Returns ``path``.
    """
    images = as_pictures(images, shape)                          # (n, h, w[, 3])
    n, side = len(images), images.shape[1]
    nrow = math.ceil(math.sqrt(n)) if nrow is None else nrow
    grid = make_grid(images, nrow)                               # (H, W[, 3])
    rows = -(-n // min(nrow, n))
    if row_labels is not None and len(row_labels) != rows:
        raise ValueError(f"got {len(row_labels)} row_labels for a grid of {rows} rows")

    height, width = grid.shape[:2]
    fig = Figure(figsize=(width * _SCALE / _DPI, height * _SCALE / _DPI), dpi=_DPI)
    ax = fig.add_axes((0, 0, 1, 1))
    ax.imshow(grid, cmap="gray", vmin=0.0, vmax=1.0, interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])
    if row_labels is not None:                                   # labels at row centres
        ax.set_yticks([_PAD + r * (side + _PAD) + (side - 1) / 2 for r in range(rows)])
        ax.set_yticklabels([str(label) for label in row_labels])
        ax.tick_params(axis="y", length=0)
    ax.set_frame_on(False)
    if title is not None:
        ax.set_title(title)
    return _save_figure(fig, path)


def _moving_average(y, window):
    """Trailing mean over ``window`` steps.   y: (n,) -> (n - window + 1,)."""
    return np.convolve(y, np.ones(window) / window, mode="valid")


def save_loss_curves(history, path, *, title="GAN training"):
    """Plot losses and discriminator outputs per training step, and save them to ``path``.

    history: dict of equal-length (n,) lists or arrays, n >= 1, one value per step:
             ``d_loss``, ``g_loss``, ``d_real`` = mean D(x), ``d_fake`` = mean D(G(z)).
             Other keys are ignored.
    Top panel: D and G losses; bottom panel: D(x) and D(G(z)) with a dashed line at 0.5,
    where a D that cannot tell real from fake sits. Each series is drawn raw (thin,
    translucent) and as a moving average over max(1, n // 100) steps.
    Returns ``path``.
    """
    keys = ("d_loss", "g_loss", "d_real", "d_fake")
    missing = [k for k in keys if k not in history]
    if missing:
        raise ValueError(f"history lacks {', '.join(missing)}; it needs keys {keys}")
    series = {k: np.asarray(history[k], dtype=np.float64).reshape(-1) for k in keys}
    lengths = {k: len(v) for k, v in series.items()}
    if len(set(lengths.values())) != 1:
        raise ValueError(f"history series must have equal lengths, got {lengths}")
    n = lengths["d_loss"]
    if n == 0:
        raise ValueError("history is empty: there is nothing to plot before the first step")

    window = max(1, n // 100)
    steps = np.arange(n)
    fig = Figure(figsize=(8, 6), dpi=_DPI, layout="constrained")
    top, bottom = fig.subplots(2, 1, sharex=True)
    panels = [(top, [("d_loss", "D loss"), ("g_loss", "G loss")]),
              (bottom, [("d_real", "D(x)"), ("d_fake", "D(G(z))")])]
    colors = iter(["C0", "C1", "C2", "C3"])
    for ax, lines in panels:
        for key, label in lines:
            color = next(colors)
            ax.plot(steps, series[key], color=color, lw=0.6, alpha=0.3)
            ax.plot(steps[window - 1:], _moving_average(series[key], window), color=color,
                    lw=1.5, label=label, marker="o" if n == 1 else None)
        ax.grid(alpha=0.3)
    bottom.axhline(0.5, color="grey", ls="--", lw=1, label="0.5")
    top.set_ylabel("loss")
    bottom.set_ylabel("mean D output")
    bottom.set_ylim(-0.05, 1.05)                                 # D outputs probabilities
    bottom.set_xlabel("training step")
    bottom.xaxis.set_major_locator(MaxNLocator(integer=True))    # steps are whole numbers
    top.legend(loc="upper right")
    bottom.legend(loc="upper right")
    fig.suptitle(f"{title} (thick: moving average over {window} step{'s' * (window > 1)})")
    return _save_figure(fig, path)


def save_health_curves(history, path, *, low_diversity=None, few_classes=None, reference=None,
                       judge_after=None, title="GAN health"):
    """Plot the per-epoch health figures of ``npgan.health`` and save them to ``path``.

    history:   dict with ``health_step`` (m,) the steps of the m >= 1 checks, ``diversity``
               (m,) and, optionally, ``effective_classes`` and ``classes_covered`` (m,);
               None (or NaN) where a figure was not measured. Other keys are ignored.
    low_diversity, few_classes: the warning thresholds, drawn dotted (None: not drawn).
    reference: the real images' figures (``HealthProbe.reference``), drawn dashed.
    judge_after: the step before which no figure is judged, shaded (None: not shaded).
    Top panel: pixel diversity (1 = as varied as the training images, dashed). Bottom panel,
    when any check has them: effective classes and classes covered. Returns ``path``.
    """
    steps = np.asarray(history.get("health_step", ()), dtype=np.float64).reshape(-1)
    if len(steps) == 0:
        raise ValueError("history has no health checks (health_step is missing or empty): "
                         "there is nothing to plot before the first epoch ends")

    def series(key):
        values = history.get(key)
        if values is None:
            return np.full(len(steps), np.nan)
        y = np.array([np.nan if v is None else v for v in values], dtype=np.float64)
        if y.shape != steps.shape:
            raise ValueError(f"history[{key!r}] has {len(y)} values for {len(steps)} checks")
        return y

    diversity, classes = series("diversity"), series("effective_classes")
    covered = series("classes_covered")
    with_classes = not np.all(np.isnan(classes))
    reference = reference or {}
    fig = Figure(figsize=(8, 6 if with_classes else 3.5), dpi=_DPI, layout="constrained")
    axes = fig.subplots(2 if with_classes else 1, 1, sharex=True, squeeze=False)[:, 0]
    top = axes[0]
    top.plot(steps, diversity, "o-", color="C0", label="pixel diversity of G's samples")
    top.axhline(1.0, color="grey", ls="--", lw=1, label="training images (1 by definition)")
    if low_diversity is not None:
        top.axhline(low_diversity, color="C3", ls=":", lw=1.5,
                    label=f"warning below {low_diversity:g}")
    top.set_ylabel("diversity")
    top.set_ylim(bottom=0)
    panels = [top]
    if with_classes:
        bottom = axes[1]
        bottom.plot(steps, classes, "o-", color="C1", label="effective classes exp(H)")
        bottom.plot(steps, covered, "s--", color="C2", ms=4, lw=1,
                    label="classes with >= 1% of samples")
        if reference.get("effective_classes") is not None:
            bottom.axhline(reference["effective_classes"], color="grey", ls="--", lw=1,
                           label=f"training images: {reference['effective_classes']:.1f}")
        if few_classes is not None:
            bottom.axhline(few_classes, color="C3", ls=":", lw=1.5,
                           label=f"warning below {few_classes:g}")
        bottom.set_ylabel("classes")
        bottom.set_ylim(0, 10.5)
        panels.append(bottom)
    for ax in panels:
        if judge_after and steps[0] < judge_after:          # shaded within the checks' range
            ax.axvspan(0, min(judge_after, steps[-1]), color="grey", alpha=0.12, lw=0,
                       label=f"not judged before step {judge_after}")
        ax.grid(alpha=0.3)
        ax.legend(loc="lower right", fontsize="small")
    panels[-1].set_xlabel("training step")
    panels[-1].xaxis.set_major_locator(MaxNLocator(integer=True))
    fig.suptitle(f"{title}: {len(steps)} check{'s' * (len(steps) > 1)}, each on the same "
                 "noise after an epoch")
    return _save_figure(fig, path)
