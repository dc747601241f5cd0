"""``--config FILE.json``: the shipped tutorial networks, a run repeated from its own
config.json, the flags over the file, the Sigmoid G's [0, 1] data, and every refusal."""

import json

import numpy as np
import pytest

import npgan.demos.common
from npgan.demos.config_file import SHIPPED, ConfigFileError, read_config_file, shipped_names
from npgan.models import DCGANConfig, GANConfig, build_networks, config_from_dict
from npgan.nn import BatchNorm1d, Dropout, LeakyReLU, Linear, ReLU, Sigmoid, Tanh
from npgan.checkpoint import load_checkpoint
from small_runs import demo, no_plots, write_data_dir  # noqa: F401


def layer_kinds(net):
    """The layer classes of a Sequential, in order, as short names ("Linear-", no bias)."""
    names = []
    for m in net.layers:
        name = type(m).__name__
        if isinstance(m, Linear) and m.bias is None:
            name += "-"
        names.append(name)
    return names


def build(name):
    _, model, _ = read_config_file(name)
    cfg = config_from_dict(model)                           # the file's fields, the rest defaults
    return cfg, *build_networks(cfg, rng=np.random.default_rng(0))


def test_three_tutorial_networks_are_shipped():
    assert {"coursera", "relu_dropout_d", "three_minute_fashion"} <= set(shipped_names())


def test_coursera_network_is_the_course_one():
    cfg, G, D = build("coursera")
    assert cfg.latent_dim == 10 and cfg.pixel_low == 0.0
    assert layer_kinds(G) == ["Linear-", "BatchNorm1d", "ReLU"] * 4 + ["Linear", "Sigmoid"]
    assert [m.weight.shape for m in G.layers if isinstance(m, Linear)] == [
        (10, 128), (128, 256), (256, 512), (512, 1024), (1024, 784)]
    assert layer_kinds(D) == ["Linear", "LeakyReLU"] * 3 + ["Linear"]
    assert [m.weight.shape[1] for m in D.layers if isinstance(m, Linear)] == [512, 256, 128, 1]
    assert all(m.negative_slope == 0.2 for m in D.layers if isinstance(m, LeakyReLU))


def test_relu_dropout_discriminator():
    _, _, D = build("relu_dropout_d")
    assert layer_kinds(D) == ["Linear", "ReLU", "Dropout"] * 3 + ["Linear"]
    assert [m.weight.shape[1] for m in D.layers if isinstance(m, Linear)] == [1024, 512, 256, 1]
    assert all(m.p == 0.5 for m in D.layers if isinstance(m, Dropout))


def test_dcgan_without_fc_is_the_earlier_demo_dcgan():
    """The DCGAN the demos trained before g_hidden and d_hidden (README "Results" repeats its
    row with this file): DCGANConfig's own defaults, lr 2e-4, whatever the demos' DCGAN_MODEL."""
    cfg, G, D = build("dcgan_without_fc")
    assert cfg == DCGANConfig() and cfg.g_hidden == cfg.d_hidden == ()
    assert read_config_file("dcgan_without_fc")[2]["lr"] == 2e-4
    assert [type(m).__name__ for m in D.layers][-2:] == ["Flatten", "Linear"]


def test_three_minute_fashion_network():
    cfg, G, D = build("three_minute_fashion")
    assert cfg.latent_dim == 64
    assert layer_kinds(G) == ["Linear", "ReLU", "Linear", "ReLU", "Linear", "Tanh"]
    assert [m.weight.shape for m in G.layers if isinstance(m, Linear)] == [
        (64, 256), (256, 256), (256, 784)]
    assert layer_kinds(D) == ["Linear", "LeakyReLU", "Linear", "LeakyReLU", "Linear"]


def test_default_config_builds_the_classic_gan():
    G, D = build_networks(GANConfig(), rng=np.random.default_rng(0))
    assert layer_kinds(G) == (["Linear", "LeakyReLU"] + ["Linear-", "BatchNorm1d", "LeakyReLU"] * 3
                              + ["Linear", "Tanh"])
    assert layer_kinds(D) == ["Linear", "LeakyReLU"] * 2 + ["Linear"]
    assert not any(isinstance(m, (ReLU, Sigmoid, Dropout)) for m in G.layers + D.layers)
    assert any(isinstance(m, BatchNorm1d) for m in G.layers) and isinstance(G.layers[-1], Tanh)


