"""InfoGAN's code head (Chen et al. 2016; npgan/train.py): D's extra outputs guess which
mixture component drew z, and both steps add info_weight * L_I. Gradients against finite
differences of the loss written out, fast step against plain, the config's checks, a
checkpoint round trip, and that Q and G really learn the codes."""

import json

import numpy as np
import pytest

from npgan.demos.flags import INFO_CODES
from npgan.latent import code_grid, draw_latent
from npgan.losses import bce_with_logits, softmax_cross_entropy
from npgan.models import DCGANConfig, GANConfig
from npgan.run import fixed_noise
from npgan.run_state import load_run
from npgan.sample import slerp, within_component
from npgan.train import GANTrainer
from conftest import TOL, check_grads_before_step, record_error
from small_runs import demo, sample, small_checkpoint

SMALL = dict(latent_dim=5, latent_components=3, info_weight=0.7, g_hidden=(5, 6),
             d_hidden=(6, 4), image_dim=4)
CONFIGS = {    # D without BatchNorm: the fast step's joint [real; fake] batch; with: two batches
    "infogan": GANConfig(**SMALL),
    "infogan, BatchNorm in D": GANConfig(**SMALL, d_batchnorm="all"),
}


def trainer_with_fixed_noise(cfg, fast, rng, n=6):
    """A float64 trainer whose next step draws ``z`` (returned), and a real batch."""
    t = GANTrainer(cfg, seed=1, dtype=np.float64, fast=fast)
    z = draw_latent(cfg, rng, n)
    t.noise = lambda _: z
    return t, z, rng.uniform(-1, 1, (n, cfg.image_dim))


def info_loss(out, z, cfg):
    """L_I, written out: the cross-entropy of Q's logits (D's outputs after the first)
    against the component that drew each z."""
    return softmax_cross_entropy(out[:, 1:], z[:, :cfg.latent_components].argmax(axis=1))[0]


@pytest.mark.gradcheck
@pytest.mark.parametrize("fast", [False, True])
@pytest.mark.parametrize("name", CONFIGS)
def test_the_d_step_descends_l_d_plus_weighted_l_i(name, fast):
    """D's gradient as the trainer hands it to Adam, against finite differences of
    BCE(D(real)_0, 1) + BCE(D(fake)_0, 0) + w * L_I(D(fake)_1.., c)."""
    cfg, rng = CONFIGS[name], np.random.default_rng(3)
    t, z, real = trainer_with_fixed_noise(cfg, fast, rng)
    fake = t.G(z)                                   # the step's fakes: G has not moved yet
    for m in t.G.modules():
        m.cache = None

    def loss():
        out_fake = t.D(fake)
        return (bce_with_logits(t.D(real)[:, :1], 1.0)[0]
                + bce_with_logits(out_fake[:, :1], 0.0)[0]
                + cfg.info_weight * info_loss(out_fake, z, cfg))
    errors = check_grads_before_step(t, "D", loss)
    stats = t.train_step(real)
    assert len(errors) == len(t.D.parameters())
    assert 0 < stats["info_loss"] < 10
    record_error(f"{name}: trainer's D step with InfoGAN's L_I", max(errors))
    assert max(errors) < TOL


@pytest.mark.gradcheck
@pytest.mark.parametrize("fast", [False, True])
def test_the_g_step_descends_l_g_plus_weighted_l_i(fast):
    """G's gradient in the G step (D already updated) against finite differences of
    BCE(D(G(z))_0, 1) + w * L_I(D(G(z))_1.., c)."""
    cfg, rng = CONFIGS["infogan"], np.random.default_rng(4)
    t, z, real = trainer_with_fixed_noise(cfg, fast, rng)

    def loss():
        out = t.D(t.G(z))
        return bce_with_logits(out[:, :1], 1.0)[0] + cfg.info_weight * info_loss(out, z, cfg)
    errors = check_grads_before_step(t, "G", loss)
    t.train_step(real)
    assert len(errors) == len(t.G.parameters())
    record_error("infogan: trainer's G step with L_I", max(errors))
    assert max(errors) < TOL


