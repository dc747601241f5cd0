"""Training health: rules that say when a run's numbers look wrong, and what usually helps.

A GAN's losses do not say whether training is going well, but a few patterns say it is not.
``npgan.run.Run`` feeds a ``HealthMonitor`` every step's numbers and, after each epoch, the
figures a ``HealthProbe`` measures on 1,000 samples; a rule that fires is printed, shown in
the progress bar and written to the run's log.txt.

Every step (from train_step's numbers):
  D wins        mean D(G(z)) below D_WINS_BELOW = 0.05 for D_WINS_STEPS = 300 steps in a row.
                Warned once; re-armed by a step at or above 0.05 (a note says it recovered).
After every epoch (from N_SAMPLES = 1,000 samples of G, the same noise every epoch):
  low diversity the mean pairwise pixel distance of the samples over the same for 1,000 real
                training images (``diversity``: 1 = as varied as the data, 0 = one image)
                below LOW_DIVERSITY = 0.4.
  few classes   for "mnist" and "fashion_mnist", exp(entropy) of the class shares the shipped
                classifier gives the samples (``effective_classes``: 10 = every class equally
                often, 1 = one class) below FEW_CLASSES = 5.
                Each is warned when it first falls below, again only after it has recovered,
                and neither is judged before step JUDGE_AFTER = 600.
Losses that are not finite stop the run (``npgan.run.TrainingDiverged``); DIVERGED_ADVICE
is the advice its message ends with.

The thresholds come from these measurements (MNIST unless named, batch 64, Adam 2e-4 unless
named, seed 0 unless named, 1,000 samples a check; the figures at steps 600 and 937 = the end
of epoch 1; measured before the demos' weight average and label smoothing). The demo's run
is ``python -m npgan.demos.mnist`` (its epochs 1 to 5: diversity
0.85, 0.84, 0.89, 0.91, 0.95; effective classes 8.2, 9.2, 9.3, 9.5, 9.3; no warning). The
others ran through the Python API with two BLAS threads instead of the demo's one: the
round-off differs, and GAN training being chaotic, so does the run (second row).

    run                                min D(G(z))   diversity      effective classes
    the MNIST demo, 15 epochs          0.109         - / 0.85       - / 8.2  (0.98, 9.9 at the end)
    the same, 2 BLAS threads, 5 epochs 0.179         - / 0.81       - / 7.5
    default MLP, seed 1, 3 epochs      0.150         0.73 / 0.81    9.2 / 8.0
    conditional MLP, 2 epochs          0.162         0.72 / 0.83    8.2 / 8.8
    Fashion-MNIST MLP, 3 epochs        0.304         0.85 / 0.88    9.4 / 8.9
    DCGAN (EMA 0.999), 1 epoch         0.0008        0.72 / 0.86    8.4 / 8.5
    D's lr x10 (2e-3), 1,200 steps     0.025         0.68 / 0.76    9.0 / 9.5
    G's lr x10 (2e-3), 2 epochs        0.319         0.82 / 0.78    7.1 / 6.8
    both lr 2e-3, 2 epochs             0.018         0.77 / 0.84    6.4 / 8.6
    both lr 5e-3, 2 epochs             0.0000        0.92 / 0.93    5.9 / 8.2
    latent_dim 1, lr 2e-3, 2 epochs    0.024         0.78 / 0.75    2.9 / 6.9  (5.6 at the end)
    G's lr x100 (2e-2), 2 epochs       0.0000        0.86 / 0.05    1.2 / 1.0  (collapsed)
    G frozen (lr 0), 600 steps         0.0000        below 0.05 from step 29 on
    one image, 1,000 times                           0.00 (0.12 with noise of sd 0.1)   1.0
    real test images of one digit                    0.62 (ones) to 0.97 (zeros)    1.05-1.17
    3 / 10 distinct real images                      0.65 / 0.89    3.0 / 6.6
    1,000 real test images                           0.98           9.9

D wins: in the MLP runs above that were not broken on purpose (all down to latent_dim 1),
D(G(z)) was never below 0.05 two steps in a row (the demo's run: never below 0.109 in 14,055
steps). The DCGAN's D leads at the start: below 0.05 for 209 steps in a row (steps 62 to 270)
with seed 0, for 34, 18 and 24 with seeds 1 to 3, then G catches up; 300 steps leave room for
that. A D facing a frozen G, or a G with 100 times D's lr, stays below 0.05 (streaks of 572
and 1,183 steps: to the end of those runs), and is warned 300 steps in.
Collapse: early on, G draws nearly one image (an untrained default G: diversity 0.02, 1
class) and the figures climb fast: effective classes 1.3 at step 200, 4.3 at 300, 6.4 at 400,
9.2 at 600 (seed 1); the DCGAN's averaged G scores 0.43 and 3.9 at step 300. Hence no
judgement before step 600, where the runs above that did not collapse score at least 0.68 and
5.9 (the latent_dim 1 run aside), against 0.05 and 1.0 for the collapsed one after its first
epoch. The rule is modest: the latent_dim 1 run, which ends with 7 of 10 classes (5.6
effective), is not warned at its epoch ends (6.9, 5.6); health.png shows it.
No rule watches G's loss: -mean log D(G(z)) stayed at 0.85 to 1.0 (epoch means) in all 15
epochs of the demo's run, and a G loss that climbs is D winning seen through a log
(-log 0.05 = 3.0), which the D(G(z)) rule reports.

The figures detect collapse, not quality: uniform noise scores diversity 1.13 and 8.4
effective classes. Pixel diversity misses a G that draws varied images of only some classes
(real images of one digit above), which is why the classifier's figure is there; for other
data sets pixel diversity is all there is, and it only sees a G stuck on a few images.

Cost: a check takes 0.05 s for the default MLP on 2 CPU cores (0.03 s of it the 1,000 x 1,000
distances; the first check also picks and measures the real images and loads the classifier,
0.06 s), against about 12 s an epoch: 0.4%. For the DCGAN, 0.2 to 0.7 s (measured while other
jobs shared the cores) against about a minute an epoch.
"""