def test_a_run_repeats_from_its_own_config_json(tmp_path, capsys, no_plots):
    data = write_data_dir(tmp_path / "data", n=96)
    first, again = tmp_path / "first", tmp_path / "again"
    code, _, err = demo(capsys, "--config", "coursera", "--data-dir", data, "--out", first,
                        "--batch-size", 16, "--max-steps", 8, "--seed", 3, "--quiet")
    assert code == 0, err
    info = json.loads((first / "config.json").read_text())
    assert info["model"]["latent_dim"] == 10 and info["batch_size"] == 16 and info["seed"] == 3
    code, out, err = demo(capsys, "--config", first / "config.json", "--out", again, "--quiet")
    # the run's own --data-dir and --max-steps 8, from its config.json
    assert code == 0, err
    assert "config.json" in out
    (arrays_a, meta_a), (arrays_b, meta_b) = (load_checkpoint(f / "checkpoint.npz")
                                              for f in (first, again))
    assert sorted(arrays_a) == sorted(arrays_b) and meta_a["step"] == 8
    assert all(np.array_equal(arrays_a[k], arrays_b[k]) for k in arrays_a)   # bit for bit
    assert meta_b["run"].pop("config_file") == str(first / "config.json")
    meta_a["run"].pop("config_file")
    assert meta_a == meta_b


def test_flags_override_the_file(tmp_path, capsys, no_plots):
    data = write_data_dir(tmp_path / "data", n=64)
    code, _, err = demo(capsys, "--config", "three_minute_fashion", "--data-dir", data,
                        "--out", tmp_path / "r", "--batch-size", 16, "--max-steps", 2,
                        "--latent-dim", 7, "--lr", 0.001, "--conditional", "--quiet")
    assert code == 0, err
    assert "written for fashion_mnist" in err                # the file's dataset, noted
    info = json.loads((tmp_path / "r" / "config.json").read_text())
    assert info["model"]["latent_dim"] == 7 and info["lr"] == 0.001
    assert info["model"]["num_classes"] == 10 and info["model"]["g_hidden"] == [256, 256]


def test_a_sigmoid_generator_trains_on_data_in_0_1(tmp_path, capsys, monkeypatch):
    seen = {}
    real_run = npgan.demos.common.Run

    def spy(trainer, images, *args, **kwargs):
        seen["range"] = (float(images.min()), float(images.max()))
        return real_run(trainer, images, *args, **kwargs)
    monkeypatch.setattr(npgan.demos.common, "Run", spy)
    monkeypatch.setattr(npgan.run, "save_image_grid", lambda *a, **k: None)
    monkeypatch.setattr(npgan.run, "save_loss_curves", lambda *a, **k: None)
    data = write_data_dir(tmp_path / "data", n=64)
    for name, low in (("coursera", 0.0), ("three_minute_fashion", -1.0)):
        code, _, err = demo(capsys, "--config", name, "--data-dir", data, "--out",
                            tmp_path / name, "--batch-size", 16, "--max-steps", 1, "--quiet")
        assert code == 0, err
        assert seen["range"] == (low, 1.0)


def test_sigmoid_samples_come_back_in_minus_1_1():
    """GANTrainer.sample maps a Sigmoid G's p in [0, 1] to 2p - 1, for every consumer."""
    from npgan.train import GANTrainer
    t = GANTrainer(GANConfig(latent_dim=4, g_hidden=(8,), d_hidden=(8,), image_dim=9,
                             output="sigmoid"))
    z = np.random.default_rng(0).standard_normal((5, 4)).astype(np.float32)
    t.G.eval()
    raw = t.G(z)
    assert raw.min() >= 0 and raw.max() <= 1
    np.testing.assert_allclose(t.sample(z), 2 * raw - 1, rtol=1e-6, atol=1e-7)


def write(tmp_path, obj, name="c.json"):
    path = tmp_path / name
    path.write_text(obj if isinstance(obj, str) else json.dumps(obj))
    return path


