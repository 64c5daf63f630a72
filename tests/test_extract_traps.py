"""The manifest's silent traps, closed (issue #31 item 4): mixed label kinds, paths that leave
the manifest's folder, empty files, and summary counts that count only what was extracted."""

from __future__ import annotations

import pytest

from media import voiced, write_clip
from mmib.cli import main
from mmib.data.readers import converted
from mmib.data.validate import DataError
from mmib.extract.manifest import read_manifest


@pytest.fixture
def folder(tmp_path):
    d = tmp_path / "clips"
    d.mkdir()
    for i in range(3):
        write_clip(d / f"c{i}.wav", audio=voiced(140 + 30 * i, 0.6))
    return d


def manifest(d, rows: list[str]):
    (d / "m.csv").write_text("\n".join(["id,media,text,label,split", *rows]) + "\n")
    return d / "m.csv"


def extract(man, out, *extra):
    return main(["extract", str(man), "-o", str(out), "--workers", "1", "-q", "--asr", "none", *extra])


def test_labels_auto_refuses_a_mix_of_numbers_and_names_naming_the_rows(folder, tmp_path, capsys):
    man = manifest(folder, ["a,c0.wav,hi,1.5,train", "b,c1.wav,hi,very good,valid", "c,c2.wav,hi,-1,test"])
    with pytest.raises(DataError, match=r"mix numbers \(sentiment scores; rows 2, 4\) and names "
                                        r"\(emotions; rows 3 'very good'\)"):
        read_manifest(man)
    assert extract(man, tmp_path / "d.safetensors") == 1
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "--labels sentiment or --labels emotions" in err
    assert not (tmp_path / "d.safetensors").exists()
    assert read_manifest(man, labels="emotions").labels == "emotions"  # said explicitly: no refusal


def test_paths_stay_inside_the_manifest_folder_unless_allowed(folder, tmp_path, capsys):
    write_clip(tmp_path / "outside.wav", audio=voiced(150, 0.6))
    man = manifest(folder, ["a,c0.wav,hi,1,train", "b,c1.wav,hi,0,valid", "c,c2.wav,hi,-1,test",
                            "up,../outside.wav,hi,1,train", f"abs,{tmp_path / 'outside.wav'},hi,1,train",
                            "etc,../../../../../../etc/passwd,hi,1,train"])
    assert extract(man, tmp_path / "d.safetensors") == 0
    err = capsys.readouterr().err
    for n, uid in ((5, "up"), (6, "abs"), (7, "etc")):
        line = next(ln for ln in err.splitlines() if f"m.csv:{n}: {uid}: " in ln)
        assert "is outside the manifest's folder" in line and "--allow-outside" in line
    assert converted.read(tmp_path / "d.safetensors").sizes == {"train": 1, "valid": 1, "test": 1}
    assert extract(man, tmp_path / "e.safetensors", "--allow-outside") == 0
    err = capsys.readouterr().err
    assert "outside the manifest" not in err and "m.csv:7: etc: " in err  # allowed, then not a media file
    assert converted.read(tmp_path / "e.safetensors").sizes == {"train": 3, "valid": 1, "test": 1}


def test_an_empty_file_is_called_empty_and_counts_are_true(folder, tmp_path, capsys):
    (folder / "zero.mp4").write_bytes(b"")
    (folder / "text.mp4").write_text("not a video\n")
    man = manifest(folder, ["a,c0.wav,hi,1,train", "b,c1.wav,hi,0,valid", "c,c2.wav,hi,-1,test",
                            "zero,zero.mp4,hi,1,train", "text,text.mp4,hi,1,train"])
    assert extract(man, tmp_path / "d.safetensors") == 0
    cap = capsys.readouterr()
    zero = next(ln for ln in cap.err.splitlines() if "m.csv:5: zero: " in ln)
    assert zero.endswith("zero.mp4: empty file (0 bytes)") and "Errno" not in zero
    assert "m.csv:6: text: " in cap.err and "not a readable audio/video container" in cap.err
    assert "clips extracted 3, reused from d.safetensors.parts 0, skipped 2" in cap.out
    assert extract(man, tmp_path / "d.safetensors", "--overwrite") == 0  # a rerun reuses the 3, retries the 2
    assert "clips extracted 0, reused from d.safetensors.parts 3, skipped 2" in capsys.readouterr().out


def test_a_five_minute_clip_keeps_memory_bounded_and_every_frame(tmp_path):
    """A 5-minute clip (video + sound) is decoded in a streaming way: the extraction's peak
    memory stays far below what holding the clip would cost, and its stream keeps all 300 s."""
    import subprocess
    import sys

    import numpy as np

    from media import face_frames

    d = tmp_path / "long"
    d.mkdir()
    faces = list(face_frames(10, size=(72, 96)))
    write_clip(d / "long.mp4", audio=np.tile(voiced(150, 1.0), 300), frames=[faces[i % 10] for i in range(1500)],
               fps=5)
    for s in ("valid", "test"):
        write_clip(d / f"{s}.wav", audio=voiced(150, 1.0))
    man = manifest(d, ["long,long.mp4,a long story,1,train", "v,valid.wav,short,0,valid", "t,test.wav,short,0,test"])
    # VmHWM is this process image's own peak (ru_maxrss would carry the forking parent's, pytest's)
    code = ("import sys\nfrom pathlib import Path\nfrom mmib.cli import main\nrc = main(sys.argv[1:])\n"
            "hwm = [ln for ln in Path('/proc/self/status').read_text().splitlines() if ln.startswith('VmHWM')]\n"
            "print('peak_kb', hwm[0].split()[1])\nsys.exit(rc)")
    out = tmp_path / "long.safetensors"
    r = subprocess.run([sys.executable, "-c", code, "extract", str(man), "-o", str(out), "--workers", "1", "-q",
                        "--asr", "none", "--audio", "opensmile", "--visual", "none"],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-1500:]
    peak_mb = int(r.stdout.split("peak_kb")[-1].split()[0]) / 1024
    assert peak_mb < 800, peak_mb  # measured 335-343 MB (imports ~170 MB); the decoded clip alone is ~20 MB of audio
    audio = converted.read(out).splits["train"].fields["audio"]
    assert abs(len(audio[0]) - 30000) <= 5  # 100 frames/s over the whole 300 s, none cut
