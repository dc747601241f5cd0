"""One GAN training step, and the state a run must save to continue exactly where it stopped.

A step (Goodfellow et al. 2014, with the non-saturating generator loss):

    z ~ N(0, I) (or a config's mixture, npgan/latent.py);  fake = G(z)
    D step:  L_D = BCE(D(real), 1) + BCE(D(fake), 0)        update D only  (1 - s: below)
    G step:  L_G = BCE(D(fake), 1) = -mean log D(G(z))        update G only, through the new D

The G step's gradient flows back through D into G; D's parameter gradients from that pass
are never applied (only G's optimizer steps). ``GANTrainer.plain_step`` is this step as
written here; ``fast_step`` beside it computes the same numbers with less work.

A conditional GAN runs the same step with labels: G draws fakes for random labels, and D sees
real images with their true labels and fakes with the labels they were generated for.

With ``mode_seeking`` w > 0 (MSGAN, Mao et al. 2019; npgan.losses.mode_seeking), the fakes
come in pairs, row i and row i + B/2 drawn for the same label from different noise, and the
G step minimizes L_G + w * L_ms, where L_ms = 1 / (rms(G(z1) - G(z2)) / rms(z1 - z2)) grows
when G maps different noise to nearly the same image.

With ``label_smoothing`` s > 0 (one-sided label smoothing, Salimans et al. 2016, "Improved
Techniques for Training GANs", section 3.4), D's target for real images is 1 - s instead of 1:
L_D = BCE(D(real), 1 - s) + BCE(D(fake), 0). A D that may not push its real logits to
infinity stays less sure of itself, and its gradient to G stays informative. Fakes keep
target 0 (smoothing them too would reward D for letting G's current fakes through), and G's
loss is unchanged.

With ``cfg.info_weight`` l > 0 (InfoGAN, Chen et al. 2016, "InfoGAN: Interpretable
Representation Learning by Information Maximizing Generative Adversarial Nets"), z's first K
entries are the one-hot code c of its mixture component (npgan/latent.py), and D has K more
outputs: Q's logits for c, computed from D's last features (``d_outputs`` in
npgan/models/config.py). D's verdict stays its first column. Both steps add l * L_I, where
L_I = CE(Q(G(z)), c) is the cross-entropy of Q's guess of the code that drew each fake:

    D step:  L_D + l * L_I        Q (and the body it shares with D) learns to read c off G(z)
    G step:  L_G + l * L_I        G learns to draw fakes whose c can be read

So G is rewarded for making the K codes draw K kinds of image that can be told apart (on
MNIST, mostly the digits, found without labels); H(c) - L_I is the paper's lower bound on
the mutual information I(c; G(z)). Real images have no code (npgan.losses.info_term).

With ``lr_decay`` f > 0, both learning rates fall linearly to 0 over the last f of the run's
``total_steps`` T (``decayed_lr``; npgan.run.Run sets T from the run's epochs):

    lr_t = lr * min(1, (T - t) / (f T))            step t = 0 .. T - 1

Late in training the steps shrink, so G settles instead of circling around where its samples
are good. With f = 0.5 this is CycleGAN's schedule (Zhu et al. 2017: the first half of the
epochs at the full rate, then linearly to zero); its measured effect: README "Results".
"""

import numpy as np

from npgan.backend import get_array_module, load_backend, to_device
from npgan.latent import draw_latent
from npgan.losses import bce_with_logits, info_term, mode_seeking as mode_seeking_loss
from npgan.models import GANConfig, build_networks
from npgan.ema import FlatAverage, average_weights, decay as ema_decay
from npgan.nn import BatchNorm1d, BatchNorm2d, Dropout, input_grad_only
from npgan.optim import make_optimizer
from npgan.train_state import TrainerState

HISTORY_KEYS = ("d_loss", "g_loss", "d_real", "d_fake")


def forward(net, x, labels):
    """net(x), or net(x, labels) for a conditional network (labels not None)."""
    return net(x) if labels is None else net(x, labels)


