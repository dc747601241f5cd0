"""Tests for npgan.animate: progress.gif decoded frame by frame and compared with the grids it
was made from (order, timing, loop, sizes, palette), atomic writes, every error of the
command line, and the GIF a Run writes at its end."""

import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import npgan.run
from npgan.animate import AnimationError, epoch_grids, main, save_gif, save_progress_gif
from npgan.data import scale_images
from npgan.plots import save_image_grid
from npgan.train import GANTrainer
from small_runs import INFO, SMALL, mnist_test_split, run_cli, small_images


def write_frames(folder, epochs, size=(60, 40)):
    """One PNG per epoch, ``samples_epoch_{epoch:03d}.png``, each with its own known content:
    frame k (k-th in ``epochs``, k < 15) is grey level 15 k + 10 with a black bar at columns
    4k to 4k + 3. Returns {epoch: (h, w, 3) uint8 array}."""
    written = {}
    for k, epoch in enumerate(epochs):
        pixels = np.full((size[1], size[0], 3), 15 * k + 10, np.uint8)
        pixels[:, 4 * k:4 * k + 4] = 0
        Image.fromarray(pixels).save(folder / f"samples_epoch_{epoch:03d}.png")
        written[epoch] = pixels
    return written


def decode(path):
    """A GIF's frames as (h, w, 3) uint8 arrays, their durations in ms, and its loop count
    (None: no loop extension, the GIF plays once)."""
    with Image.open(path) as gif:
        loop = gif.info.get("loop")
        frames, durations = [], []
        for i in range(gif.n_frames):
            gif.seek(i)
            frames.append(np.asarray(gif.convert("RGB")))
            durations.append(gif.info["duration"])
    return frames, durations, loop


def test_frames_come_in_epoch_order_by_number(tmp_path):
    epochs = [1, 2, 9, 10, 99, 100, 101, 999, 1000, 1001]     # "1000" < "101" as text
    written = write_frames(tmp_path, epochs)
    for name in ("samples.png", "samples_epoch_x.png", "samples_epoch_003.png.bak",
                 "samples_epoch_004.jpg", "losses.png"):
        (tmp_path / name).write_bytes(b"not a frame")           # none of these is a grid
    assert [e for e, _ in epoch_grids(tmp_path)] == epochs
    assert [e for e, _ in epoch_grids(tmp_path, last_epoch=100)] == epochs[:6]
    path = save_progress_gif(tmp_path)
    assert path == os.path.join(tmp_path, "progress.gif")
    frames, _, _ = decode(path)
    assert len(frames) == len(epochs)
    for frame, epoch in zip(frames, epochs):
        np.testing.assert_array_equal(frame, written[epoch])    # 2 colours: exact


def test_loops_forever_with_the_frame_times_asked_for(tmp_path):
    write_frames(tmp_path, range(1, 16))
    _, durations, loop = decode(save_progress_gif(tmp_path))
    assert loop == 0                                            # 0: forever
    assert durations == [250] * 14 + [2000]                     # 4 fps, last held 2 s
    assert sum(durations) / 1000 == 5.5                         # a 15-epoch run: 5.5 s
    _, durations, _ = decode(save_progress_gif(tmp_path, fps=5, hold=0.5))
    assert durations == [200] * 14 + [500]


def test_one_frame_is_a_gif_of_one_frame(tmp_path):
    written = write_frames(tmp_path, [7])
    frames, durations, _ = decode(save_progress_gif(tmp_path, hold=1))
    assert len(frames) == 1 and durations == [1000]
    np.testing.assert_array_equal(frames[0], written[7])


def test_no_grid_writes_nothing(tmp_path):
    write_frames(tmp_path, [3, 4])
    assert save_progress_gif(tmp_path, last_epoch=2) is None
    assert sorted(os.listdir(tmp_path)) == ["samples_epoch_003.png", "samples_epoch_004.png"]
    with pytest.raises(ValueError, match="at least one frame"):
        save_gif([], tmp_path / "a.gif")


def test_frames_of_other_sizes_are_centred_on_white(tmp_path):
    big = write_frames(tmp_path, [1], size=(60, 40))[1]
    small = np.zeros((20, 30, 3), np.uint8)                     # black, 30 x 20
    Image.fromarray(small).save(tmp_path / "samples_epoch_002.png")
    frames, _, _ = decode(save_progress_gif(tmp_path))
    assert [f.shape for f in frames] == [(40, 60, 3)] * 2       # the largest frame's size
    np.testing.assert_array_equal(frames[0], big)
    expected = np.full((40, 60, 3), 255, np.uint8)
    expected[10:30, 15:45] = 0                                  # centred, not resampled
    np.testing.assert_array_equal(frames[1], expected)


