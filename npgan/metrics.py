r"""What a GAN learned, measured with a classifier: scores for samples and for real images.

    from npgan.metrics import evaluate, format_metrics
    d = evaluate(trainer, "mnist", n=10000)        # a JSON-able dict
    print(format_metrics(d))

The classifier (npgan/classifier.py, an MLP trained on the real training set) turns each image
x into class probabilities p(y|x) and a feature vector (its last hidden layer). From those:

classifier score   exp( E_x KL(p(y|x) || p(y)) ), with p(y) = E_x p(y|x): the Inception score
                   (Salimans et al. 2016) with this classifier in place of Inception. High when
                   each image is clearly one class (p(y|x) peaked) and all classes appear (p(y)
                   flat); between 1 (every image gets the same p(y|x)) and 10 (confident and
                   uniform over the 10 classes).
Frechet distance   between Gaussians fitted to the features of two image sets (FID, Heusel et
                   al. 2017, with this classifier's features):
                       d^2 = |mu1 - mu2|^2 + Tr(C1 + C2 - 2 (C1 C2)^(1/2))
                   0 for identical statistics; lower is better.
class shares       the fraction of images whose most probable class is k, for k = 0..9: mode
                   coverage. A generator that dropped a digit shows a share near 0 for it.
label accuracy     for a conditional GAN: the fraction of samples asked for label k that the
                   classifier assigns to k.
unsure share       the fraction of images whose most probable class has p(y|x) < 0.99: how
                   often the classifier hesitates. Real digits are not all clear; a generator
                   far below the real share draws digits more typical than the data's (the
                   Frechet distance rises, the classifier score goes above the real one), one
                   far above draws more ambiguous ones (the score falls).
code purity        for an InfoGAN generator (``info_weight`` > 0): for each code, the fraction
                   of its samples in their commonest class; the mean over the codes, and how
                   many different classes those commonest are. 1 and 10 when each of 10 codes
                   draws its own digit; about 0.1 when G ignores the codes and draws every
                   digit; near 1 but 1 class when G collapsed to one digit.

Every figure is reported for the generated samples and for real test images, so the reader
sees what a perfect generator would score. Samples are compared with the 10,000 test images;
the Frechet distance of the real row compares n *training* images with the same test images
(a perfect generator draws new images from the data distribution, like those; it is not 0,
because two finite samples never have identical statistics).
"""

import json

import numpy as np

from npgan.backend import to_host
from npgan.checkpoint import atomic_write
from npgan.classifier import load_classifier
from npgan.data import load_fashion_mnist, load_mnist, scale_images
from npgan.latent import draw_latent
from npgan.parzen import parzen_estimate

LOADERS = {"mnist": load_mnist, "fashion_mnist": load_fashion_mnist}
COVERED = 0.01                    # a class is "covered" with at least 1% of the samples
UNSURE = 0.99                     # an image is "unsure" when its top class has p(y|x) below this


def classifier_score(probs):
    """exp(E_x KL(p(y|x) || p(y))) of (N, C) class probabilities; a float in [1, C].

        KL(p(y|x) || p(y)) = sum_y p(y|x) (log p(y|x) - log p(y)),   p(y) = mean_x p(y|x)

    One score over all N rows (no splits). Zero probabilities contribute 0 (0 log 0 = 0).
    """
    p = np.asarray(probs, dtype=np.float64)
    marginal = p.mean(axis=0)                                    # p(y), (C,)
    log_p = np.log(np.maximum(p, 1e-300))                        # 0 * log(tiny) = 0
    log_marginal = np.log(np.maximum(marginal, 1e-300))
    kl = (p * (log_p - log_marginal)).sum(axis=1)                # (N,)
    return float(np.exp(kl.mean()))


def gaussian_stats(features):
    """Mean (D,) and covariance (D, D) of (N, D) features, in float64 (N - 1 in the divisor)."""
    f = np.asarray(features, dtype=np.float64)
    return f.mean(axis=0), np.cov(f, rowvar=False)


def sqrtm_psd(c):
    """Square root of a symmetric positive semi-definite matrix: V sqrt(L) V.T, from c = V L V.T.

    Round-off can make tiny eigenvalues negative; they are clipped to 0.
    """
    vals, vecs = np.linalg.eigh(c)
    return (vecs * np.sqrt(np.clip(vals, 0, None))) @ vecs.T


