"""Classifier-based metrics: the shipped classifiers, the scores, evaluate() and its CLI."""

import json

import numpy as np
import pytest

from npgan.checkpoint import CheckpointError, save_checkpoint
from npgan.classifier import load_classifier, weights_path
from npgan.data import FASHION_MNIST_DIR, load_fashion_mnist, load_mnist, scale_images
from npgan.evaluate import main as evaluate_main
from npgan.metrics import (class_kl, class_shares, classifier_score, code_purity, evaluate,
                           format_metrics, frechet_distance, frechet_from_stats, label_accuracy,
                           unsure_share)
from npgan.models import GANConfig
from npgan.run import Run
from npgan.train import GANTrainer

STATED = {"mnist": 0.98, "fashion_mnist": 0.88}             # the accuracies the README states


@pytest.mark.parametrize("dataset", ["mnist", "fashion_mnist"])
def test_shipped_classifier_beats_its_stated_accuracy(dataset):
    if dataset == "fashion_mnist" and not FASHION_MNIST_DIR.is_dir():
        pytest.skip("Fashion-MNIST is not installed (apt-get install dataset-fashion-mnist)")
    clf = load_classifier(dataset)
    assert clf.accuracy >= STATED[dataset]                   # as measured when it was trained
    images, labels = (load_mnist if dataset == "mnist" else load_fashion_mnist)("test")
    x, y = scale_images(images[-2000:]), labels[-2000:]     # the harder half of MNIST's test set
    assert (clf.predict(x) == y).mean() >= STATED[dataset]
    assert clf.features(x[:5]).shape == (5, 256)
    probs = clf.probabilities(x[:5])
    assert probs.shape == (5, 10) and np.allclose(probs.sum(axis=1), 1)


def test_weights_files_are_small():
    for dataset in ("mnist", "fashion_mnist"):
        assert weights_path(dataset).stat().st_size < 2_000_000


def test_load_classifier_refuses_a_gan_checkpoint_and_a_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="train_classifier"):
        load_classifier("mnist", tmp_path / "nothing.npz")
    save_checkpoint(tmp_path / "gan.npz", {"w": np.zeros(3)}, {"kind": "gan"})
    with pytest.raises(CheckpointError, match="not a 'classifier'"):
        load_classifier("mnist", tmp_path / "gan.npz")
    save_checkpoint(tmp_path / "huge.npz", {"w": np.zeros(3)},
                    {"kind": "classifier", "hidden": [10 ** 9], "test_accuracy": 0.9})
    with pytest.raises(CheckpointError, match="do not fit"):
        load_classifier("mnist", tmp_path / "huge.npz")


def correlated_features(rng, n=3000, d=12):
    return rng.standard_normal((n, d)) @ rng.standard_normal((d, d)) + rng.standard_normal(d)


def test_frechet_distance_of_a_set_with_itself_is_zero_and_grows_with_noise(rng):
    a = correlated_features(rng)
    scale = np.sqrt(np.trace(np.cov(a, rowvar=False)))
    assert frechet_distance(a, a) < 1e-8 * scale ** 2
    noise = rng.standard_normal(a.shape)
    d = [frechet_distance(a, a + s * noise) for s in (0.1, 0.3, 1.0, 3.0)]
    assert 0 < d[0] < d[1] < d[2] < d[3]


def test_frechet_distance_matches_closed_forms(rng):
    # Diagonal (commuting) covariances: d^2 = |mu_a - mu_b|^2 + sum (sqrt(c_a) - sqrt(c_b))^2.
    mu_a, mu_b = rng.standard_normal(5), rng.standard_normal(5)
    c_a, c_b = rng.uniform(0.5, 2, 5), rng.uniform(0.5, 2, 5)
    expected = ((mu_a - mu_b) ** 2).sum() + ((np.sqrt(c_a) - np.sqrt(c_b)) ** 2).sum()
    assert frechet_from_stats(mu_a, np.diag(c_a), mu_b, np.diag(c_b)) == pytest.approx(expected, rel=1e-10)
    # General covariances: Tr((C_a C_b)^(1/2)) is the sum of sqrt of the eigenvalues of C_a C_b.
    a, b = correlated_features(rng), correlated_features(rng)
    c_a, c_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    tr_sqrt = np.sqrt(np.linalg.eigvals(c_a @ c_b).real).sum()
    expected = ((a.mean(0) - b.mean(0)) ** 2).sum() + np.trace(c_a + c_b) - 2 * tr_sqrt
    assert frechet_distance(a, b) == pytest.approx(expected, rel=1e-8)


