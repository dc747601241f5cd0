"""A run of many tiny epochs writes at most MAX_EPOCH_OUTPUTS grids (and checks and
checkpoints), the last epoch's included; a run of few epochs writes one after each."""

import numpy as np

from npgan.animate import is_grey
from npgan.run import MAX_EPOCH_OUTPUTS, Run
from npgan.train import GANTrainer
from PIL import Image
from small_runs import INFO, SMALL, small_images


def epochs_written(folder):
    return sorted(int(p.stem.split("_")[-1]) for p in folder.glob("samples_epoch_*.png"))


def test_many_tiny_epochs_write_at_most_max_epoch_outputs(tmp_path, monkeypatch):
    monkeypatch.setattr("npgan.run.save_loss_curves", lambda *a, **k: None)
    monkeypatch.setattr("npgan.run.save_health_curves", lambda *a, **k: None)
    written = []
    monkeypatch.setattr(Run, "save_samples", lambda self, name, title: written.append(name))
    epochs = 3 * MAX_EPOCH_OUTPUTS - 10                     # 140: every 3rd, and the last
    run = Run(GANTrainer(SMALL, seed=0), small_images(32), str(tmp_path), batch_size=32,
              epochs=epochs, quiet=True, info=INFO)
    run.train()
    grids = [int(n[len("samples_epoch_"):-4]) for n in written if n.startswith("samples_epoch")]
    assert grids == list(range(3, epochs, 3)) + [epochs]
    assert len(grids) <= MAX_EPOCH_OUTPUTS
    assert run.history["health_step"] == [e * 1 for e in grids]      # 1 step an epoch


def test_few_epochs_write_one_grid_each(tmp_path, monkeypatch):
    monkeypatch.setattr("npgan.run.save_loss_curves", lambda *a, **k: None)
    run = Run(GANTrainer(SMALL, seed=0), small_images(64), str(tmp_path), batch_size=32,
              epochs=3, quiet=True, info=INFO)
    run.train()
    assert epochs_written(tmp_path) == [1, 2, 3]


def test_is_grey():
    grey = Image.fromarray(np.full((4, 4, 3), 77, np.uint8))
    colour = np.full((4, 4, 3), 77, np.uint8)
    colour[1, 2, 0] = 78
    assert is_grey(grey) and not is_grey(Image.fromarray(colour))


def test_colour_frames_keep_their_colours_in_the_gif(tmp_path):
    from npgan.animate import save_gif
    rng = np.random.default_rng(0)
    frames = []
    for k in range(2):                          # smooth colour gradients, many colours
        y, x = np.mgrid[0:64, 0:64]
        img = np.stack([4 * x, 4 * y, (2 * x + 2 * y + 60 * k) % 256], -1).astype(np.uint8)
        img[rng.integers(0, 64, 50), rng.integers(0, 64, 50)] = 255
        frames.append(tmp_path / f"f{k}.png")
        Image.fromarray(img).save(frames[-1])
    save_gif(frames, tmp_path / "a.gif")
    with Image.open(tmp_path / "a.gif") as gif:
        gif.seek(0)
        got = np.asarray(gif.convert("RGB"), dtype=float)
    want = np.asarray(Image.open(frames[0]).convert("RGB"), dtype=float)
    assert np.abs(got - want).mean() < 4                    # of 255 levels