def frechet_distance(feat_a, feat_b):
    """Frechet distance between Gaussians fitted to features (N_a, D) and (N_b, D).

        d^2 = |mu_a - mu_b|^2 + Tr(C_a) + Tr(C_b) - 2 Tr((C_a C_b)^(1/2))

    The last trace needs a matrix square root, here with NumPy alone (no scipy). C_a C_b is not
    symmetric, but with S = C_a^(1/2) (symmetric, from one eigendecomposition, ``sqrtm_psd``)
    the matrices C_a C_b = S (S C_b) and M = (S C_b) S have the same eigenvalues (AB and BA
    always do), and M = S C_b S is symmetric positive semi-definite. So
        Tr((C_a C_b)^(1/2)) = sum_i sqrt(lambda_i(M)),   lambda_i from np.linalg.eigvalsh(M)
    with tiny negative eigenvalues from round-off clipped to 0. Returns d^2 as a float (the
    number FID papers report), >= 0 up to round-off.
    """
    shapes = [np.shape(feat_a), np.shape(feat_b)]
    if any(len(s) != 2 or s[0] < 2 for s in shapes) or shapes[0][1] != shapes[1][1]:
        raise ValueError(f"frechet_distance: needs two sets of features (N_a, D) and (N_b, D), "
                         f"each of at least 2 rows (a covariance), got {shapes[0]} and "
                         f"{shapes[1]}")
    mu_a, c_a = gaussian_stats(feat_a)
    mu_b, c_b = gaussian_stats(feat_b)
    return frechet_from_stats(mu_a, c_a, mu_b, c_b)


def frechet_from_stats(mu_a, c_a, mu_b, c_b, *, sqrt_c_a=None):
    """``frechet_distance`` from precomputed means (D,) and covariances (D, D).

    ``sqrt_c_a``: C_a^(1/2) if already known (one reference compared with several sets).
    """
    s = sqrtm_psd(c_a) if sqrt_c_a is None else sqrt_c_a
    m = s @ c_b @ s
    m = (m + m.T) / 2                                            # exactly symmetric for eigvalsh
    tr_sqrt = np.sqrt(np.clip(np.linalg.eigvalsh(m), 0, None)).sum()
    d2 = ((mu_a - mu_b) ** 2).sum() + np.trace(c_a) + np.trace(c_b) - 2 * tr_sqrt
    return float(max(d2, 0.0))


def class_shares(probs):
    """(N, C) probabilities -> (C,) fraction of rows whose most probable class is k."""
    probs = np.asarray(probs)
    return np.bincount(probs.argmax(axis=1), minlength=probs.shape[1]) / len(probs)


def unsure_share(probs, below=UNSURE):
    """Fraction of rows of (N, C) probabilities whose largest probability is below ``below``."""
    return float((np.asarray(probs).max(axis=1) < below).mean())


def label_accuracy(probs, labels):
    """Fraction of rows of (N, C) probabilities whose most probable class is labels (N,)."""
    return float((np.asarray(probs).argmax(axis=1) == np.asarray(labels)).mean())


def code_purity(probs, codes, k):
    """For each of the ``k`` codes, the fraction of its rows of (N, C) probabilities whose
    most probable class is that code's commonest: {"mean": over the codes that drew any rows,
    "per_code": k floats, None for a code that drew none, "classes": how many different
    classes are the codes' commonest}. A collapsed G that draws one digit for every code
    has purity near 1 and "classes" 1: read the two together."""
    top, codes = np.asarray(probs).argmax(axis=1), np.asarray(codes)
    per_code, commonest = [], set()
    for c in range(k):
        mine = top[codes == c]
        if len(mine):
            counts = np.bincount(mine)
            per_code.append(float(counts.max() / len(mine)))
            commonest.add(int(counts.argmax()))
        else:
            per_code.append(None)
    drawn = [p for p in per_code if p is not None]
    return {"mean": float(np.mean(drawn)), "per_code": per_code, "classes": len(commonest)}


def class_kl(shares, reference):
    """KL(shares || reference) of two (C,) class distributions; 0 when they agree.

    A class missing from ``shares`` costs nothing here; one over-produced costs a lot. (It is
    the reverse KL that PacGAN reports for stacked MNIST, against the real class shares.)
    """
    p, q = np.asarray(shares, dtype=np.float64), np.asarray(reference, dtype=np.float64)
    keep = p > 0
    return float((p[keep] * np.log(p[keep] / np.maximum(q[keep], 1e-300))).sum())


