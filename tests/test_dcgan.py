"""The DCGAN: its architecture as documented, its training step (fast == plain), and every
outer tool (demo flags, checkpoints, resume, sampling, evaluation) working for it."""

import numpy as np
import pytest

from npgan.checkpoint import load_checkpoint, save_checkpoint
from npgan.demos.run_settings import new_run_settings
from npgan.demos.config_file import read_config_file
from npgan.demos.flags import DCGAN_LR, DCGAN_MODEL, build_parser
from npgan.evaluate import main as evaluate_main
from npgan.models import DCGANConfig, build_networks, config_from_dict
from npgan.models.dcgan import CLASSIC
from npgan.nn import ConvTranspose2d, Upsample
from npgan.run_state import load_run
from npgan.train import GANTrainer
from small_runs import demo, sample, small_checkpoint, small_images, write_data_dir

TINY = DCGANConfig(latent_dim=8, g_channels=(8, 4), d_channels=(4, 8))      # dropout in D
TINY_BN = DCGANConfig(latent_dim=8, g_channels=(8, 4), d_channels=(4, 8), d_batchnorm=True,
                      d_dropout=0.0)                                       # the CLASSIC D


def shapes_after_each_layer(net, x):
    shapes = []
    for layer in net:
        x = layer(x)
        shapes.append((type(layer).__name__, x.shape[1:]))
    return shapes


def test_default_architecture_has_the_documented_shapes():
    G, D = build_networks(DCGANConfig(), rng=np.random.default_rng(0))
    z = np.zeros((2, 100), np.float32)
    assert shapes_after_each_layer(G, z) == [
        ("Linear", (3136,)), ("BatchNorm1d", (3136,)), ("ReLU", (3136,)),
        ("Unflatten", (64, 7, 7)), ("ConvTranspose2d", (32, 14, 14)),
        ("BatchNorm2d", (32, 14, 14)), ("ReLU", (32, 14, 14)), ("ConvTranspose2d", (1, 28, 28)),
        ("Tanh", (1, 28, 28)), ("Flatten", (784,))]
    assert shapes_after_each_layer(D, np.zeros((2, 784), np.float32)) == [
        ("Unflatten", (1, 28, 28)), ("Conv2d", (32, 14, 14)), ("LeakyReLU", (32, 14, 14)),
        ("Dropout", (32, 14, 14)), ("Conv2d", (64, 7, 7)), ("LeakyReLU", (64, 7, 7)),
        ("Dropout", (64, 7, 7)), ("Flatten", (3136,)), ("Linear", (1,))]
    assert [p.shape for n, p in G.named_parameters() if n.endswith("weight")] == \
        [(100, 3136), (64, 32, 4, 4), (32, 1, 4, 4)]
    assert G[0].bias is None and G[4].bias is None               # each feeds a BatchNorm
    assert D[4].bias is not None and D[3].p == 0.3


def test_classic_layout_has_the_papers_channels_and_batchnorm_in_d():
    G, D = build_networks(DCGANConfig(**CLASSIC), rng=np.random.default_rng(0))
    assert shapes_after_each_layer(D, np.zeros((2, 784), np.float32)) == [
        ("Unflatten", (1, 28, 28)), ("Conv2d", (64, 14, 14)), ("LeakyReLU", (64, 14, 14)),
        ("Conv2d", (128, 7, 7)), ("BatchNorm2d", (128, 7, 7)), ("LeakyReLU", (128, 7, 7)),
        ("Flatten", (6272,)), ("Linear", (1,))]
    assert [p.shape for n, p in G.named_parameters() if n.endswith("weight")] == \
        [(100, 6272), (128, 64, 4, 4), (64, 1, 4, 4)]
    assert D[3].bias is None                                     # it feeds a BatchNorm