@pytest.mark.parametrize("a, b", [((1, 4), (5, 4)),            # one row: no covariance
                                  ((5, 4), (5, 3)),            # another feature width
                                  ((5,), (5, 4))])
def test_frechet_distance_names_features_it_cannot_compare(a, b):
    """(These were numpy's LinAlgError or a matmul core-dimension error.)"""
    with pytest.raises(ValueError, match=r"frechet_distance: needs two sets of features"):
        frechet_distance(np.ones(a), np.ones(b))


def test_classifier_score_bounds():
    confident_uniform = np.eye(10)[np.arange(1000) % 10]   # each image one class, all classes
    assert classifier_score(confident_uniform) == pytest.approx(10)
    constant = np.tile(np.linspace(1, 2, 10) / np.linspace(1, 2, 10).sum(), (50, 1))
    assert classifier_score(constant) == pytest.approx(1)
    two_classes = np.eye(10)[np.arange(100) % 2]
    assert classifier_score(two_classes) == pytest.approx(2)
    assert classifier_score(np.full((20, 10), 0.1)) == pytest.approx(1)


def test_class_shares_label_accuracy_and_kl():
    probs = np.eye(10)[[0, 0, 1, 3, 3, 3, 9, 9]] * 0.9 + 0.01
    assert class_shares(probs).tolist() == [0.25, 0.125, 0, 0.375, 0, 0, 0, 0, 0, 0.25]
    assert label_accuracy(probs, [0, 1, 1, 3, 3, 0, 9, 0]) == 5 / 8
    uniform = np.full(10, 0.1)
    assert class_kl(uniform, uniform) == pytest.approx(0)
    assert class_kl(np.eye(10)[0], uniform) == pytest.approx(np.log(10))


def test_unsure_share_counts_rows_whose_top_class_is_below_the_bound():
    probs = np.eye(10)[[0, 1, 2, 3]] * 0.995 + 0.0005       # top class 0.9955: sure
    probs[1] = np.eye(10)[1] * 0.98 + 0.002                  # top 0.982: unsure
    probs[3] = 0.1                                           # flat: unsure
    assert unsure_share(probs) == 0.5
    assert unsure_share(probs, below=0.5) == 0.25


class RealImages:
    """A stand-in trainer whose 'generator' returns real test images (labels honoured)."""

    def __init__(self, conditional):
        images, labels = load_mnist("test")
        self.images, self.labels = scale_images(images), labels
        self.conditional = conditional
        self.cfg, self.dtype, self.step, self.drawn = GANConfig(latent_dim=3), np.float32, 0, 0

    def sample(self, z, labels=None):
        n, start = len(z), self.drawn
        self.drawn += n
        if labels is None:
            return self.images[start:start + n]
        pools = [np.flatnonzero(self.labels == k) for k in range(10)]
        return self.images[[pools[k][(start + i) % len(pools[k])] for i, k in enumerate(labels)]]


@pytest.mark.parametrize("conditional", [False, True])
def test_evaluate_scores_real_images_like_real_images(conditional):
    d = evaluate(RealImages(conditional), "mnist", n=1000, seed=1)
    json.dumps(d)                                            # JSON-able
    gen, real = d["generated"], d["real"]
    assert real["n"] == 1000 and len(gen["class_shares"]) == 10
    assert gen["classifier_score"] == pytest.approx(real["classifier_score"], rel=0.05)
    assert gen["classifier_score"] > 8
    assert gen["classes_covered"] == real["classes_covered"] == 10
    assert real["label_accuracy"] >= 0.97
    assert gen["frechet_distance"] < 3 * real["frechet_distance"] + 1
    assert abs(gen["unsure_share"] - real["unsure_share"]) < 0.03     # real digits: about 7%
    assert 0.02 < real["unsure_share"] < 0.2
    if conditional:
        assert gen["label_accuracy"] >= 0.97                  # labels were honoured
        assert gen["class_shares"][1] == pytest.approx(0.1, abs=0.01)
    else:
        assert "label_accuracy" not in gen
    text = format_metrics(d)
    assert "classifier score" in text and ("label accuracy" in text) == conditional
    assert "unsure" in text


