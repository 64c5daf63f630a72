"""Property-based fuzzing (hypothesis): whatever a file holds, reading it ends in a correct load or
a named error (DataError / FileNotFoundError naming the file), never a crash, hang or traceback;
random config values end in a valid config or a ConfigError naming the key.

The budget per test is ``MMIB_FUZZ_EXAMPLES`` (default 60 here, CI's bounded run);
``scripts/fuzz.py`` runs >= 10,000 cases per reader in a separate process, where a segfault
shows up as the process's signal, and reports the counts (written to ``MMIB_FUZZ_REPORT``).
"""

from __future__ import annotations

import json
import math
import os
import pickle
import tempfile
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from fixtures_data import write_magbert, write_mmsa, write_mult
from mmib import config as config_mod
from mmib.data.readers import converted, load_corpus
from mmib.data.safe_pickle import safe_load
from mmib.data.validate import DataError

pytestmark = pytest.mark.slow  # CI runs it (bounded); the inner loop leaves it out
EXAMPLES = int(os.environ.get("MMIB_FUZZ_EXAMPLES", "60"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, database=None,
                derandomize=not os.environ.get("MMIB_FUZZ_RANDOM"),
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                       HealthCheck.function_scoped_fixture])
OUTCOMES: Counter = Counter()
_DIR = Path(tempfile.mkdtemp(prefix="mmib-fuzz-"))


def _small_files() -> dict[str, Path]:
    files = {"mmsa": write_mmsa(_DIR / "mmsa.pkl", sizes=(3, 2, 2), text_len=14, steps=(30, 24), aligned=False),
             "mult": write_mult(_DIR / "mult.pkl", sizes=(3, 2, 2)),
             "magbert": write_magbert(_DIR / "magbert.pkl", sizes=(3, 2, 2))}
    files["converted"] = converted.write(load_corpus(files["mmsa"], log=False), _DIR / "conv.safetensors")
    return files


FILES = _small_files()
READERS = sorted(FILES)


def _read(path: Path, reader: str) -> str:
    """The property: a Corpus or a named error. Returns which, for the counts."""
    try:
        corpus = load_corpus(path, "auto", log=False)
    except (DataError, FileNotFoundError) as e:
        if str(path) not in str(e) or "\n" in str(e).strip():
            keep = _DIR / f"failing-{reader}-{OUTCOMES['failures']}.bin"
            OUTCOMES["failures"] += 1
            keep.write_bytes(path.read_bytes())
            raise AssertionError(f"not one line naming the file (input kept as {keep}): {str(e)[:300]!r}")
        OUTCOMES[f"{reader}: named error"] += 1
        return "error"
    assert corpus.sizes["train"] >= 1
    OUTCOMES[f"{reader}: loaded"] += 1
    return "loaded"


def _write(data: bytes) -> Path:
    fd, name = tempfile.mkstemp(dir=_DIR, suffix=".bin")
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    return Path(name)


@st.composite
def mutated(draw, original: bytes) -> bytes:
    """The original bytes with flips, a cut, an insertion or a duplicated block."""
    data = bytearray(original)
    for _ in range(draw(st.integers(0, 8))):
        i = draw(st.integers(0, len(data) - 1))
        data[i] = draw(st.integers(0, 255))
    kind = draw(st.sampled_from(["flips", "cut", "insert", "repeat"]))
    if kind == "cut":
        data = data[: draw(st.integers(0, len(data)))]
    elif kind == "insert":
        i = draw(st.integers(0, len(data)))
        data[i:i] = draw(st.binary(min_size=1, max_size=64))
    elif kind == "repeat":
        i = draw(st.integers(0, len(data) - 1))
        data[i:i] = data[i: i + draw(st.integers(1, 256))]
    return bytes(data)


@pytest.mark.parametrize("reader", READERS)
def test_mutated_files_of_every_format(reader):
    original = FILES[reader].read_bytes()

    @FUZZ
    @given(data=mutated(original))
    def run(data):
        path = _write(data)
        try:
            _read(path, reader)
        finally:
            path.unlink()

    run()
    OUTCOMES.pop("failures", None)


# ----------------------------------------------------------------------------- structural mutations

def _values():
    arrays = hnp.arrays(st.sampled_from([np.float32, np.float64, np.int64, np.bool_, np.uint8]),
                        hnp.array_shapes(max_dims=3, max_side=5),
                        )
    leaves = st.one_of(st.none(), st.booleans(), st.integers(-10**6, 10**6), st.floats(allow_nan=True),
                       st.text(max_size=8), st.binary(max_size=8), arrays)
    return st.recursive(leaves, lambda c: st.one_of(st.lists(c, max_size=4), st.tuples(c, c),
                                                    st.dictionaries(st.text(max_size=6), c, max_size=3)),
                        max_leaves=12)


def _paths(obj, prefix=()):
    """Every (container, key) inside ``obj`` that a mutation can replace or delete."""
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield obj, k
            yield from _paths(v, prefix + (k,))
    elif isinstance(obj, list):
        for i, v in enumerate(obj[:4]):
            yield obj, i
            yield from _paths(v, prefix + (i,))