def figures(probs, frechet, ref_shares, labels=None):
    """The figures of one image set, (N, C) probabilities and its Frechet distance -> dict."""
    shares = class_shares(probs)
    d = {"classifier_score": classifier_score(probs),
         "frechet_distance": frechet,
         "class_shares": [float(s) for s in shares],
         "classes_covered": int((shares >= COVERED).sum()),
         "class_kl": class_kl(shares, ref_shares),
         "unsure_share": unsure_share(probs)}
    if labels is not None:
        d["label_accuracy"] = label_accuracy(probs, labels)
    return d


def generate(trainer, n, rng, labels=None):
    """n images from ``trainer.sample`` (eval mode): (n, image_dim), as a NumPy array whatever
    the trainer's backend.

    labels: None, or (n,) class labels for a conditional trainer.
    """
    return generate_with_noise(trainer, n, rng, labels)[0]


def generate_with_noise(trainer, n, rng, labels=None):
    """``generate``'s images and the noise z (n, latent_dim) that drew them, both NumPy."""
    z = draw_latent(trainer.cfg, rng, n).astype(trainer.dtype)
    return to_host(trainer.sample(z, labels)), to_host(z)      # explicit copies off a GPU


def evaluate(trainer, dataset="mnist", n=10000, seed=0, *, classifier=None, data_dir=None,
             parzen=False):
    """Measure ``trainer``'s generator and, for reference, real images; returns a JSON-able dict.

    Draws n samples (noise from ``seed``; for a conditional trainer, labels 0..9 in turn, n / 10
    each) and n real test images (at most the 10,000 there are). Keys: dataset, n, seed,
    conditional, classifier (its sizes and test accuracy), and "generated" and "real", each
    with classifier_score, frechet_distance (to all test images), class_shares (10 floats),
    classes_covered (classes with >= 1% of the images), class_kl (KL of the class shares to
    the test set's), unsure_share (images whose top class has p(y|x) < 0.99) and
    label_accuracy: for "generated" only when the trainer is conditional; for "real" always,
    the classifier's accuracy on the true labels (the most a conditional generator can expect
    to score). "generated" also has code_purity (``code_purity``) when the trainer has
    InfoGAN's code head; "real" has its own n.

    ``parzen``: also the Gaussian Parzen-window log-likelihood of the test images (npgan/
    parzen.py, the GAN paper's protocol), under key "parzen": for the n samples and, as the
    reference, for n real training images used as the samples.
    """
    if n < 2:
        raise ValueError(f"n must be at least 2 (a covariance needs two images), got {n}")
    clf = classifier or load_classifier(dataset)
    load = LOADERS[dataset]
    test_images, test_labels = load("test", data_dir)
    train_images, _ = load("train", data_dir)
    noise_rng, real_rng = np.random.default_rng([seed, 0]), np.random.default_rng([seed, 1])

    # The reference: every test image. C^(1/2) is computed once for both comparisons.
    test_feats, test_probs = clf.features_and_probabilities(scale_images(test_images))
    mu, cov = gaussian_stats(test_feats)
    sqrt_cov, ref_shares = sqrtm_psd(cov), class_shares(test_probs)

    def frechet_to_test(feats):
        return frechet_from_stats(mu, cov, *gaussian_stats(feats), sqrt_c_a=sqrt_cov)

    conditional = bool(getattr(trainer, "conditional", False))
    labels = np.arange(n) % 10 if conditional else None
    images, z = generate_with_noise(trainer, n, noise_rng, labels)
    gen_feats, gen_probs = clf.features_and_probabilities(images)
    generated = figures(gen_probs, frechet_to_test(gen_feats), ref_shares, labels)
    if getattr(trainer.cfg, "info_weight", 0):                  # InfoGAN: z starts with c
        k = trainer.cfg.latent_components
        generated["code_purity"] = code_purity(gen_probs, z[:, :k].argmax(axis=1), k)

    real_idx = real_rng.permutation(len(test_images))[:n]          # the same for any trainer
    train_idx = real_rng.permutation(len(train_images))[:n]
    train_feats = clf.features(scale_images(train_images[train_idx]))
    real = figures(test_probs[real_idx], frechet_to_test(train_feats), ref_shares,
                   labels=test_labels[real_idx])
    real["n"] = len(real_idx)
    real["n_train"] = len(train_idx)

    out = {"dataset": dataset, "n": n, "seed": seed, "conditional": conditional,
           "step": int(getattr(trainer, "step", 0)),
           "classifier": {"hidden": list(clf.info.get("hidden", [])),
                          "test_accuracy": clf.accuracy},
           "generated": generated, "real": real}
    if parzen:
        out["parzen"] = parzen_figures(generate(trainer, n, np.random.default_rng([seed, 0]),
                                                labels), train_images, test_images, n)
    return out