def test_the_demos_networks_have_a_hidden_layer_on_each_side_of_the_convolutions():
    G, D = build_networks(DCGANConfig(**DCGAN_MODEL), rng=np.random.default_rng(0))
    assert shapes_after_each_layer(G, np.zeros((2, 100), np.float32))[:7] == [
        ("Linear", (256,)), ("BatchNorm1d", (256,)), ("ReLU", (256,)),
        ("Linear", (3136,)), ("BatchNorm1d", (3136,)), ("ReLU", (3136,)), ("Unflatten", (64, 7, 7))]
    assert G[0].bias is None and G[3].bias is None               # each feeds a BatchNorm
    assert shapes_after_each_layer(D, np.zeros((2, 784), np.float32))[-4:] == [
        ("Flatten", (3136,)), ("Linear", (256,)), ("LeakyReLU", (256,)), ("Linear", (1,))]
    assert D[-2].negative_slope == 0.2
    deeper = DCGANConfig(g_hidden=(8, 16), d_hidden=(16, 8))
    _, D = build_networks(deeper, rng=np.random.default_rng(0))
    weights = [p.data.size for n, p in D.named_parameters() if n.endswith("weight")]
    assert [p.shape for n, p in D.named_parameters() if n.endswith("weight")][-3:] == \
        [(3136, 16), (16, 8), (8, 1)]
    G, _ = build_networks(deeper, rng=np.random.default_rng(0))
    assert deeper.weight_count() == sum(weights) + sum(
        p.data.size for n, p in G.named_parameters() if n.endswith("weight"))


def test_demo_dcgan_defaults_and_a_runs_own_config_keep_their_d():
    """--model dcgan: the demos' hidden layer and learning rate (demos/flags.py); a flag or a
    --config file overrides them; a run's own config.json from before d_hidden existed (it
    records "backend") rebuilds that run's D, without the hidden layer."""
    parser = build_parser("mnist", "mnist", 15, "")

    def settings(flags, file_model=None, file_settings=None):
        return new_run_settings(parser.parse_args(flags), file_model, file_settings or {}, {},
                                "mnist")
    cfg, s = settings(["--model", "dcgan"])
    assert cfg.g_hidden == cfg.d_hidden == (256,) and s["lr"] == DCGAN_LR == 5e-4
    cfg, s = settings([], {"model": "dcgan", "g_channels": [16, 8]})     # a file's other fields
    assert cfg.g_hidden == cfg.d_hidden == (256,) and cfg.g_channels == (16, 8)
    cfg, s = settings(["--model", "dcgan", "--conditional", "--lr", "1e-4"])
    assert cfg.d_hidden == (256,) and cfg.conditional and s["lr"] == 1e-4
    cfg, s = settings([], {"model": "dcgan", "d_hidden": []}, {"lr": 3e-4})
    assert cfg.d_hidden == () and cfg.g_hidden == (256,) and s["lr"] == 3e-4
    _, file_model, file_settings = read_config_file("dcgan_without_fc")
    cfg, s = settings([], file_model, file_settings)
    assert cfg == DCGANConfig() and s["lr"] == 2e-4                   # the earlier network
    older = {**DCGANConfig().to_dict()}
    del older["d_hidden"], older["g_hidden"]
    cfg, s = settings([], older, {"backend": "numpy", "lr": 2e-4})
    assert cfg.d_hidden == () and s["lr"] == 2e-4
    cfg, s = settings([])
    assert not hasattr(cfg, "d_channels") and s["lr"] == 2e-4           # the MLP's own


def test_upsample_generator_has_no_transposed_convolution():
    G, _ = build_networks(DCGANConfig(upsample="nearest"), rng=np.random.default_rng(0))
    assert not any(isinstance(m, ConvTranspose2d) for m in G.modules())
    assert sum(isinstance(m, Upsample) for m in G.modules()) == 2
    assert G(np.zeros((2, 100), np.float32)).shape == (2, 784)


def test_conditional_dcgan_gives_d_a_label_plane():
    G, D = build_networks(DCGANConfig(num_classes=10), rng=np.random.default_rng(0))
    assert D.embed.weight.shape == (10, 784) and D.net[1].weight.shape == (32, 2, 4, 4)
    assert G.embed.weight.shape == (10, 10) and G.net[0].weight.shape == (110, 3136)
    labels = np.arange(3)
    assert D(G(np.zeros((3, 100), np.float32), labels), labels).shape == (3, 1)