@pytest.mark.parametrize("name", CONFIGS)
def test_fast_step_equals_the_plain_one(name):
    cfg, rng = CONFIGS[name], np.random.default_rng(5)
    real = rng.uniform(-1, 1, (8, cfg.image_dim))
    fast, plain = (GANTrainer(cfg, seed=4, dtype=np.float64, fast=f) for f in (True, False))
    for _ in range(3):
        a, b = fast.train_step(real), plain.train_step(real)
        assert set(a) == {"d_loss", "g_loss", "d_real", "d_fake", "info_loss"}
        for key in a:
            assert a[key] == pytest.approx(b[key], rel=1e-12), key
    for (key, a), b in zip(fast.device_state().items(), plain.device_state().values()):
        assert np.allclose(a, b, rtol=1e-10, atol=1e-13), key


def test_d_has_one_verdict_and_k_code_logits():
    """D's last layer is 1 + K wide for both model families, and d_real / d_fake read the
    verdict alone: huge Q logits leave them where they were."""
    for cfg in (GANConfig(**SMALL),
                DCGANConfig(latent_components=4, info_weight=1.0, g_channels=(2, 2),
                            d_channels=(2, 2), d_hidden=(3,))):
        t = GANTrainer(cfg, seed=0, dtype=np.float64)
        assert t.D(np.zeros((2, cfg.image_dim))).shape == (2, 1 + cfg.latent_components)
    t = GANTrainer(GANConfig(**SMALL), seed=0, dtype=np.float64, fast=False)
    last = t.D.layers[-1]
    last.bias.data[1:] = 1e6                       # Q's logits far from 0, the verdict's not
    stats = t.train_step(np.zeros((4, 4)))
    assert 0.1 < stats["d_real"] < 0.9 and 0.1 < stats["d_fake"] < 0.9


@pytest.mark.parametrize("fields, message", [
    (dict(info_weight=1.0), "needs latent_components >= 2"),
    (dict(info_weight=1.0, latent_components=1), "needs latent_components >= 2"),
    (dict(info_weight=-0.5, latent_components=3), "info_weight must be >= 0"),
    (dict(info_weight=1.0, latent_components=3, num_classes=3), "for a plain GAN"),
])
def test_config_refuses_what_it_cannot_build(fields, message):
    with pytest.raises(ValueError, match=message):
        GANConfig(latent_dim=5, **fields)
    with pytest.raises(ValueError, match=message):
        DCGANConfig(latent_dim=5, **fields)


def test_a_checkpoint_continues_the_run_exactly():
    cfg, rng = GANConfig(**SMALL), np.random.default_rng(6)
    real = rng.uniform(-1, 1, (8, cfg.image_dim))
    a = GANTrainer(cfg, seed=3, dtype=np.float64)
    for _ in range(2):
        a.train_step(real)
    b = GANTrainer.from_state(*a.state())
    assert b.cfg.info_weight == cfg.info_weight
    assert a.train_step(real) == b.train_step(real)


def test_q_and_g_learn_to_tell_the_codes_apart():
    """The point of L_I: after a short run the code that drew a fake can be read off it.
    L_I starts near log K (Q guessing among K codes) and must fall below a tenth of it
    (measured: 1.09 over the first 100 steps, 0.07 over the last 100 of 800)."""
    rng = np.random.default_rng(7)
    data = rng.uniform(-1, 1, (64, 4))
    t = GANTrainer(GANConfig(**{**SMALL, "info_weight": 1.0}), seed=0, dtype=np.float64, lr=1e-3)
    losses = [t.train_step(data[rng.permutation(64)[:16]])["info_loss"] for _ in range(800)]
    log_k = np.log(SMALL["latent_components"])
    assert np.mean(losses[:100]) > 0.9 * log_k
    assert np.mean(losses[-100:]) < 0.1 * log_k


# -- the demos and npgan.sample ------------------------------------------------------------

def test_code_grid_rows_are_codes_and_columns_share_their_noise():
    cfg = GANConfig(latent_dim=7, latent_components=3, info_weight=1.0, latent_std=0.5)
    z = code_grid(cfg, np.random.default_rng(0), 4)
    assert z.shape == (12, 7)
    np.testing.assert_array_equal(z[:, :3].argmax(axis=1), np.repeat(np.arange(3), 4))
    assert (z[:, :3].sum(axis=1) == 1).all()
    np.testing.assert_array_equal(z[:4, 3:], z[8:, 3:])         # column j: one noise
    assert len(np.unique(z[:4, 3:], axis=0)) == 4


