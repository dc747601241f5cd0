"""``python -m npgan.demos.gallery``: every picture is copied from the run that wrote it, and a
command that fails is reported, not hidden."""

import npgan.demos.gallery as gallery
from small_runs import write_data_dir


def test_gallery_copies_what_each_command_wrote(tmp_path, monkeypatch, capsys):
    data = write_data_dir(tmp_path / "data", n=64)
    small = ["--data-dir", str(data), "--batch-size", "16", "--max-steps", "4",
             "--eval-samples", "0"]
    monkeypatch.setattr(gallery, "COMMANDS", [
        ("tiny", ["npgan.demos.mnist", *small], [("samples.png", "tiny_samples.png"),
                                                  ("losses.png", "tiny_losses.png")]),
        ("broken", ["npgan.demos.mnist", "--epochs", "0"], [("samples.png", "never.png")]),
    ])
    out, runs = tmp_path / "gallery", tmp_path / "runs"
    code = gallery.main(["--out", str(out), "--runs", str(runs), "--jobs", "2"])
    assert code == 1                                        # "broken" failed...
    assert "broken failed" in capsys.readouterr().err
    assert not (out / "never.png").exists()
    for name in ("samples", "losses"):                      # ...and "tiny" was still copied
        assert (out / f"tiny_{name}.png").read_bytes() == (runs / "tiny" / f"{name}.png").read_bytes()
