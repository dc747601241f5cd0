"""The sizes and constants of a GAN's two networks: everything needed to rebuild them.

A checkpoint stores ``cfg.to_dict()``; ``GANConfig.from_dict`` reads it back and refuses
fields it does not know. The same dict, as JSON, is what ``--config FILE.json`` reads (the
"model" object of a run's ``config.json``; see ``demos/config_file.py``), so the well-known
tutorial networks are a few lines each (``demos/configs/``). Fields an older checkpoint
lacks get their defaults.

Images travel through the networks flat: (N, image_dim) rows, laid out channels first
(C, H, W), as PyTorch lays them out, so a grey image's row is its H x W pixels row by row and
a colour image's is its red plane, then its green, then its blue. ``image_shape`` says how to
unflatten them: () for a square grey image of image_dim pixels (28 x 28 for the default 784),
else (C, H, W) with C = 1 (grey) or 3 (RGB) and C * H * W = image_dim.
"""

import math
import numbers
from dataclasses import asdict, dataclass, fields

ACTIVATIONS = ("leaky_relu", "relu")
BATCHNORM = ("all_but_first", "all", "none")      # which hidden Linears a BatchNorm1d follows
OUTPUTS = {"tanh": -1.0, "sigmoid": 0.0}          # G's last activation -> its darkest pixel
D_LABELS = ("concat", "projection")               # how a conditional D is told the label


@dataclass(frozen=True)
class GANConfig:
    """Sizes and constants of a GAN's two networks (everything needed to rebuild them)."""

    latent_dim: int = 100                # the width of z, G's input
    latent_components: int = 0           # 0: z ~ N(0, I); K: a mixture of K (npgan/latent.py)
    latent_std: float = 1.0              # the std of z's Gaussian entries
    info_weight: float = 0.0             # > 0: InfoGAN, D also guesses z's component (train.py)
    g_hidden: tuple = (128, 256, 512, 1024)
    d_hidden: tuple = (512, 256)
    image_dim: int = 784
    slope: float = 0.2                   # LeakyReLU negative slope
    bn_eps: float = 1e-5
    bn_momentum: float = 0.2
    g_activation: str = "leaky_relu"     # after G's hidden Linears: "leaky_relu" (slope) or "relu"
    d_activation: str = "leaky_relu"     # after D's hidden Linears: the same choices
    g_batchnorm: str = "all_but_first"   # BatchNorm1d after G's hidden Linears: "all_but_first",
    d_batchnorm: str = "none"            # "all" or "none" (D's default: none)
    d_dropout: float = 0.0               # dropout after each of D's hidden activations
    output: str = "tanh"                 # G's output: "tanh", pixels in [-1, 1]; "sigmoid", [0, 1]
    num_classes: int = 0                 # 0: a plain GAN; 10: a conditional GAN on 10 classes
    embed_dim: int = 10                  # size of the label embedding (conditional only)
    d_label: str = "concat"              # how a conditional D sees the label: "concat" (an
    #                                      embedding joined to x) or "projection" (Miyato 2018)
    image_shape: tuple = ()              # (C, H, W) of the flat images; (): square grey

    @property
    def conditional(self):
        return self.num_classes > 0

    @property
    def pixel_low(self):
        """The darkest pixel value G draws and the training data is scaled to: -1 or 0."""
        return OUTPUTS[self.output]

    def __post_init__(self):
        check_kinds(self)
        if not self.g_hidden or not self.d_hidden or min(self.g_hidden + self.d_hidden) < 1:
            raise ValueError("GANConfig: g_hidden and d_hidden must be non-empty lists of positive sizes")
        for name, allowed in (("g_activation", ACTIVATIONS), ("d_activation", ACTIVATIONS),
                              ("g_batchnorm", BATCHNORM), ("d_batchnorm", BATCHNORM),
                              ("output", tuple(OUTPUTS)), ("d_label", D_LABELS)):
            if getattr(self, name) not in allowed:
                raise ValueError(f"GANConfig: {name} must be one of {', '.join(map(repr, allowed))}, "
                                 f"got {getattr(self, name)!r}")
        check_image_shape(self)

    def weight_count(self):
        """The number of weights in the Linears: what a checkpoint of this config must hold
        at least (checked before anything is allocated)."""
        g = (self.latent_dim, *self.g_hidden, self.image_dim)
        d = (self.image_dim, *self.d_hidden, d_outputs(self))
        return sum(int(a) * int(b) for w in (g, d) for a, b in zip(w, w[1:]))

    def to_dict(self):
        return config_to_dict(self)

    @classmethod
    def from_dict(cls, d):
        return config_from_fields(cls, d)