def test_the_info_flag_trains_and_samples_a_code_grid(capsys, tmp_path):
    """--info W builds the code head (10 codes unless a config file says otherwise), the
    epoch grids and npgan.sample draw one row per code, --code draws one code, and a resumed
    run refuses another weight."""
    code, _, err = demo(capsys, "--info", "0.3", "--max-steps", "2", "--batch-size", "8",
                        "--out", tmp_path / "run")
    assert code == 0, err
    model = json.loads((tmp_path / "run" / "config.json").read_text())["model"]
    assert (model["info_weight"], model["latent_components"]) == (0.3, INFO_CODES)
    ckpt = tmp_path / "run" / "checkpoint.npz"
    assert load_run(ckpt)[0].D.layers[-1].weight.shape[1] == 1 + INFO_CODES
    code, out, err = sample(capsys, ckpt, "-o", tmp_path / "grid.npy", "-n", "25")
    assert code == 0, err
    assert np.load(tmp_path / "grid.npy").shape == (30, 28, 28)    # 10 rows of 3 columns
    assert ("wrote 30 samples to" in out and "(-n 25 rounded up to whole columns of the 10-row "
            "code grid; --code K draws exactly -n)" in out)
    code, out, err = sample(capsys, ckpt, "-o", tmp_path / "one.npy", "-n", "5", "--code", "4")
    assert code == 0 and "wrote 5 samples" in out and "rounded" not in out, err
    code, _, err = sample(capsys, ckpt, "--code", "10", "-o", tmp_path / "x.png")
    assert code == 2 and "--code must be a code from 0 to 9, got 10" in err
    code, _, err = demo(capsys, "--resume", ckpt, "--info", "0.5", "--max-steps", "3")
    assert code == 2 and "--info 0.5 contradicts the checkpoint's 0.3" in err


def test_code_is_refused_where_there_are_no_codes(capsys, tmp_path):
    ckpt = small_checkpoint(tmp_path)
    code, _, err = sample(capsys, ckpt, "--code", "1", "-o", tmp_path / "x.png")
    assert code == 2 and "was not trained with InfoGAN's codes (--info)" in err


def test_info_with_conditional_is_an_error_that_names_the_setting(capsys, tmp_path):
    code, _, err = demo(capsys, "--info", "1", "--conditional", "--max-steps", "1",
                        "--out", tmp_path / "run")
    assert code == 2 and "--info 1 is for a GAN without --conditional" in err


def test_mnists_plain_default_has_the_code_head_and_nothing_else_does(capsys, tmp_path):
    """demos/flags.py PLAIN_MODEL: the fully connected plain GAN on MNIST gets 10 codes and
    weight 0.1 (README "Results"), DCGAN_PLAIN_MODEL the plain DCGAN 10 codes and weight 0.3;
    --info 0 gives the plain N(0, I) network back, and --conditional and a --config network
    get no codes. The start line says when a run has them (a user did not ask for them)."""
    said = []

    def model(*flags):
        out = tmp_path / str(len(list(tmp_path.iterdir())))
        code, stdout, err = demo(capsys, "--max-steps", "1", "--batch-size", "8", "--out", out,
                                 *flags)
        assert code == 0, err
        said.append(stdout.splitlines()[0])
        return json.loads((out / "config.json").read_text())["model"]
    default = model()
    assert (default["info_weight"], default["latent_components"]) == (0.1, 10)
    assert said[-1].startswith("npgan: training a GAN with InfoGAN's 10 codes (--info 0.1) on")
    m = model("--model", "dcgan")
    assert (m["info_weight"], m["latent_components"]) == (0.3, 10)
    assert said[-1].startswith("npgan: training a DCGAN with InfoGAN's 10 codes (--info 0.3) on")
    for flags in (("--info", "0"), ("--conditional",), ("--model", "dcgan", "--info", "0"),
                  ("--model", "dcgan", "--conditional"), ("--config", "relu_dropout_d"),
                  ("--config", "dcgan_without_fc")):
        m = model(*flags)
        assert (m["info_weight"], m["latent_components"]) == (0, 0), flags
        assert "codes" not in said[-1]
    m = model("--config", "relu_dropout_d", "--info", "0.5")       # the flag adds it anywhere
    assert (m["info_weight"], m["latent_components"]) == (0.5, 10)