@pytest.mark.parametrize("reader", ["mmsa", "mult", "magbert"])
def test_structurally_mutated_files_of_every_reader(reader):
    original = safe_load(FILES[reader])

    @FUZZ
    @given(data=st.data())
    def run(data):
        obj = pickle.loads(pickle.dumps(original))  # a deep copy
        places = list(_paths(obj))
        for _ in range(data.draw(st.integers(1, 3))):
            container, key = places[data.draw(st.integers(0, len(places) - 1))]
            if key not in (container if isinstance(container, dict) else range(len(container))):
                continue
            action = data.draw(st.sampled_from(["replace", "delete", "reshape", "retype"]))
            value = container[key]
            if action == "delete" and isinstance(container, dict):
                del container[key]
            elif action == "reshape" and isinstance(value, np.ndarray) and value.size:
                container[key] = value.reshape(-1)[: data.draw(st.integers(0, value.size))]
            elif action == "retype" and isinstance(value, np.ndarray):
                try:
                    with np.errstate(all="ignore"):
                        container[key] = value.astype(data.draw(st.sampled_from([np.int8, np.float16, object, "U3"])))
                except (ValueError, TypeError, OverflowError):  # values the new dtype cannot hold: no such file to make
                    pass
            else:
                container[key] = data.draw(_values())
        path = _write(pickle.dumps(obj, protocol=data.draw(st.integers(0, 5))))
        try:
            _read(path, reader)
        finally:
            path.unlink()

    run()


# ----------------------------------------------------------------------------- generated pickles

def _equal(a, b) -> bool:
    if isinstance(a, np.ndarray):
        return isinstance(b, np.ndarray) and a.dtype == b.dtype and a.shape == b.shape and \
            np.array_equal(a, b, equal_nan=a.dtype.kind == "f")
    if isinstance(a, float):
        return isinstance(b, float) and (a == b or (math.isnan(a) and math.isnan(b)))
    if isinstance(a, (list, tuple)):
        return type(a) is type(b) and len(a) == len(b) and all(_equal(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(_equal(a[k], b[k]) for k in a)
    return a == b


def test_plain_data_pickles_load_exactly():
    """No false refusal: plain values and numeric arrays, any protocol, come back equal."""

    @FUZZ
    @given(value=_values(), protocol=st.integers(0, 5))
    def run(value, protocol):
        path = _write(pickle.dumps(value, protocol=protocol))
        try:
            assert _equal(value, safe_load(path))
            OUTCOMES["pickle: loaded exactly"] += 1
        finally:
            path.unlink()

    run()


# ----------------------------------------------------------------------------- configs and CLI values

KEYS = [k for k, *_ in config_mod.describe()]


def test_random_config_values_are_valid_or_a_config_error():
    from mmib.engine import check_config

    toml_values = st.one_of(st.integers(-10**30, 10**30).map(str), st.floats().map(repr),
                            st.sampled_from(["inf", "-inf", "nan", "true", "false", "[]", '["text"]', "{}", "''"]),
                            st.text(alphabet="abcdefgh-_./ ", max_size=10).map(lambda t: json.dumps(t)))

    @FUZZ
    @given(items=st.lists(st.tuples(st.sampled_from(KEYS + ["model.nope", "nosection.x"]), toml_values),
                          min_size=1, max_size=4))
    def run(items):
        try:
            cfg = config_mod.apply_overrides(config_mod.ExperimentConfig(), [f"{k}={v}" for k, v in items])
            check_config(cfg, data=False)
            OUTCOMES["config: valid"] += 1
        except config_mod.ConfigError as e:
            assert "\n" not in str(e)
            OUTCOMES["config: ConfigError"] += 1

    run()


def test_random_command_lines_exit_0_or_2(capsys):
    from mmib.cli import main

    flags = st.sampled_from(["--beta", "--epochs", "--seed", "--variant", "--fusion", "--modalities",
                             "--batch-size", "--dataset", "--text-encoder"])
    values = st.one_of(st.integers(-10**20, 10**20).map(str), st.sampled_from(["nan", "inf", "", "cmib", "x,y"]),
                       st.text(alphabet="abcxyz0123,.-", max_size=6))

    @FUZZ
    @given(args=st.lists(st.tuples(flags, values), max_size=3))
    def run(args):
        argv = ["config", "show"] + [a for pair in args for a in pair]
        try:
            rc = main(argv)
        except SystemExit as e:  # argparse refusing a value: its usage line and exit 2
            rc = e.code
        out = capsys.readouterr()
        assert rc in (0, 2) and "Traceback" not in out.err
        OUTCOMES[f"cli: exit {rc}"] += 1

    run()


def teardown_module(module):
    import shutil

    if not list(_DIR.glob("failing-*")):  # failing inputs are kept for a look; nothing else is
        shutil.rmtree(_DIR, ignore_errors=True)
    report = os.environ.get("MMIB_FUZZ_REPORT")
    if report:
        Path(report).write_text(json.dumps(dict(OUTCOMES), indent=1, sort_keys=True))
    print(f"\nfuzzed cases: {sum(OUTCOMES.values())} ({', '.join(f'{k} {v}' for k, v in sorted(OUTCOMES.items()))})")