def check_kinds(cfg):
    """Every field of ``cfg`` of the kind its annotation says (an int that is not a bool, a
    finite number, a string, a bool, a list of whole sizes), else a ValueError naming the
    config and the field; integers are stored as Python ints and floats as Python floats
    (JSON-able, and no NumPy scalar type leaks into the arrays they scale). Then the ranges
    that every config shares: sizes >= 1, num_classes >= 0, 0 <= latent_components <=
    latent_dim, latent_std > 0, bn_eps > 0, bn_momentum in [0, 1], d_dropout in [0, 1),
    slope >= 0."""
    name = type(cfg).__name__

    def whole(v):
        return isinstance(v, numbers.Integral) and not isinstance(v, bool)
    for f in fields(cfg):
        v = getattr(cfg, f.name)
        if f.type is int:
            ok, want = whole(v), "an integer"
        elif f.type is float:
            ok = isinstance(v, numbers.Real) and not isinstance(v, bool) and math.isfinite(v)
            want = "a number"
        elif f.type is bool:
            ok, want = isinstance(v, bool), "true or false"
        elif f.type is str:
            ok, want = isinstance(v, str), "a string"
        else:                                                   # tuple: a list of sizes
            ok = isinstance(v, (list, tuple)) and all(whole(x) for x in v)
            want = "a list of integers"
        if not ok:
            raise ValueError(f"{name}: {f.name} must be {want}, got {v!r}")
        if f.type in (int, float, tuple):                       # plain Python values
            object.__setattr__(cfg, f.name, tuple(int(x) for x in v) if f.type is tuple
                               else f.type(v))
    ranges = {"latent_dim": (1, "a positive integer"), "image_dim": (1, "a positive integer"),
              "embed_dim": (1, "a positive integer"), "num_classes": (0, ">= 0 (0: a plain GAN)"),
              "slope": (0, ">= 0")}
    for field, (low, want) in ranges.items():
        if hasattr(cfg, field) and getattr(cfg, field) < low:
            raise ValueError(f"{name}: {field} must be {want}, got {getattr(cfg, field)}")
    K = cfg.latent_components
    if not 0 <= K <= cfg.latent_dim:
        raise ValueError(f"{name}: latent_components must be between 0 (z ~ N(0, I)) and "
                         f"latent_dim = {cfg.latent_dim} (z a one-hot code of one of K "
                         f"components, then latent_dim - K Gaussian entries), got {K}")
    if not cfg.latent_std > 0:
        raise ValueError(f"{name}: latent_std must be > 0, got {cfg.latent_std}")
    if not cfg.info_weight >= 0:
        raise ValueError(f"{name}: info_weight must be >= 0 (0: off), got {cfg.info_weight}")
    if cfg.info_weight and K < 2:
        raise ValueError(f"{name}: info_weight > 0 makes D guess which of the latent_components "
                         f"drew z, so it needs latent_components >= 2, got {K}")
    if cfg.info_weight and cfg.num_classes:
        raise ValueError(f"{name}: info_weight is for a plain GAN (num_classes 0): a "
                         "conditional GAN is told its labels already")
    if not cfg.bn_eps > 0:
        raise ValueError(f"{name}: bn_eps must be > 0, got {cfg.bn_eps}")
    if not 0 <= cfg.bn_momentum <= 1:
        raise ValueError(f"{name}: bn_momentum must be in [0, 1], got {cfg.bn_momentum}")
    if not 0 <= cfg.d_dropout < 1:
        raise ValueError(f"{name}: d_dropout must be in [0, 1), got {cfg.d_dropout}")


def d_outputs(cfg):
    """The width of D's last layer: 1, its verdict (a logit, real if > 0); with InfoGAN's
    code head (``info_weight`` > 0), 1 + latent_components: the verdict, then Q's logits for
    the component of z that drew the image (npgan/train.py)."""
    return 1 + (cfg.latent_components if cfg.info_weight else 0)


def check_image_shape(cfg):
    """Validate ``cfg.image_shape`` (a tuple of ints by now: ``check_kinds``) against
    ``cfg.image_dim``; raises ValueError naming the config."""
    name, shape = type(cfg).__name__, cfg.image_shape
    if shape and (len(shape) != 3 or min(shape) < 1 or shape[0] not in (1, 3)):
        raise ValueError(f"{name}: image_shape must be () or (C, H, W) with C = 1 (grey) or "
                         f"3 (RGB) and H, W >= 1, got {list(shape)}")
    if shape and math.prod(shape) != cfg.image_dim:
        raise ValueError(f"{name}: image_dim {cfg.image_dim} does not match image_shape "
                         f"{list(shape)}, whose C * H * W is {math.prod(shape)} "
                         f"({name}(**shape_fields({shape})) sets both)")


def image_shape_of(cfg):
    """(C, H, W) of ``cfg``'s flat images: its ``image_shape``, or (1, s, s) for the square
    grey image of image_dim = s * s pixels. ValueError if image_dim is not square."""
    if cfg.image_shape:
        return cfg.image_shape
    side = math.isqrt(cfg.image_dim)
    if side * side != cfg.image_dim:
        raise ValueError(f"images of {cfg.image_dim} pixels are not square, and the config "
                         "gives no image_shape (C, H, W)")
    return (1, side, side)


def shape_fields(shape):
    """The config fields for images of ``shape`` (C, H, W): ``GANConfig(**shape_fields(s))``."""
    shape = tuple(int(s) for s in shape)
    return {"image_dim": math.prod(shape), "image_shape": shape}


def config_to_dict(cfg):
    """A config dataclass as JSON-able dict (tuples of sizes become lists)."""
    return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(cfg).items()}


def config_from_fields(cls, d):
    """``cls(**d)``, refusing fields that ``cls`` does not have (a checkpoint's config)."""
    unknown = sorted(set(d) - {f.name for f in fields(cls)})
    if unknown:
        raise ValueError(f"{cls.__name__}: unknown fields {unknown}")
    return cls(**d)