@pytest.mark.parametrize("code", [None, 2])
def test_a_walk_keeps_its_component_and_walks_the_rest(code):
    """npgan.sample --interpolate on a mixture: the one-hot part stays a's component (or
    --code's) at every step, and the Gaussian part runs from a's to b's, exactly at the ends."""
    rng = np.random.default_rng(0)
    cfg = GANConfig(latent_dim=8, latent_components=3, info_weight=1.0)
    a, b = draw_latent(cfg, rng, 2)
    z = within_component(slerp, a, b, np.linspace(0, 1, 5), 3, code)
    want = a[:3].argmax() if code is None else code
    assert z.shape == (5, 8)
    np.testing.assert_array_equal(z[:, :3], np.tile(np.arange(3) == want, (5, 1)))
    np.testing.assert_array_equal(z[0, 3:], a[3:])
    np.testing.assert_allclose(z[-1, 3:], b[3:], rtol=1e-12)


def test_the_sample_command_walks_an_infogan_checkpoint(capsys, tmp_path):
    code, _, err = demo(capsys, "--info", "0.3", "--max-steps", "1", "--batch-size", "8",
                        "--out", tmp_path / "run")
    assert code == 0, err
    code, out, err = sample(capsys, tmp_path / "run" / "checkpoint.npz", "--interpolate",
                            "-n", "3", "--steps", "4", "--code", "1", "-o", tmp_path / "w.npy")
    assert code == 0 and "wrote 12 samples" in out, err


def test_the_codes_need_room_in_z_and_a_config_file_may_carry_zero_components(capsys, tmp_path):
    """--latent-dim at or below the 10 codes is an error that says so (the default network
    puts them in z); --info W on a run's own config.json, which records latent_components 0,
    gives the codes all the same."""
    code, _, err = demo(capsys, "--latent-dim", "10", "--max-steps", "1", "--out", tmp_path / "a")
    assert code == 2 and "--latent-dim 10 leaves no noise beside the 10 InfoGAN codes" in err
    assert "--info 0" in err
    code, _, err = demo(capsys, "--info", "0", "--max-steps", "1", "--batch-size", "8",
                        "--out", tmp_path / "b")
    assert code == 0, err
    code, _, err = demo(capsys, "--config", tmp_path / "b" / "config.json", "--info", "0.2",
                        "--max-steps", "1", "--out", tmp_path / "c")
    assert code == 0, err
    model = json.loads((tmp_path / "c" / "config.json").read_text())["model"]
    assert (model["info_weight"], model["latent_components"]) == (0.2, INFO_CODES)


@pytest.mark.parametrize("K, shape", [(2, (20, 7)), (10, (100, 13)), (30, (90, 33))])
def test_the_epoch_grid_has_a_row_per_code(K, shape):
    """npgan.run.fixed_noise: K rows of 10 columns, fewer past 10 codes (100 // K)."""
    t = GANTrainer(GANConfig(latent_dim=shape[1], latent_components=K, info_weight=0.1,
                             g_hidden=(4,), d_hidden=(4,), image_dim=4), seed=0)
    z, labels = fixed_noise(t)
    assert z.shape == shape and labels is None
    np.testing.assert_array_equal(z[:, :K].argmax(axis=1), np.repeat(np.arange(K), shape[0] // K))


def test_a_conditional_mixture_checkpoint_walks_too(capsys, tmp_path):
    """A cGAN whose z is a mixture (no code head): --interpolate walks one path for every class
    with the labels it needs, and --label on an InfoGAN checkpoint points to --code."""
    cfg = GANConfig(latent_dim=16, latent_components=4, g_hidden=(32,), d_hidden=(32,),
                    num_classes=10)
    ckpt = small_checkpoint(tmp_path, cfg=cfg, labels=np.arange(64) % 10)
    code, out, err = sample(capsys, ckpt, "--interpolate", "--steps", "3", "-o", tmp_path / "w.npy")
    assert code == 0 and "wrote 30 samples" in out, err
    code, _, err = demo(capsys, "--info", "0.3", "--max-steps", "1", "--batch-size", "8",
                        "--out", tmp_path / "run")
    code, _, err = sample(capsys, tmp_path / "run" / "checkpoint.npz", "--label", "1")
    assert code == 2 and "chosen with --code" in err