def test_transparent_pixels_become_white(tmp_path):
    rgba = np.zeros((10, 10, 4), np.uint8)                      # transparent black...
    rgba[:5, :, 3] = 255                                        # ...opaque in the top half
    Image.fromarray(rgba, "RGBA").save(tmp_path / "samples_epoch_001.png")
    (frame,), _, _ = decode(save_progress_gif(tmp_path))
    assert (frame[:5] == 0).all() and (frame[5:] == 255).all()


def test_colors_bounds_the_palette_and_scale_shrinks(tmp_path):
    ramp = np.tile(np.arange(256, dtype=np.uint8), (50, 1))     # 256 greys, 256 x 50
    for epoch in (1, 2):
        Image.fromarray(np.roll(ramp, 40 * epoch, axis=1)).save(
            tmp_path / f"samples_epoch_{epoch:03d}.png")
    frames, _, _ = decode(save_progress_gif(tmp_path, colors=8))
    for frame, epoch in zip(frames, (1, 2)):
        assert len(np.unique(frame.reshape(-1, 3), axis=0)) <= 8
        error = np.abs(frame[..., 0].astype(int) - np.roll(ramp, 40 * epoch, axis=1))
        assert error.max() <= 32                                # 8 levels over 256: ~16 each
    frames, _, _ = decode(save_progress_gif(tmp_path, scale=0.5))
    assert frames[0].shape == (25, 128, 3)


def test_an_mnist_grid_of_15_epochs_stays_small(tmp_path):
    """The README stores one: 15 frames of the demo's 8 x 8 grid, as save_image_grid draws
    them (MNIST test digits stand in for G's samples), take well under 1.5 MB."""
    images = scale_images(mnist_test_split()[0][:15 * 64]).reshape(15, 64, 28, 28)
    for e in range(15):
        save_image_grid(images[e], tmp_path / f"samples_epoch_{e + 1:03d}.png",
                        title=f"epoch {e + 1}, step {937 * (e + 1)}")
    full = os.path.getsize(save_progress_gif(tmp_path))
    half = os.path.getsize(save_progress_gif(tmp_path, tmp_path / "half.gif", scale=0.5))
    assert 0.1e6 < full < 1.5e6
    assert half < 0.8 * full


def test_written_atomically(tmp_path, monkeypatch):
    write_frames(tmp_path, [1, 2])
    path = save_progress_gif(tmp_path)
    names = {"samples_epoch_001.png", "samples_epoch_002.png", "progress.gif"}
    assert set(os.listdir(tmp_path)) == names                   # no temporary file left
    before = Path(path).read_bytes()
    write_frames(tmp_path, [3])

    def crash(self, f, **kwargs):
        f.write(b"GIF89a half a file")
        raise RuntimeError("killed while writing")
    monkeypatch.setattr(Image.Image, "save", crash)
    with pytest.raises(RuntimeError, match="killed"):
        save_progress_gif(tmp_path)
    assert Path(path).read_bytes() == before                    # the old GIF, whole
    assert set(os.listdir(tmp_path)) == names | {"samples_epoch_003.png"}