def test_colour_dcgan_works_at_a_quarter_of_height_and_width_and_makes_c_channels():
    cfg = DCGANConfig(image_dim=3 * 32 * 24, image_shape=(3, 32, 24), num_classes=4)
    G, D = build_networks(cfg, rng=np.random.default_rng(0))
    shapes = shapes_after_each_layer(G.net, np.zeros((2, 110), np.float32))
    assert shapes[3] == ("Unflatten", (64, 8, 6)) and shapes[-3:] == [
        ("ConvTranspose2d", (3, 32, 24)), ("Tanh", (3, 32, 24)), ("Flatten", (2304,))]
    assert D.embed.weight.shape == (4, 32 * 24)              # one label plane of H x W
    assert shapes_after_each_layer(D.net, np.zeros((2, 4 * 768), np.float32))[:2] == [
        ("Unflatten", (4, 32, 24)), ("Conv2d", (32, 16, 12))]  # 3 colours + the label plane
    labels = np.arange(2)
    assert D(G(np.zeros((2, 100), np.float32), labels), labels).shape == (2, 1)
    assert config_from_dict(cfg.to_dict()) == cfg


def test_config_round_trips_and_refuses_what_does_not_fit():
    cfg = DCGANConfig(g_channels=(16, 8), upsample="nearest", num_classes=10)
    assert config_from_dict(cfg.to_dict()) == cfg
    assert config_from_dict({"latent_dim": 7}).latent_dim == 7      # no "model": an MLP config
    for bad, message in [({"model": "dcgan", "upsample": "bilinear"}, "upsample must be"),
                         ({"model": "dcgan", "image_dim": 900}, "divisible by 4; got 30 x 30"),
                         ({"model": "dcgan", "image_dim": 1000}, "1000 pixels are not square"),
                         ({"model": "dcgan", "image_shape": [3, 28, 28]}, "image_dim 784 does not match"),
                         ({"model": "dcgan", "g_channels": [8]}, "two positive channel"),
                         ({"model": "dcgan", "kernel": 5}, "unknown fields"),
                         ({"model": "vae"}, "unknown model")]:
        with pytest.raises(ValueError, match=message):
            config_from_dict(bad)


@pytest.mark.parametrize("cfg", [TINY, TINY_BN,
                                 DCGANConfig(**{**TINY.to_dict(), "upsample": "nearest"}),
                                 DCGANConfig(**{**TINY.to_dict(), "num_classes": 3, "embed_dim": 2}),
                                 DCGANConfig(**{**TINY.to_dict(), "g_hidden": (6,), "d_hidden": (5,)}),
                                 DCGANConfig(**{**TINY.to_dict(), "d_dropout": 0.0})],
                         ids=["dropout in D", "BatchNorm in D", "nearest", "conditional",
                              "fully connected layers", "neither: one joint D batch"])
def test_fast_step_equals_the_plain_step(cfg):
    """With dropout too (the fast step then keeps real and fake apart, so that the masks are
    drawn in the plain step's order), and with neither dropout nor BatchNorm in D, where the
    fast step sends real and fake through D as one batch."""
    rng = np.random.default_rng(5)
    real = rng.uniform(-1, 1, (6, 784))
    labels = (rng.integers(0, 3, 6),) if cfg.conditional else ()
    fast, plain = (GANTrainer(cfg, seed=4, dtype=np.float64, fast=f) for f in (True, False))
    # BatchNorm2d or Dropout in D: separate batches; neither: one batch of both
    assert fast.joint_d_batch == (cfg.d_dropout == 0 and not cfg.d_batchnorm)
    for _ in range(2):
        a, b = fast.train_step(real, *labels), plain.train_step(real, *labels)
        for key in a:
            assert a[key] == pytest.approx(b[key], rel=1e-12), key
    for (key, a), b in zip(fast.device_state().items(), plain.device_state().values()):
        assert np.allclose(a, b, rtol=1e-10, atol=1e-13), key


def test_a_few_steps_lower_the_discriminators_loss_on_fixed_data():
    """Learning at all: D, trained on one fixed real batch against G's fakes, separates them."""
    trainer = GANTrainer(TINY, seed=0, lr=2e-3)
    real = small_images(32)
    first = trainer.train_step(real)["d_loss"]
    for _ in range(15):
        last = trainer.train_step(real)["d_loss"]
    assert np.isfinite(last) and last < first


def test_checkpoint_resumes_sample_and_evaluate(tmp_path, capsys):
    ckpt = small_checkpoint(tmp_path, cfg=TINY)
    trainer, history, _ = load_run(ckpt)
    assert isinstance(trainer.cfg, DCGANConfig) and trainer.step == 2 and len(history["d_loss"]) == 2
    code, _, err = sample(capsys, ckpt, "-n", "16", "-o", tmp_path / "grid.png")
    assert code == 0, err
    code, _, err = sample(capsys, ckpt, "-n", "5", "-o", tmp_path / "x.npy")
    assert code == 0 and np.load(tmp_path / "x.npy").shape == (5, 28, 28)
    assert evaluate_main([str(ckpt), "-n", "200"]) == 0
    assert "classifier score" in capsys.readouterr().out