import time
from typing import NamedTuple

import numpy as np

from npgan.backend import to_host
from npgan.checkpoint import CheckpointError
from npgan.classifier import DATASETS, load_classifier
from npgan.latent import draw_latent
from npgan.metrics import COVERED, class_shares
from npgan.parzen import squared_distances

D_WINS_BELOW = 0.05
D_WINS_STEPS = 300
LOW_DIVERSITY = 0.4
FEW_CLASSES = 5.0
JUDGE_AFTER = 600
N_SAMPLES = 1000
FIGURES = ("diversity", "classes_covered", "effective_classes")
HEALTH_KEYS = ("health_step",) + FIGURES        # per-check lists in Run.history

MAX_SUGGESTED_SMOOTHING = 0.3     # the advice suggests no more (Salimans et al. used 0.1)


def d_wins_advice(label_smoothing=0.0):
    """What usually helps when D wins; ``label_smoothing`` is the run's own (it names the next
    value to try, up to MAX_SUGGESTED_SMOOTHING; a run already there is not told to try more)."""
    if not label_smoothing:
        smoothing = "one-sided label smoothing (--label-smoothing 0.1: real targets 0.9)"
    elif label_smoothing < MAX_SUGGESTED_SMOOTHING - 1e-9:
        more = min(label_smoothing + 0.1, MAX_SUGGESTED_SMOOTHING)
        smoothing = (f"more one-sided label smoothing (this run's real targets are "
                     f"{1 - label_smoothing:g}; try --label-smoothing {more:g})")
    else:
        smoothing = (f"one-sided label smoothing, which this run already has at "
                     f"{label_smoothing:g} (real targets {1 - label_smoothing:g}; more is rarely "
                     "used, so try the rest first)")
    return (
        "D tells almost every fake from real, and G, which learns only through D, gets little "
        "guidance. It can pass on its own; if it lasts, what usually helps: a lower learning "
        "rate for D (trainer.opt_d.lr in Python, where no lr_decay sets it each step) or for both (--lr); making D less sure of "
        f"itself, with {smoothing} or dropout in D (\"d_dropout\" in a --config file); and "
        "checking that real and generated images are scaled the same way (a Tanh G makes "
        "[-1, 1], a Sigmoid G [0, 1]; the demos scale the data to G's range).")
COLLAPSE_ADVICE = (
    "This is mode collapse: G maps most noise vectors to a few outputs. It sometimes recovers "
    "within an epoch or two; if not, what usually helps: starting again with another --seed "
    "or another learning rate (usually lower), and methods npgan does not implement, such as "
    "minibatch discrimination (Salimans et al. 2016) or another loss (WGAN-GP).")
DIVERGED_ADVICE = (
    "Losses stop being finite when weights blow up, most often because the learning rate is "
    "too high for the model: start again with a lower --lr (e.g. half; a resumed run keeps "
    "its own) or another --seed.")


class Finding(NamedTuple):
    """What a rule saw. kind: "warning" (a rule fired) or "recovered" (it no longer holds);
    flag: the rule's short name, shown in the progress bar; step: the training step; text:
    what was seen and, for a warning, what usually helps."""
    kind: str
    flag: str
    step: int
    text: str

    def __str__(self):
        return f"{self.kind} at step {self.step}: {self.text}"