@pytest.mark.parametrize("obj, message", [
    ("{not json", "not valid JSON"),
    ("[1, 2]", "must hold a JSON object"),
    ({"lr": 0.1}, "needs a \"model\" object"),
    ({"model": "dcgan", "epochs": 3},                   # the kind one level too high
     'to name the kind, put it inside: {"model": {"model": "dcgan"}}'),
    ({"model": {}, "learning_rate": 0.1}, "unknown keys ['learning_rate']"),
    ({"model": {"g_hiden": [8]}}, "unknown fields ['g_hiden']"),
    ({"model": {"g_activation": "tanh"}}, "g_activation must be one of"),
    ({"model": {"g_batchnorm": "first"}}, "g_batchnorm must be one of"),
    ({"model": {"output": "relu"}}, "output must be one of"),
    ({"model": {"d_dropout": 1.5}}, "d_dropout must be in [0, 1)"),
    ({"model": {"model": "gan"}}, "unknown model 'gan'"),
    ({"model": {"model": "dcgan", "g_batchnorm": "all"}}, "unknown fields ['g_batchnorm']"),
    ({"model": {"g_activation": "relu", "d_activation": "relu", "slope": 0.1}},
     "no layer is a LeakyReLU"),
    ({"model": {}, "lr": -1}, "'lr' must be a positive number"),
    ({"model": {}, "mode_seeking": -0.5}, "'mode_seeking' must be a number >= 0"),
    ({"model": {}, "batch_size": 1.5}, "'batch_size' must be a positive integer"),
    ({"model": {}, "betas": [0.5]}, "'betas' must be two numbers"),
    ({"model": {}, "optimizer": "lbfgs"}, "'optimizer' must be one of"),
    ({"model": {}, "data": {"size": [16]}}, "'data' must be the images demo's record"),
    ({"model": {}, "data": {"path": 5}}, "'data' must be the images demo's record"),
    ({"model": {}, "data": {"pth": "x"}}, "'data' must be the images demo's record"),
    ({"model": {}, "max_steps": 0}, "'max_steps' must be a positive integer"),
    ({"model": {"latent_dim": "64"}}, "latent_dim must be an integer, got '64'"),
    ({"model": {"latent_dim": 64.5}}, "latent_dim must be an integer"),
    ({"model": {"latent_dim": True}}, "latent_dim must be an integer"),
    ({"model": {"latent_dim": None}}, "latent_dim must be an integer"),
    ({"model": {"g_hidden": 128}}, "g_hidden must be a list of integers"),
    ({"model": {"g_hidden": [128.9]}}, "g_hidden must be a list of integers"),
    ({"model": {"g_hidden": ["a"]}}, "g_hidden must be a list of integers"),
    ({"model": {"d_dropout": "0.5"}}, "d_dropout must be a number"),
    ({"model": {"bn_eps": "small"}}, "bn_eps must be a number"),
    ({"model": {"bn_eps": 0}}, "bn_eps must be > 0"),
    ({"model": {"bn_momentum": 5}}, "bn_momentum must be in [0, 1]"),
    ({"model": {"num_classes": -1}}, "num_classes must be >= 0"),
    ({"model": {"num_classes": 10, "embed_dim": 0}}, "embed_dim must be a positive integer"),
    ({"model": {"model": "dcgan", "d_batchnorm": "yes"}}, "d_batchnorm must be true or false"),
    ({"model": {"model": "dcgan", "d_hidden": 256}}, "d_hidden must be a list of integers"),
    ({"model": {"model": "dcgan", "d_hidden": [0]}}, "d_hidden must be positive widths"),
    ({"model": {"model": "dcgan", "g_hidden": [64, -1]}}, "g_hidden must be positive widths"),
    ({"model": {"model": "dcgan", "latent_dim": 1.5}}, "latent_dim must be an integer"),
])
def test_bad_files_are_refused_naming_file_and_field(tmp_path, obj, message):
    path = write(tmp_path, obj)
    with pytest.raises(ConfigFileError) as e:
        read_config_file(str(path))
    assert message in str(e.value) and str(path) in str(e.value)


def test_a_missing_file_lists_the_shipped_networks(tmp_path):
    with pytest.raises(ConfigFileError, match="coursera"):
        read_config_file(str(tmp_path / "nope.json"))


def test_shipped_files_are_valid_and_documented():
    for path in SHIPPED.glob("*.json"):
        _, _, settings = read_config_file(str(path))
        assert len(settings["about"]) > 80, path          # says where the network comes from


@pytest.mark.parametrize("args, message", [
    (["--model", "dcgan"], "contradicts"),
    (["--resume", "x/checkpoint.npz"], "--config starts a new run"),
    (["--upsample", "nearest"], "--upsample is for --model dcgan"),
])
def test_contradicting_flags_are_refused(tmp_path, capsys, args, message):
    code, _, err = demo(capsys, "--config", "coursera", "--out", tmp_path / "r", *args)
    assert code == 2 and message in err
    assert not (tmp_path / "r").exists()