def test_demo_trains_a_dcgan_and_resume_keeps_the_model(tmp_path, capsys):
    out = tmp_path / "run"
    code, stdout, err = demo(capsys, "--model", "dcgan", "--upsample", "nearest", "--max-steps", "2",
                             "--batch-size", "8", "--out", out)
    assert code == 0, err
    assert "training a DCGAN" in stdout and (out / "checkpoint.npz").exists()
    trainer, _, _ = load_run(out / "checkpoint.npz")
    assert trainer.cfg.upsample == "nearest"
    assert trainer.cfg.g_hidden == trainer.cfg.d_hidden == (256,)    # the demos' (flags.py)
    code, _, err = demo(capsys, "--resume", out / "checkpoint.npz", "--max-steps", "3")
    assert code == 0, err
    code, _, err = demo(capsys, "--resume", out / "checkpoint.npz", "--model", "mlp",
                        "--max-steps", "4")
    assert code == 2 and "--model mlp contradicts the checkpoint's dcgan" in err


def test_a_dcgan_checkpoint_from_before_the_fully_connected_layers_resumes(tmp_path, capsys):
    """Written before g_hidden and d_hidden existed (its config names neither): it rebuilds
    the network it trained, without them, and resumes."""
    code, _, err = demo(capsys, "--config", "dcgan_without_fc", "--max-steps", "1",
                        "--batch-size", "8", "--out", tmp_path / "run")
    assert code == 0, err
    arrays, meta = load_checkpoint(tmp_path / "run" / "checkpoint.npz")
    del meta["config"]["g_hidden"], meta["config"]["d_hidden"]
    save_checkpoint(tmp_path / "old.npz", arrays, meta)
    assert load_run(tmp_path / "old.npz")[0].cfg == DCGANConfig()
    code, _, err = demo(capsys, "--resume", tmp_path / "old.npz", "--max-steps", "2")
    assert code == 0, err


def test_upsample_flag_needs_the_dcgan(tmp_path, capsys):
    code, _, err = demo(capsys, "--upsample", "nearest", "--out", tmp_path / "x")
    assert code == 2 and "--upsample is for --model dcgan" in err


def test_ema_flag_defaults_to_0999_and_is_kept_on_resume(tmp_path, capsys):
    code, _, err = demo(capsys, "--model", "dcgan", "--max-steps", "1", "--batch-size", "8",
                        "--out", tmp_path / "a")
    assert code == 0, err
    trainer, _, _ = load_run(tmp_path / "a" / "checkpoint.npz")
    assert trainer.settings["ema"] == 0.999 and trainer.G_ema is not None
    code, _, err = demo(capsys, "--max-steps", "1", "--batch-size", "8", "--out", tmp_path / "b")
    assert code == 0, err
    assert load_run(tmp_path / "b" / "checkpoint.npz")[0].settings["ema"] == 0.999  # the MLP too
    code, _, err = demo(capsys, "--max-steps", "1", "--batch-size", "8", "--ema", "0",
                        "--out", tmp_path / "e")
    assert code == 0, err
    assert load_run(tmp_path / "e" / "checkpoint.npz")[0].G_ema is None     # --ema 0: off
    code, _, err = demo(capsys, "--resume", tmp_path / "a" / "checkpoint.npz", "--ema", "0.9",
                        "--max-steps", "2")
    assert code == 2 and "--ema 0.9 contradicts the checkpoint's 0.999" in err
    code, _, err = demo(capsys, "--ema", "1", "--out", tmp_path / "c")
    assert code == 2 and "argument --ema: must be in [0, 1), got 1" in err
    code, _, err = demo(capsys, "--ema", "-0.1", "--out", tmp_path / "d")
    assert code == 2 and "argument --ema: must be in [0, 1), got -0.1" in err