def test_code_purity_is_each_codes_share_of_its_commonest_class():
    probs = np.eye(10)[[3, 3, 3, 1, 4, 5, 4, 4]]            # top classes
    codes = np.array([0, 0, 0, 0, 1, 1, 1, 1])               # code 2 draws nothing
    d = code_purity(probs, codes, 3)
    assert d["per_code"] == [0.75, 0.75, None] and d["mean"] == 0.75 and d["classes"] == 2
    collapsed = code_purity(np.eye(10)[[8] * 6], [0, 1, 2, 0, 1, 2], 3)
    assert collapsed["mean"] == 1.0 and collapsed["classes"] == 1      # read together


class CodedRealImages(RealImages):
    """An InfoGAN stand-in: code k draws real test digits of class (k + shift) % 10, or, with
    ``ignore``, digits whatever the code."""

    def __init__(self, ignore=False):
        super().__init__(conditional=False)
        self.cfg = GANConfig(latent_dim=13, latent_components=10, info_weight=1.0)
        self.ignore = ignore

    def sample(self, z, labels=None):
        if self.ignore:
            return super().sample(z)
        codes = np.asarray(z)[:, :10].argmax(axis=1)
        return super().sample(z, (codes + 3) % 10)


def test_evaluate_reports_code_purity_for_an_infogan_generator():
    pure = evaluate(CodedRealImages(), "mnist", n=1000)["generated"]["code_purity"]
    assert pure["mean"] > 0.95 and all(p > 0.85 for p in pure["per_code"])
    assert pure["classes"] == 10
    mixed = evaluate(CodedRealImages(ignore=True), "mnist", n=1000)["generated"]["code_purity"]
    assert mixed["mean"] < 0.25                              # about 0.1: the classes' shares
    text = format_metrics(evaluate(CodedRealImages(), "mnist", n=200))
    assert "code purity (InfoGAN, higher)" in text
    assert "code_purity" not in evaluate(RealImages(False), "mnist", n=200)["generated"]


def test_a_collapsed_generator_scores_badly():
    class Ones(RealImages):
        def sample(self, z, labels=None):
            return np.repeat(self.images[self.labels == 1][:1], len(z), axis=0)
    d = evaluate(Ones(False), "mnist", n=500)
    assert d["generated"]["classifier_score"] == pytest.approx(1, abs=0.01)
    assert d["generated"]["classes_covered"] == 1 and d["generated"]["class_shares"][1] == 1
    assert d["generated"]["frechet_distance"] > 10 * d["real"]["frechet_distance"]
    assert d["generated"]["unsure_share"] == 0.0              # a clear 1, repeated


def test_evaluate_cli(tmp_path, capsys):
    trainer = GANTrainer(GANConfig(latent_dim=4, g_hidden=(8,), d_hidden=(8,)))
    Run(trainer, np.zeros((4, 784), np.float32), str(tmp_path), batch_size=2, epochs=1,
        info={"dataset": "mnist"}).save()
    out = tmp_path / "m.json"
    assert evaluate_main([str(tmp_path / "checkpoint.npz"), "-n", "200", "--json", str(out)]) == 0
    assert "Frechet distance" in capsys.readouterr().out
    assert json.loads(out.read_text())["n"] == 200

    assert evaluate_main([str(tmp_path / "missing.npz")]) == 2
    assert "error:" in capsys.readouterr().err
    (tmp_path / "bad.npz").write_bytes(b"not a zip")
    assert evaluate_main([str(tmp_path / "bad.npz")]) == 2
    assert "error:" in capsys.readouterr().err


def test_retraining_a_classifier_leaves_the_shipped_one_alone(tmp_path, monkeypatch):
    """train_classifier writes runs/classifiers/DATASET.npz by default; only --install would
    replace the file that ships with npgan and that every evaluation uses."""
    import hashlib
    from npgan.demos.train_classifier import main
    from small_runs import write_data_dir, write_idx, mnist_test_split
    shipped = weights_path("mnist")
    before = hashlib.sha256(shipped.read_bytes()).hexdigest()
    data = write_data_dir(tmp_path / "data", n=64)
    images, labels = mnist_test_split()
    write_idx(data / "t10k-images-idx3-ubyte", images[:32])
    write_idx(data / "t10k-labels-idx1-ubyte", labels[:32])
    monkeypatch.chdir(tmp_path)
    assert main(["--epochs", "1", "--batch-size", "16", "--data-dir", "data", "--quiet"]) == 0
    assert (tmp_path / "runs" / "classifiers" / "mnist.npz").stat().st_size > 100_000
    assert hashlib.sha256(shipped.read_bytes()).hexdigest() == before