class HealthMonitor:
    """The rules of the module docstring, fed one step or one epoch at a time.

    ``step(step, stats)`` and ``epoch(step, figures)`` return a list of Findings, almost
    always empty. ``active`` maps the flags of the warnings in force to their Findings.
    ``replay(history)`` rebuilds the state from a resumed run's history, silently, so a
    resumed run warns exactly when the uninterrupted one would have.
    """

    def __init__(self, *, d_wins_below=D_WINS_BELOW, d_wins_steps=D_WINS_STEPS,
                 low_diversity=LOW_DIVERSITY, few_classes=FEW_CLASSES, judge_after=JUDGE_AFTER,
                 reference=None, dataset=None, label_smoothing=0.0):
        self.d_wins_below, self.d_wins_steps = d_wins_below, int(d_wins_steps)
        self.label_smoothing = label_smoothing          # the run's, for the advice's text
        self.low_diversity, self.few_classes = low_diversity, few_classes
        self.judge_after = judge_after
        self.reference, self.dataset = reference, dataset   # the real images' figures (text only)
        self.streak = 0                 # steps in a row with mean D(G(z)) < d_wins_below
        self.active = {}

    def step(self, step, stats):
        """Feed one step's ``{"d_fake": mean D(G(z)), ...}``; returns Findings."""
        if stats["d_fake"] < self.d_wins_below:
            self.streak += 1
            if self.streak == self.d_wins_steps:
                return [self.fire("D wins", step, (
                    f"D is winning: mean D(G(z)) has been below {self.d_wins_below:g} for "
                    f"{self.streak} steps in a row (steps {step - self.streak + 1}-{step}; now "
                    f"{stats['d_fake']:.2g}). " + d_wins_advice(self.label_smoothing)))]
            return []
        streak, self.streak = self.streak, 0
        if streak >= self.d_wins_steps:
            return [self.recover("D wins", step, (
                f"mean D(G(z)) is back at {stats['d_fake']:.2g}, after {streak} steps below "
                f"{self.d_wins_below:g}."))]
        return []

    def epoch(self, step, figures, epoch=None, n=N_SAMPLES):
        """Feed one check's figures ({"diversity", "effective_classes", "classes_covered"},
        each None when not measured) of n samples; returns Findings. Checks before step
        ``judge_after`` are not judged: G starts out drawing nearly one image."""
        if step < self.judge_after:
            return []
        when = f"after epoch {epoch}" if epoch is not None else f"at step {step}"
        found = []
        d = figures.get("diversity")
        if d is not None:
            found += self.judge("low diversity", step, d < self.low_diversity, (
                f"G's samples look alike: their pixel diversity {when} is {d:.2f} (the mean "
                f"distance between {n:,} samples over that between {n:,} "
                f"training images; 1 = as varied as the data; warned below "
                f"{self.low_diversity:g}). " + COLLAPSE_ADVICE),
                f"pixel diversity is back at {d:.2f} {when}.")
        k = figures.get("effective_classes")
        if k is not None:
            real = (self.reference or {}).get("effective_classes")
            real = f"; real images: {real:.1f}" if real is not None else ""
            c = figures.get("classes_covered")
            covered = f"{c} class holds" if c == 1 else f"{c} classes hold"
            found += self.judge("few classes", step, k < self.few_classes, (
                f"G draws few kinds of image: {when} the shipped "
                f"{self.dataset + ' ' if self.dataset else ''}classifier puts {n:,} samples "
                f"into {k:.1f} effective classes (exp of the entropy of the class "
                f"shares{real}; warned below {self.few_classes:g}); "
                f"{covered} at least {COVERED:.0%} of them. " + COLLAPSE_ADVICE),
                f"the samples are back at {k:.1f} effective classes {when}.")
        return found

    def replay(self, history):
        """Feed a run's history (d_fake per step, the figures per check) and drop the Findings:
        the state a run resumed from that history starts with."""
        for i, d_fake in enumerate(history.get("d_fake", ())):
            self.step(i + 1, {"d_fake": d_fake})
        for i, step in enumerate(history.get("health_step", ())):
            self.epoch(step, {k: history[k][i] for k in FIGURES if k in history})

    def judge(self, flag, step, bad, warning, recovered):
        if bad and flag not in self.active:
            return [self.fire(flag, step, warning)]
        if not bad and flag in self.active:
            return [self.recover(flag, step, recovered)]
        return []

    def fire(self, flag, step, text):
        self.active[flag] = Finding("warning", flag, step, text)
        return self.active[flag]

    def recover(self, flag, step, text):
        del self.active[flag]
        return Finding("recovered", flag, step, text)