def test_conditional_dcgan_samples_a_label_and_interpolates(tmp_path, capsys):
    cfg = DCGANConfig(**{**TINY.to_dict(), "num_classes": 10})
    ckpt = small_checkpoint(tmp_path, cfg=cfg, labels=np.arange(64) % 10)
    code, _, err = sample(capsys, ckpt, "--label", "3", "-n", "8", "-o", tmp_path / "three.npy")
    assert code == 0, err
    assert np.load(tmp_path / "three.npy").shape == (8, 28, 28)
    code, _, err = sample(capsys, ckpt, "--interpolate", "--steps", "4", "-o", tmp_path / "walk.png")
    assert code == 0, err
    assert (tmp_path / "walk.png").stat().st_size > 0
    assert evaluate_main([str(ckpt), "-n", "200"]) == 0
    assert "label accuracy" in capsys.readouterr().out


def test_conditional_defaults_to_a_projection_d_for_the_mlp_only(tmp_path, capsys):
    def d_label(*flags):
        out = tmp_path / str(len(list(tmp_path.iterdir())))
        code, _, err = demo(capsys, "--conditional", "--max-steps", "1", "--batch-size", "8",
                            "--out", out, *flags)
        assert code == 0, err
        return getattr(load_run(out / "checkpoint.npz")[0].cfg, "d_label", None)
    assert d_label() == "projection"
    concat = tmp_path / "concat.json"
    concat.write_text('{"model": {"num_classes": 10, "d_label": "concat"}}')
    assert d_label("--config", str(concat)) == "concat"            # a file's choice wins
    assert d_label("--model", "dcgan") in (None, "concat")          # the DCGAN has its own


def dcgan_weights_after_three_steps(threads, blas_threads):
    """G's, D's and G_ema's weights after three steps of the demos' DCGAN, batch 64, with
    npgan's own threaded passes on ``threads`` threads and the BLAS on ``blas_threads``."""
    from threadpoolctl import threadpool_limits
    from npgan.threads import set_threads
    real = np.random.default_rng(0).uniform(-1, 1, (64, 784)).astype(np.float32)
    try:
        set_threads(threads)
        threadpool_limits(blas_threads)
        trainer = GANTrainer(DCGANConfig(**DCGAN_MODEL), seed=0, ema=0.999)
        for _ in range(3):
            trainer.train_step(real)
    finally:
        set_threads(1)                      # the suite's setting (tests/conftest.py)
    return [p.data.copy() for p in trainer.G.parameters() + trainer.D.parameters()
            + trainer.G_ema.parameters()]


def test_dcgan_passes_give_the_same_bits_on_one_thread_and_two():
    """npgan's threaded passes (im2col, col2im, the optimizer, the weight average) never
    change a sum's order: with the BLAS held on one thread, one npgan thread and two give the
    same weights, bit for bit."""
    one, two = dcgan_weights_after_three_steps(1, 1), dcgan_weights_after_three_steps(2, 1)
    assert all(np.array_equal(a, b) for a, b in zip(one, two))


def test_dcgan_training_on_one_thread_and_two_agrees_to_rounding():
    """With the BLAS on two threads too, its products may sum in another order. Some of
    OpenBLAS's kernels give these products the same bits on one thread and two (those the
    README's DCGAN rows were measured on); its Haswell kernels (OPENBLAS_CORETYPE=Haswell, set
    on this project's machine on 2026-12-07) do not, and three Adam steps then move a weight
    by up to 3e-6. So: equal to 1e-5 on any kernels."""
    one, two = dcgan_weights_after_three_steps(1, 1), dcgan_weights_after_three_steps(2, 2)
    assert all(np.allclose(a, b, rtol=0, atol=1e-5) for a, b in zip(one, two))


def test_nearest_upsampling_trains_into_its_own_default_folder(tmp_path, capsys, monkeypatch):
    """Not over the default DCGAN's runs/mnist_dcgan (a resume there would keep the other
    run's transposed convolutions)."""
    data = write_data_dir(tmp_path / "data", n=64)
    monkeypatch.chdir(tmp_path)
    for flags, folder in ((["--upsample", "nearest"], "mnist_dcgan_nearest"),
                          ([], "mnist_dcgan")):
        code, _, err = demo(capsys, "--model", "dcgan", *flags, "--data-dir", data,
                            "--batch-size", 16, "--max-steps", 1, "--eval-samples", 0, "--quiet")
        assert code == 0, err
        assert (tmp_path / "runs" / folder / "checkpoint.npz").is_file()
