"""Audio extractors: ``librosa`` (a COVAREP-like frame descriptor) and ``opensmile``
(eGeMAPS v02 low-level descriptors), both at 100 frames per second (10 ms hop, as the
CMU SDK's COVAREP features). Both decode with :func:`~mmib.extract.media.read_audio`, so any
container PyAV reads works, and honour the clip's start / end."""

from __future__ import annotations

from typing import Any

import numpy as np

from .registry import EXTRACTORS, Clip, ClipError, ExtractorSpec, Stream

N_MFCC = 20
LIBROSA_NAMES = ("f0_hz", "voiced", "voiced_prob", "rms", "log_rms", "zcr", "spectral_centroid_hz",
                 "spectral_bandwidth_hz", "spectral_flatness", "spectral_rolloff_hz",
                 *(f"mfcc_{i}" for i in range(N_MFCC)), *(f"mfcc_delta_{i}" for i in range(N_MFCC)))


def _signal(clip: Clip, sr: int) -> np.ndarray:
    y = clip.audio(sr)  # decoded once per clip for every audio reader
    if not np.isfinite(y).all():
        raise ClipError(f"{clip.media}: the audio holds NaN or inf samples")
    return y


def _librosa(clip: Clip, s: dict[str, Any]) -> Stream:
    import librosa

    sr, hop, n_fft = int(s["sample_rate"]), int(s["hop"]), int(s["n_fft"])
    y = _signal(clip, sr)
    if len(y) < n_fft:
        y = np.pad(y, (0, n_fft - len(y)))
    f0, voiced, prob = librosa.pyin(y, fmin=float(s["fmin"]), fmax=float(s["fmax"]), sr=sr,
                                    frame_length=int(s["pyin_frame"]), hop_length=hop)
    S = np.abs(librosa.stft(y, n_fft=n_fft, hop_length=hop, win_length=int(s["win"]))) ** 2
    rms = librosa.feature.rms(S=S, frame_length=n_fft)[0]
    feats = [
        np.nan_to_num(f0, nan=0.0), voiced.astype(np.float32), np.nan_to_num(prob, nan=0.0),
        rms, np.log(rms + 1e-5),
        librosa.feature.zero_crossing_rate(y, frame_length=n_fft, hop_length=hop)[0],
        librosa.feature.spectral_centroid(S=S, sr=sr)[0],
        librosa.feature.spectral_bandwidth(S=S, sr=sr)[0],
        librosa.feature.spectral_flatness(S=S)[0],
        librosa.feature.spectral_rolloff(S=S, sr=sr)[0],
    ]
    mel = librosa.feature.melspectrogram(S=S, sr=sr, n_mels=40)
    mfcc = librosa.feature.mfcc(S=librosa.power_to_db(mel), n_mfcc=N_MFCC)
    delta = librosa.feature.delta(mfcc, width=9 if mfcc.shape[1] >= 9 else (mfcc.shape[1] // 2) * 2 + 1,
                                  mode="nearest") if mfcc.shape[1] >= 3 else np.zeros_like(mfcc)
    t = min(len(f) for f in feats + [mfcc[0]])
    values = np.concatenate([np.stack([f[:t] for f in feats], 1), mfcc[:, :t].T, delta[:, :t].T], 1)
    return Stream(values, np.arange(t) * hop / sr)


EXTRACTORS.add("librosa", ExtractorSpec(
    "audio", "librosa: pyin F0 + voicing, energy, zero-crossing rate, spectral shape, 20 MFCCs and deltas "
             "(a COVAREP-like descriptor)", len(LIBROSA_NAMES), 100.0, LIBROSA_NAMES, _librosa,
    settings={"sample_rate": 16000, "hop": 160, "n_fft": 512, "win": 400, "pyin_frame": 1024,
              "fmin": 60.0, "fmax": 500.0},
    packages=("librosa", "av", "numpy"), requires=("librosa", "av")))

EGEMAPS_NAMES = (
    "Loudness_sma3", "alphaRatio_sma3", "hammarbergIndex_sma3", "slope0-500_sma3", "slope500-1500_sma3",
    "spectralFlux_sma3", "mfcc1_sma3", "mfcc2_sma3", "mfcc3_sma3", "mfcc4_sma3", "F0semitoneFrom27.5Hz_sma3nz",
    "jitterLocal_sma3nz", "shimmerLocaldB_sma3nz", "HNRdBACF_sma3nz", "logRelF0-H1-H2_sma3nz",
    "logRelF0-H1-A3_sma3nz", "F1frequency_sma3nz", "F1bandwidth_sma3nz", "F1amplitudeLogRelF0_sma3nz",
    "F2frequency_sma3nz", "F2bandwidth_sma3nz", "F2amplitudeLogRelF0_sma3nz", "F3frequency_sma3nz",
    "F3bandwidth_sma3nz", "F3amplitudeLogRelF0_sma3nz")


def _opensmile(clip: Clip, s: dict[str, Any]) -> Stream:
    import opensmile

    sr = int(s["sample_rate"])
    y = _signal(clip, sr)
    smile = opensmile.Smile(feature_set=opensmile.FeatureSet.eGeMAPSv02,
                            feature_level=opensmile.FeatureLevel.LowLevelDescriptors)
    if tuple(smile.feature_names) != EGEMAPS_NAMES:
        raise ClipError(f"this opensmile's eGeMAPSv02 descriptors differ from the {len(EGEMAPS_NAMES)} "
                        "mmib declares; install the opensmile version mmib[extract] pins")
    df = smile.process_signal(y, sr)
    if len(df) == 0:
        raise ClipError(f"{clip.media}: too short for opensmile's 20 ms frames")
    starts = df.index.get_level_values("start").total_seconds().to_numpy()
    ends = df.index.get_level_values("end").total_seconds().to_numpy()
    return Stream(df.to_numpy(np.float32), (starts + ends) / 2)


EXTRACTORS.add("opensmile", ExtractorSpec(
    "audio", "openSMILE eGeMAPS v02 low-level descriptors: loudness, spectral balance, MFCC 1-4, F0 "
             "(semitones from 27.5 Hz), jitter, shimmer, HNR, H1-H2, H1-A3, formants F1-F3",
    len(EGEMAPS_NAMES), 100.0, EGEMAPS_NAMES, _opensmile, settings={"sample_rate": 16000},
    packages=("opensmile", "av", "numpy"), requires=("opensmile", "av")))