def mean_pairwise_distance(x):
    """Mean Euclidean distance |x_i - x_j| over all pairs i < j of the rows of x.

    x: (N, D) (or (N, ...), flattened), N >= 2. Returns a float >= 0. One (N, N) matrix product:
        |x_i - x_j|^2 = |x_i|^2 + |x_j|^2 - 2 x_i . x_j
    The rows are centred first (distances do not change) and the sums are in float64, so
    identical rows give exactly 0, not round-off.
    """
    x = np.asarray(x, dtype=np.float64).reshape(len(x), -1)
    if len(x) < 2:
        raise ValueError(f"a mean pairwise distance needs at least 2 rows, got {len(x)}")
    x = x - x.mean(axis=0)                                      # (N, D)
    d2 = squared_distances(x, x)                                # (N, N), npgan.parzen's
    upper = np.triu_indices(len(x), k=1)                        # the N (N - 1) / 2 pairs i < j
    return float(np.sqrt(d2[upper]).mean())


def effective_classes(shares):
    """exp(entropy) of (C,) class shares summing to 1: the number of equally common classes
    that would give the same entropy.

        exp(-sum_k s_k log s_k)      (0 log 0 = 0)

    C for uniform shares, 1 when every image is one class; 2.0 for shares (0.5, 0.5, 0, ...).
    """
    s = np.asarray(shares, dtype=np.float64)
    s = s[s > 0]
    return float(np.exp(-(s * np.log(s)).sum()))


def classifier_for(dataset, image_dim):
    """The shipped classifier for ``dataset`` when there is one and the images fit it (784
    pixels); else None (then only pixel diversity is measured)."""
    if dataset not in DATASETS or image_dim != 784:
        return None
    try:
        return load_classifier(dataset)
    except (FileNotFoundError, CheckpointError):
        return None


class HealthProbe:
    """Measures a generator's per-epoch health figures, on the same noise every time.

    trainer: a GANTrainer; its ``sample`` is used (eval mode, G_ema when the run keeps one).
    images:  (N, image_dim) the training images as the run holds them, in G's pixel range
             ([0, 1] for a Sigmoid G, ``cfg.pixel_low``): they are brought to [-1, 1], the
             range ``trainer.sample`` returns every G's images in and the classifier reads.
    dataset: "mnist" or "fashion_mnist" add the shipped classifier's figures; any other name
             (or None) gets pixel diversity only.
    n:       samples per check, and real images in the reference (at most N). The noise (and
             labels 0, 1, ..., 9, 0, ... for a conditional G) and the real images come from
             generators seeded by the trainer's seed, so the figures are comparable from epoch
             to epoch and between a run and its resumed copy.

    ``measure()`` returns the figures of G's samples; ``reference`` holds the real images'.
    """

    def __init__(self, trainer, images, dataset=None, *, n=N_SAMPLES):
        self.trainer = trainer
        self.n = min(int(n), len(images))
        rng = np.random.default_rng([trainer.settings["seed"], 4])
        real = np.asarray(images[np.sort(rng.choice(len(images), self.n, replace=False))])
        real = real.reshape(self.n, -1)                             # (n, image_dim)
        if trainer.cfg.pixel_low == 0:                              # a Sigmoid G's [0, 1]
            real = 2 * real - 1                                     # -> [-1, 1], as samples
        self.z = draw_latent(trainer.cfg, rng, self.n).astype(trainer.dtype)
        self.labels = (np.arange(self.n) % trainer.cfg.num_classes if trainer.conditional
                       else None)
        self.real_distance = mean_pairwise_distance(real) if self.n >= 2 else 0.0
        self.classifier = classifier_for(dataset, real.shape[1])
        self.reference = self.figures(real)

    def figures(self, x):
        """The figures of images x: (n, image_dim) on the host -> {"diversity",
        "classes_covered", "effective_classes"}, None where not measured (no classifier;
        real images all alike; values that are not finite)."""
        x = np.asarray(x).reshape(len(x), -1)
        out = dict.fromkeys(FIGURES)
        if len(x) < 2 or not np.all(np.isfinite(x)):
            return out
        if self.real_distance > 0:
            out["diversity"] = mean_pairwise_distance(x) / self.real_distance
        if self.classifier is not None:
            shares = class_shares(self.classifier.probabilities(x))
            out["classes_covered"] = int((shares >= COVERED).sum())
            out["effective_classes"] = effective_classes(shares)
        return out

    def measure(self):
        """The figures of n samples of the trainer's G, from this probe's fixed noise."""
        return self.figures(to_host(self.trainer.sample(self.z, self.labels)))


def log_line(path, text):
    """Append one line to the text file ``path``: local time, two spaces, ``text`` (its line
    breaks become spaces). Opened and closed each time, so the file is complete after every
    line, whatever happens to the process next."""
    line = " ".join(str(text).split("\n"))
    with open(path, "a", encoding="utf-8") as f:
        f.write(f"{time.strftime('%Y-%m-%d %H:%M:%S')}  {line}\n")