def test_a_network_for_other_images_is_refused(tmp_path, capsys):
    path = write(tmp_path, {"model": {"image_dim": 100}})
    code, _, err = demo(capsys, "--config", path, "--out", tmp_path / "r")
    assert code == 2 and "784" in err and "100" in err


def test_an_images_run_repeats_from_its_config_json_without_path(tmp_path, capsys, no_plots):
    """The images demo records its PATH in config.json; --config brings it back, bit for bit,
    and a shipped network takes the data's colour shape (the file gives no image fields)."""
    from PIL import Image
    import npgan.demos.images as images_demo
    rng = np.random.default_rng(0)
    (tmp_path / "pics").mkdir()
    for i in range(40):
        Image.fromarray(rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)).save(
            tmp_path / "pics" / f"{i:02d}.png")
    common = ["--max-steps", "4", "--batch-size", "8", "--eval-samples", "0", "--quiet"]
    assert images_demo.main([str(tmp_path / "pics"), "--config", "coursera", "--out",
                             str(tmp_path / "a"), *common]) == 0
    info = json.loads((tmp_path / "a" / "config.json").read_text())
    assert info["model"]["image_shape"] == [3, 8, 8] and info["model"]["output"] == "sigmoid"
    assert images_demo.main(["--config", str(tmp_path / "a" / "config.json"), "--out",
                             str(tmp_path / "b"), *common]) == 0, capsys.readouterr().err
    (a, _), (b, _) = (load_checkpoint(tmp_path / f / "checkpoint.npz") for f in "ab")
    assert sorted(a) == sorted(b) and all(np.array_equal(a[k], b[k]) for k in a)
    assert images_demo.main([str(tmp_path / "pics"), "--max-images", "24", "--out",
                             str(tmp_path / "c"), *common]) == 0
    assert images_demo.main([str(tmp_path / "pics"), "--config", str(tmp_path / "c"), "--out",
                             str(tmp_path / "d"), *common]) == 0     # a PATH given: its own flags
    data = json.loads((tmp_path / "d" / "config.json").read_text())["data"]
    assert data["max_images"] is None


def test_a_network_too_big_for_the_demos_is_refused(tmp_path, capsys):
    path = write(tmp_path, {"model": {"g_hidden": [100000, 100000]}})
    code, _, err = demo(capsys, "--config", path, "--out", tmp_path / "r")
    assert code == 2 and "10,010,000,000 weights" not in err and "weights, more than" in err
    assert not (tmp_path / "r").exists()


def test_a_conditional_network_for_other_classes_is_refused(tmp_path, capsys):
    path = write(tmp_path, {"model": {"num_classes": 5}})
    code, _, err = demo(capsys, "--config", path, "--out", tmp_path / "r")
    assert code == 2 and "5 classes (num_classes), but mnist has 10" in err


def test_a_shipped_network_trains_into_its_own_folder_and_a_run_folder_is_a_config(
        tmp_path, capsys, monkeypatch, no_plots):
    data = write_data_dir(tmp_path / "data", n=64)
    monkeypatch.chdir(tmp_path)
    code, _, err = demo(capsys, "--config", "coursera", "--data-dir", data, "--batch-size", 16,
                        "--max-steps", 2, "--quiet")
    assert code == 0, err
    run = tmp_path / "runs" / "mnist_coursera"
    assert (run / "checkpoint.npz").is_file()          # not runs/mnist, the default run's
    code, _, err = demo(capsys, "--config", run, "--data-dir", data, "--out", "again",
                        "--max-steps", 2, "--quiet")
    assert code == 0, err
    info = json.loads((tmp_path / "again" / "config.json").read_text())
    assert info["config_file"] == str(run / "config.json") and info["model"]["latent_dim"] == 10


def test_overwrite_removes_the_old_runs_pictures(tmp_path, capsys):
    data = write_data_dir(tmp_path / "data", n=64)
    out = tmp_path / "r"
    common = ["--data-dir", data, "--out", out, "--batch-size", 16, "--quiet"]
    assert demo(capsys, *common, "--epochs", 3)[0] == 0                  # 3 epochs of 4 steps
    assert (out / "samples_epoch_003.png").is_file() and (out / "progress.gif").is_file()
    code, _, err = demo(capsys, *common, "--max-steps", 2, "--overwrite")   # under one epoch
    assert code == 0, err
    assert not list(out.glob("samples_epoch_*.png")) and not (out / "progress.gif").exists()
    assert (out / "samples.png").is_file() and (out / "checkpoint.npz").is_file()
    assert (out / "log.txt").read_text().count("start:") == 2