def decayed_lr(lr, step, total_steps, fraction):
    """The learning rate of step ``step`` (0-based) of a run of ``total_steps``: ``lr`` until the
    last ``fraction`` of the steps, then falling linearly towards 0 (module docstring):

        lr_t = lr * min(1, (T - t) / (f T))

    The last step takes lr / (f T); steps past T take 0. ``fraction`` 0: ``lr`` throughout."""
    if not fraction:
        return lr
    if not total_steps >= 1:
        raise ValueError(f"decayed_lr: total_steps must be a positive number of steps, got "
                         f"{total_steps}")
    return lr * min(1.0, max(0.0, (total_steps - step) / (fraction * total_steps)))


def mean_sigmoid(logits):
    """Mean of sigmoid(logits) as a float: the average probability D assigns to 'real'."""
    return float((0.5 * (1 + get_array_module(logits).tanh(0.5 * logits))).mean())


class GANTrainer(TrainerState):
    """Holds G, D, their optimizers and the noise generator, and trains them one step at a time.

    Everything random comes from ``seed``: the initial weights and the noise stream
    (a ``np.random.Generator`` whose state is saved in checkpoints).

    ``backend`` ("numpy", "cupy" or a module; see ``npgan.backend``) is where the weights,
    gradients, optimizer state and noise live. Training data may be passed from the host; it
    is copied to the device one batch at a time.

    ``fast`` (default True) selects ``fast_step`` and the optimizers' fast path; with False,
    the trainer runs the plain textbook step and the optimizers' plain rules.

    ``ema``: keep G_ema, the average of G's weights that sampling uses (``update_ema``; 0: off).
    ``mode_seeking``: the weight w of MSGAN's term in G's loss (module docstring; 0: off).
    ``label_smoothing``: s, D's target for real images is 1 - s (module docstring; 0: off).
    ``lr_decay``: f, the learning rates fall linearly to 0 over the last f of the run's steps
    (module docstring; 0: off); it needs ``total_steps``, the run's length, set before the
    first step (npgan.run.Run sets it from its epochs). It then sets both optimizers' ``lr``
    before every step, from ``settings["lr"]``.
    The d_loss and g_loss that ``train_step`` reports are the adversarial parts alone.
    """

    def __init__(self, cfg=GANConfig(), *, lr=2e-4, betas=(0.5, 0.999), optimizer="adam",
                 seed=0, dtype=np.float32, backend="numpy", fast=True, ema=0.0, mode_seeking=0.0,
                 label_smoothing=0.0, lr_decay=0.0):
        self.xp = load_backend(backend)        # first: a missing GPU is reported before any work
        self.cfg, self.dtype, self.fast = cfg, dtype, fast
        if not 0 <= ema < 1:
            raise ValueError(f"ema must be in [0, 1) (0: off), got {ema}")
        if not mode_seeking >= 0:
            raise ValueError(f"mode_seeking must be >= 0 (0: off), got {mode_seeking}")
        if not 0 <= label_smoothing < 1:
            raise ValueError(f"label_smoothing must be in [0, 1) (0: off), got {label_smoothing}")
        if not 0 <= lr_decay <= 1:
            raise ValueError(f"lr_decay must be in [0, 1] (0: off), got {lr_decay}")
        self.settings = {"lr": lr, "betas": list(betas), "optimizer": optimizer, "seed": seed,
                         "ema": ema, "mode_seeking": mode_seeking,
                         "label_smoothing": label_smoothing, "lr_decay": lr_decay}
        self.total_steps = None                         # the run's length, for lr_decay
        self.mode_seeking = mode_seeking
        self.info = cfg.info_weight                     # InfoGAN's l (module docstring; 0: off)
        self.real_target = 1.0 - label_smoothing        # D's target for real images
        init_rng = np.random.default_rng([seed, 0])
        # Built on the host from one seeded Generator, so every backend starts from the same
        # weights; then moved to the backend once, before the optimizers pack them.
        self.G, self.D = build_networks(cfg, rng=init_rng, dtype=dtype)
        self.G.to(self.xp)
        self.D.to(self.xp)
        self.ema = ema
        # G_ema: the running average of G's weights that sampling uses (update_ema).
        self.G_ema = build_networks(cfg, rng=np.random.default_rng([seed, 0]), dtype=dtype)[0] \
            .to(self.xp).eval() if ema else None
        self.conditional = cfg.conditional
        self.opt_g = make_optimizer(optimizer, self.G.parameters(), lr, betas, fast=fast)
        self.opt_d = make_optimizer(optimizer, self.D.parameters(), lr, betas, fast=fast)
        # update_ema's fast path: G_ema beside the optimizer's flat buffer of G's weights
        self.ema_flat = (FlatAverage(self.G_ema, self.G, self.opt_g.data, self.opt_g.chunks)
                         if ema and fast and self.xp is np else None)
        self.step = 0
        # Noise is drawn where the models live. NumPy's Generator state is saved in checkpoints,
        # so a resumed run continues the exact stream; a GPU generator's state cannot be saved,
        # so there a resumed run draws a fresh stream seeded by (seed, step): see from_state.
        self.noise_rng = (np.random.default_rng([seed, 1]) if self.xp is np
                          else self.fresh_noise_rng())
        # Dropout masks (a DCGAN's D has dropout) come from one host Generator of the
        # trainer's, on every backend, so that its state can be saved and a resumed run
        # draws the masks an uninterrupted one would (Dropout copies each mask to the device).
        self.dropout_rng = np.random.default_rng([seed, 3])
        for m in list(self.G.modules()) + list(self.D.modules()):
            if isinstance(m, Dropout):
                m.rng = self.dropout_rng
        # For the fast step: without BatchNorm in D, D's output for an example does not
        # depend on the rest of the batch, so real and fake can go through D as one batch.
        # (Not with Dropout either: one pass would draw its masks in another order than the
        # plain step's two, and the fast step must compute the plain step's numbers.)
        self.joint_d_batch = not any(isinstance(m, (BatchNorm1d, BatchNorm2d, Dropout))
                                     for m in self.D.modules())
        # For the fast D step: the layer whose dL/d(images) is skipped (see d_backward); None
        # for a conditional D, whose label embedding needs that gradient.
        first = None if self.conditional else self.D.first_trained_layer()
        self.d_first_layer = first if hasattr(first, "without_input_grad") else None

    def fresh_noise_rng(self):
        """A noise generator on the backend, seeded by (seed, step): the same one for every
        run that reaches this step, but not the stream an uninterrupted run would draw."""
        return self.xp.random.default_rng([self.settings["seed"], 1, self.step])

    def noise(self, n):
        """z: (n, latent_dim), N(0, I) or the config's mixture (npgan/latent.py), from the
        trainer's own generator."""
        return draw_latent(self.cfg, self.noise_rng, n, self.dtype)

    def random_labels(self, n):
        """n labels drawn uniformly from the classes, by the trainer's own generator. With
        ``mode_seeking``, rows i and i + n//2 get the same label (the pairs of L_ms)."""
        if not self.mode_seeking:
            return self.noise_rng.integers(0, self.cfg.num_classes, n)
        half = self.noise_rng.integers(0, self.cfg.num_classes, n - n // 2)   # an odd n: one spare
        return self.xp.concatenate([half[:n // 2], half])

    def train_step(self, real, labels=None):
        """One D step and one G step on a batch of real images (B, image_dim) in G's range,
        [-1, 1] for a Tanh G, [0, 1] for a Sigmoid one (``cfg.pixel_low``), with their labels
        (B,) for a conditional GAN.

        The batch may be on the host or already on the trainer's backend; a host batch is
        copied to the device here, in one piece. Returns ``{"d_loss", "g_loss", "d_real",
        "d_fake"}`` as floats, where d_real and d_fake are the mean probabilities D(x) and
        D(G(z)) seen in the D step; with InfoGAN's code head also "info_loss", L_I of the G
        step. Runs ``fast_step`` when the trainer is ``fast`` (the
        default), else ``plain_step``; the two compute the same numbers.
        """
        self.check_batch(real, labels)          # before any noise is drawn
        real = to_device(real, self.xp)
        labels = None if labels is None else to_device(labels, self.xp)
        if self.settings["lr_decay"]:
            self.set_lr()
        z = self.noise(real.shape[0])
        fake_labels = self.random_labels(real.shape[0]) if self.conditional else None
        step = self.fast_step if self.fast else self.plain_step
        loss_d, loss_g, logits_real, logits_fake, info = step(real, labels, z, fake_labels)
        self.step += 1
        if self.ema:
            self.update_ema()
        stats = {"d_loss": loss_d, "g_loss": loss_g,
                 "d_real": mean_sigmoid(logits_real), "d_fake": mean_sigmoid(logits_fake)}
        return stats if not self.info else {**stats, "info_loss": info}

    def check_batch(self, real, labels):
        """Refuse a batch the step cannot train on, naming what is wrong, before it draws noise
        or touches a weight: (B, image_dim) images of the trainer's dtype (a uint8 batch of
        0..255 would otherwise be cast and trained on by the fast step's concatenate), finite
        where they are on the host (a device batch is not copied back to be checked; a NaN
        there shows as NaN losses), and for a conditional GAN B integer labels."""
        if self.conditional != (labels is not None):
            raise ValueError("a conditional GAN's train_step needs the batch's labels"
                             if self.conditional else "a plain GAN's train_step takes no labels")
        shape, dtype = getattr(real, "shape", None), getattr(real, "dtype", None)
        if shape is None or len(shape) != 2 or shape[1] != self.cfg.image_dim or shape[0] < 1:
            raise ValueError(f"train_step: real must be a batch of flat images "
                             f"(B, {self.cfg.image_dim}), got shape {shape}")
        if dtype != np.dtype(self.dtype):
            raise ValueError(f"train_step: real must be {np.dtype(self.dtype).name}, the "
                             f"trainer's dtype, with pixels in [{self.cfg.pixel_low:g}, 1]; got "
                             f"{dtype} (npgan.data.scale_images turns uint8 images into that)")
        if isinstance(real, np.ndarray) and not np.isfinite(real).all():
            raise ValueError("train_step: real holds NaN or infinite values")
        if labels is not None:
            lshape, ldtype = getattr(labels, "shape", None), getattr(labels, "dtype", None)
            if lshape != (shape[0],) or ldtype is None or ldtype.kind not in "iu":
                raise ValueError(f"train_step: labels must be {shape[0]} integers, one per "
                                 f"image, got shape {lshape} of {ldtype}")

    def set_lr(self):
        """Both optimizers take ``decayed_lr`` for the coming step of the run's ``total_steps``."""
        if self.total_steps is None:
            raise ValueError("lr_decay needs the run's length: set trainer.total_steps (the "
                             "number of steps the run will take) before training")
        self.opt_g.lr = self.opt_d.lr = decayed_lr(self.settings["lr"], self.step, self.total_steps,
                                                   self.settings["lr_decay"])

    def plain_step(self, real, labels, z, fake_labels):
        """The textbook step, as the module docstring writes it. Returns the D and G losses,
        D's verdicts (logits) on real and fake in the D step, and the G step's L_I (or 0)."""
        G, D = self.G, self.D
        fake = forward(G, z, fake_labels)                       # (B, image_dim)
        codes = self.codes(z)                                   # (B,) InfoGAN's c, or None

        # D step: L_D = BCE(D(real), 1 - s) + BCE(D(fake), 0), s the label smoothing (0: off);
        # the two backwards add up in .grad. D's verdict is its first output column.
        self.opt_d.zero_grad()
        logits_real = forward(D, real, labels)                  # (B, 1); (B, 1 + K) with Q
        loss_real, dverdict = bce_with_logits(logits_real[:, :1], self.real_target)
        D.backward(self.with_info(logits_real, dverdict)[1])    # Q: nothing from real images
        logits_fake = forward(D, fake, fake_labels)
        loss_fake, dverdict = bce_with_logits(logits_fake[:, :1], 0.0)
        D.backward(self.with_info(logits_fake, dverdict, codes)[1])     # + l * L_I
        self.opt_d.step()

        # G step: L_G = BCE(D(G(z)), 1), through the updated D, into G
        self.opt_g.zero_grad()
        logits = forward(D, fake, fake_labels)
        loss_g, dverdict = bce_with_logits(logits[:, :1], 1.0)  # non-saturating: fool D
        info, dlogits = self.with_info(logits, dverdict, codes)         # + l * L_I
        dfake = D.backward(dlogits)     # also adds into D's grads; D's next zero_grad clears them
        if self.mode_seeking:                                   # + w * L_ms(fake, z)
            dfake = dfake + self.mode_seeking * mode_seeking_loss(fake, z)[1]
        G.backward(dfake)
        self.opt_g.step()
        return loss_real + loss_fake, loss_g, logits_real[:, :1], logits_fake[:, :1], info

    def codes(self, z):
        """InfoGAN's c: (B,), the component that drew each row of z; None without Q."""
        return self.xp.argmax(z[:, :self.cfg.latent_components], axis=1) if self.info else None

    def with_info(self, out, dverdict, codes=None):
        """(L_I, dL/dout) for D's output ``out``: InfoGAN's term beside the BCE's gradient
        ``dverdict`` (npgan.losses.info_term; ``codes`` for a fake batch). Without the code
        head D's output is the verdict alone: (0, dverdict)."""
        return info_term(out, dverdict, codes, self.info) if self.info else (0.0, dverdict)

    def fast_step(self, real, labels, z, fake_labels):
        """Fast path: ``plain_step``'s numbers with three kinds of work skipped. Each was
        measured on the default GAN (benchmarks/README.md), and tests/test_fast_paths.py
        checks that this step equals the plain one for a GAN and a cGAN:

        - real and fake go through D as one batch of 2B when D has no BatchNorm or Dropout:
          half the layer calls, larger matrix products;
        - in the D step, dL/d(images) at D's first layer is never used, so it is not computed
          (``without_input_grad``; not for a conditional D, whose label embedding needs it);
        - in the G step, D's weight gradients would be thrown away, so they are not computed
          (``input_grad_only``): half of D's backward matrix products in that step.

        (The optimizers' own fast path, packed, chunked, in place, with lazy zeroing, is set
        by ``fast`` too; see npgan.optim.)
        """
        xp, G, D, b = self.xp, self.G, self.D, real.shape[0]
        fake = forward(G, z, fake_labels)                       # (B, image_dim)
        codes = self.codes(z)

        self.opt_d.zero_grad()
        if self.joint_d_batch:                                  # one pass over [real; fake]
            both = None if labels is None else xp.concatenate([labels, fake_labels])
            logits = forward(D, xp.concatenate([real, fake]), both)     # (2B, 1 or 1 + K)
            logits_real, logits_fake = logits[:b], logits[b:]
            loss_real, dverdict_real = bce_with_logits(logits_real[:, :1], self.real_target)
            loss_fake, dverdict_fake = bce_with_logits(logits_fake[:, :1], 0.0)
            self.d_backward(xp.concatenate([self.with_info(logits_real, dverdict_real)[1],
                                            self.with_info(logits_fake, dverdict_fake, codes)[1]]))
        else:                                                   # (the two summed, above)
            logits_real = forward(D, real, labels)
            loss_real, dverdict = bce_with_logits(logits_real[:, :1], self.real_target)
            self.d_backward(self.with_info(logits_real, dverdict)[1])
            logits_fake = forward(D, fake, fake_labels)
            loss_fake, dverdict = bce_with_logits(logits_fake[:, :1], 0.0)
            self.d_backward(self.with_info(logits_fake, dverdict, codes)[1])
        self.opt_d.step()

        self.opt_g.zero_grad()
        logits = forward(D, fake, fake_labels)                  # the updated D
        loss_g, dverdict = bce_with_logits(logits[:, :1], 1.0)
        info, dlogits = self.with_info(logits, dverdict, codes)
        with input_grad_only(D):                                # D's weight grads: not computed
            dfake = D.backward(dlogits)
        if self.mode_seeking:
            dfake = dfake + self.mode_seeking * mode_seeking_loss(fake, z)[1]
        G.backward(dfake)
        self.opt_g.step()
        return loss_real + loss_fake, loss_g, logits_real[:, :1], logits_fake[:, :1], info

    def d_backward(self, dlogits):
        """D's backward in the fast D step, where D's input is data: dL/d(images) is never
        used, so D's first layer with parameters skips that matrix product (for a DCGAN's D,
        the Conv2d after its Unflatten, whose col2im goes too), and D's backward stops there.
        (A conditional D still computes it: part of it is the gradient of its label
        embedding.)"""
        if self.d_first_layer is None:
            return self.D.backward(dlogits)
        with self.d_first_layer.without_input_grad():
            return self.D.backward(dlogits)

    def update_ema(self):
        """G_ema <- b * G_ema + (1 - b) * G, for every weight and BatchNorm statistic of G,
        with b = ``ema`` once the run is long enough (npgan/ema.py says why, and why b is
        smaller early on)."""
        b = ema_decay(self.ema, self.step)
        if not self.fast or self.ema_flat is None:
            average_weights(self.G_ema, self.G, b)
        else:
            self.ema_flat.update(b)         # fast beside: the same bits (npgan/ema.py)

    def sample(self, z, labels=None, batch_size=250):
        """Images G(z) (or G(z, labels)) in eval mode, using BatchNorm's running statistics;
        from the averaged generator G_ema when the trainer keeps one (``ema``).

        z: (n, latent_dim); labels: (n,) ints, required for a conditional GAN and refused for a
        plain one; host arrays are copied to the trainer's backend. Returns (n, image_dim) in
        [-1, 1], on the backend (``npgan.backend.to_host`` brings them back): a Sigmoid G's
        pixels p in [0, 1] (``cfg.output == "sigmoid"``) come back as 2p - 1, so that grids,
        metrics and ``npgan.sample`` read every G's images in one range. G runs on
        ``batch_size`` rows at a time, so its activations stay small for any n (eval mode makes
        each row independent of the others; with OpenBLAS's SkylakeX kernels 250 and 1000 rows
        give the same bits, with its Haswell ones they agree to rounding, tests/test_train.py).
        250 rows keep a DCGAN's im2col matrices small: scoring 10,000 samples of the
        ``upsample="nearest"`` DCGAN peaked at 2.75 GB with 1000, 810 MB now. Training mode
        is restored afterwards.
        """
        if self.conditional != (labels is not None):
            raise ValueError("labels are required for a conditional GAN" if self.conditional
                             else "a plain GAN takes no labels")
        z = to_device(z, self.xp).astype(self.dtype, copy=False)
        labels = None if labels is None else to_device(labels, self.xp)
        G = self.G_ema if self.ema else self.G
        G.eval()
        try:
            images = [forward(G, z[a:a + batch_size],
                              None if labels is None else labels[a:a + batch_size])
                      for a in range(0, max(len(z), 1), batch_size)]
            images = images[0] if len(images) == 1 else self.xp.concatenate(images)
            return images if self.cfg.pixel_low == -1 else 2 * images - 1
        finally:
            for m in G.modules():                               # sampling is not followed by backward
                m.cache = None
            if G is self.G:
                G.train()