def parzen_figures(samples, train_images, test_images, n):
    """The Parzen-window protocol (npgan.parzen) for samples (n, 784) in [-1, 1] and for the
    reference: sigma chosen on the last 1,000 training digits, the mean over every test digit.
    The reference's samples are the first n training digits (never the held-out last 1,000);
    npgan's demos train on all 60,000, so those 1,000 were seen in training (a GAN's samples
    are not copies of them, but say so when comparing with the paper)."""
    valid = train_images[-1000:].reshape(1000, -1) / 255.0
    test = test_images.reshape(len(test_images), -1) / 255.0
    real = train_images[:min(n, len(train_images) - 1000)].reshape(-1, test.shape[1]) / 255.0
    return {"held_out": "the last 1,000 training digits choose sigma",
            "generated": parzen_estimate((np.asarray(samples, np.float64) + 1) / 2, valid, test),
            "real_training_digits": parzen_estimate(real, valid, test)}


def format_metrics(d):
    """A small text table of ``evaluate``'s dict: one column for samples, one for real images."""
    gen, real = d["generated"], d["real"]
    acc = d["classifier"]["test_accuracy"]
    lines = [f"{d['dataset']}: {d['n']} samples (seed {d['seed']}) against {real['n']} real test "
             f"images; classifier test accuracy {100 * acc:.2f}%",
             f"{'':34}{'generated':>12}{'real':>12}",
             f"{'classifier score (1..10, higher)':34}{gen['classifier_score']:>12.3f}"
             f"{real['classifier_score']:>12.3f}",
             f"{'Frechet distance (lower)':34}{gen['frechet_distance']:>12.3f}"
             f"{real['frechet_distance']:>12.3f}",
             f"{'classes covered (>= 1%)':34}{gen['classes_covered']:>9d}/10"
             f"{real['classes_covered']:>9d}/10",
             f"{'class KL to test shares (lower)':34}{gen['class_kl']:>12.4f}{real['class_kl']:>12.4f}"]
    lines.append(f"{f'unsure (top class p < {UNSURE})':34}{100 * gen['unsure_share']:>11.2f}%"
                 f"{100 * real['unsure_share']:>11.2f}%")
    if "label_accuracy" in gen:
        lines.append(f"{'label accuracy (conditional)':34}{100 * gen['label_accuracy']:>11.2f}%"
                     f"{100 * real['label_accuracy']:>11.2f}%")
    else:
        lines.append(f"{'classifier accuracy on real':34}{'':>12}{100 * real['label_accuracy']:>11.2f}%")
    if "code_purity" in gen:
        purity = [p for p in gen["code_purity"]["per_code"] if p is not None]
        lines.append(f"{'code purity (InfoGAN, higher)':34}{100 * gen['code_purity']['mean']:>11.1f}%"
                     f"{'-':>12}   (codes {100 * min(purity):.0f}% to {100 * max(purity):.0f}%; "
                     f"their commonest classes: {gen['code_purity']['classes']} different)")
    lines.append("class shares (%)   " + "".join(f"{k:>6d}" for k in range(10)))
    for name, row in (("generated", gen), ("real", real)):
        lines.append(f"  {name:17}" + "".join(f"{100 * s:>6.1f}" for s in row["class_shares"]))
    lines.append(f"(real Frechet distance: {real.get('n_train', real['n']):,} training images "
                 "against the test images)")
    if "parzen" in d:
        g, r = d["parzen"]["generated"], d["parzen"]["real_training_digits"]
        lines.append(f"{'Parzen log-likelihood (nats)':34}{g['mean']:>8.1f} +-{g['std_error']:.1f}"
                     f"{r['mean']:>8.1f} +-{r['std_error']:.1f}")
        lines.append(f"(Parzen: sigma {g['sigma']:.3f} / {r['sigma']:.3f} chosen on the last 1,000 "
                     f"training images; real column: {r['n_samples']:,} training images as the "
                     "samples" + ("; the GAN paper reports 225 +- 2 on MNIST)"
                                  if d["dataset"] == "mnist" else ")"))
    return "\n".join(lines)


def save_metrics(d, path):
    """Write ``evaluate``'s dict to ``path`` as indented JSON (atomically)."""
    data = (json.dumps(d, indent=2) + "\n").encode()
    atomic_write(path, lambda f: f.write(data))
    return path