@pytest.fixture
def run_dir(tmp_path, monkeypatch):
    """A folder of three grids (epochs 1 to 3), the working directory."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "run").mkdir()
    write_frames(tmp_path / "run", [1, 2, 3])
    (tmp_path / "afile").write_text("x")
    (tmp_path / "empty").mkdir()
    (tmp_path / "bad").mkdir()
    write_frames(tmp_path / "bad", [1, 3])
    (tmp_path / "bad" / "samples_epoch_002.png").write_bytes(b"\x89PNG\r\n\x1a\nbroken")
    (tmp_path / "cut").mkdir()
    noise = np.random.default_rng(0).integers(0, 256, (100, 100), dtype=np.uint8)
    Image.fromarray(noise).save(tmp_path / "cut" / "samples_epoch_001.png")
    whole = (tmp_path / "cut" / "samples_epoch_001.png").read_bytes()
    (tmp_path / "cut" / "samples_epoch_002.png").write_bytes(whole[:len(whole) // 2])
    return tmp_path


CLI_ERRORS = {   # name: (arguments, what stderr must say)
    "no such folder": (["nowhere"], "error: the run folder nowhere does not exist"),
    "a file, not a folder": (["afile"], "error: the run folder afile is not a folder"),
    "no grids": (["empty"], "error: empty holds no samples_epoch_*.png"),
    "corrupt PNG": (["bad"], "cannot read the frame bad/samples_epoch_002.png"),
    "truncated PNG": (["cut"], "cannot read the frame cut/samples_epoch_002.png"),
    "not a .gif": (["run", "-o", "run/movie.mp4"], "-o must end in .gif, got 'run/movie.mp4'"),
    "no suffix": (["run", "-o", "progress"], "-o must end in .gif, got 'progress'"),
    "no folder for -o": (["run", "-o", "nowhere/p.gif"], "cannot write nowhere/p.gif: folder"),
    "fps 0": (["run", "--fps", "0"], "--fps must be from 0.01 to 50 frames a second, got 0.0"),
    "fps 60": (["run", "--fps", "60"], "--fps must be from 0.01 to 50"),
    "fps nan": (["run", "--fps", "nan"], "--fps must be from 0.01 to 50 frames a second, got nan"),
    "fps a word": (["run", "--fps", "fast"], "argument --fps: invalid float value: 'fast'"),
    "hold negative": (["run", "--hold", "-1"], "--hold must be from 0.02 to 600 seconds, got -1"),
    "scale 2": (["run", "--scale", "2"], "--scale must be in (0, 1] (it shrinks frames), got 2"),
    "scale 0": (["run", "--scale", "0"], "--scale must be in (0, 1]"),
    "colors 1": (["run", "--colors", "1"], "--colors must be from 2 to 256"),
    "colors 300": (["run", "--colors", "300"], "--colors must be from 2 to 256"),
}


@pytest.mark.parametrize("case", CLI_ERRORS)
def test_cli_rejects(run_dir, capsys, case):
    args, message = CLI_ERRORS[case]
    before = {p: sorted(os.listdir(p)) for p in (".", "run", "bad", "cut", "empty")}
    try:
        code = main(args)
    except SystemExit as e:                                     # argparse's error()
        code = e.code
    assert code == 2
    assert message in capsys.readouterr().err
    assert {p: sorted(os.listdir(p)) for p in before} == before  # nothing written


def test_cli_writes_the_gif(run_dir, capsys):
    assert main(["run"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("wrote 3 frames (epoch 1 to 3) to run/progress.gif, ")
    assert len(decode(run_dir / "run" / "progress.gif")[0]) == 3
    assert main(["run", "-o", "fast.GIF", "--fps", "10", "--hold", "1", "--scale", "0.5"]) == 0
    frames, durations, loop = decode(run_dir / "fast.GIF")
    assert durations == [100, 100, 1000] and loop == 0 and frames[0].shape == (20, 30, 3)


def test_cli_from_the_command_line(run_dir):
    result = run_cli("npgan.animate", "--help", cwd=run_dir)
    assert result.returncode == 0
    assert "samples_epoch_NNN.png" in result.stdout and "--scale" in result.stdout
    result = run_cli("npgan.animate", "bad", cwd=run_dir)
    assert result.returncode == 2
    assert "bad/samples_epoch_002.png" in result.stderr and "Traceback" not in result.stderr


def test_a_run_writes_progress_gif_of_its_epochs(tmp_path):
    """Three epochs of 2 steps: progress.gif holds the three grids in order. A stale grid of
    a longer run that used the folder before is left out."""
    write_frames(tmp_path, [9])
    run = npgan.run.Run(GANTrainer(SMALL, seed=1), small_images(64), str(tmp_path),
                        batch_size=32, epochs=3, quiet=True, info=INFO)
    run.train()
    frames, durations, loop = decode(tmp_path / "progress.gif")
    assert len(frames) == 3 and loop == 0 and durations == [250, 250, 2000]
    grids = []
    for e in (1, 2, 3):
        with Image.open(tmp_path / f"samples_epoch_{e:03d}.png") as im:
            grids.append(np.asarray(im.convert("RGB"), dtype=int))
    for k, frame in enumerate(frames):
        errors = [np.abs(frame - grid).mean() for grid in grids]
        assert errors[k] < 1.0                                  # 64 colours: close
        assert np.argmin(errors) == k                           # and closest to its own grid
    assert not [n for n in os.listdir(tmp_path) if n.endswith(".tmp")]


def test_a_run_shorter_than_an_epoch_writes_no_gif(tmp_path):
    run = npgan.run.Run(GANTrainer(SMALL, seed=1), small_images(64), str(tmp_path),
                        batch_size=32, epochs=3, max_steps=1, quiet=True, info=INFO)
    run.train()
    names = set(os.listdir(tmp_path))
    assert {"samples.png", "losses.png", "checkpoint.npz"} <= names
    assert "progress.gif" not in names and not [n for n in names if "epoch" in n]


def test_a_bad_frame_is_an_animation_error(tmp_path):
    (tmp_path / "samples_epoch_001.png").write_bytes(b"GIF89a")  # a name that lies
    with pytest.raises(AnimationError, match="samples_epoch_001.png"):
        save_progress_gif(tmp_path)
    assert os.listdir(tmp_path) == ["samples_epoch_001.png"]
