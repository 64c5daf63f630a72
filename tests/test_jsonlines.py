"""One JSON-lines reader (mmib.data.jsonlines) behind utterance records (`mmib predict
FILE.jsonl`), text-and-label records and clip manifests: every bad file is one DataError
naming the file and the line, never a RecursionError or UnicodeDecodeError."""

from __future__ import annotations

import re

import pytest

from mmib.data.jsonlines import json_lines
from mmib.data.readers import textlabels
from mmib.data.records import read_jsonl
from mmib.data.validate import DataError
from mmib.extract.manifest import read_manifest

GOOD = '{"id": "a", "text": "fine", "label": 1.0, "split": "train", "media": "a.wav"}'
BAD = {
    "deep": ("[" * 50_000, "refused this JSON \\(RecursionError"),
    "long number": ("{\"label\": " + "9" * 5000 + "}", "refused this JSON \\(ValueError"),
    "not json": ("{'id': 'b'}", "not valid JSON \\(Expecting property name"),
    "a list": ("[1, 2]", "expected a JSON object per line, got list"),
}
READERS = {"records": read_jsonl, "text and labels": textlabels.read, "manifest": read_manifest}


@pytest.mark.parametrize("reader", READERS)
@pytest.mark.parametrize("case", BAD)
def test_every_json_lines_reader_names_the_file_and_line(tmp_path, reader, case):
    line, what = BAD[case]
    f = tmp_path / "input.jsonl"
    f.write_text(GOOD + "\n" + line + "\n")
    with pytest.raises(DataError) as e:
        READERS[reader](f)
    msg = str(e.value)
    assert msg.startswith(str(f)) and len(msg.splitlines()) == 1
    assert re.search(what, msg), msg
    assert ":2:" in msg or "row 2" in msg, msg


@pytest.mark.parametrize("reader", READERS)
def test_text_that_is_not_utf8_is_one_line(tmp_path, reader):
    f = tmp_path / "input.jsonl"
    f.write_bytes(b"\xff\xfe" + GOOD.encode("utf-16-le") + b"\n")
    with pytest.raises(DataError, match=r"input.jsonl: not UTF-8 text .* save it as UTF-8"):
        READERS[reader](f)


def test_blank_lines_and_a_byte_order_mark_are_fine(tmp_path):
    f = tmp_path / "input.jsonl"
    f.write_bytes(b"\xef\xbb\xbf" + GOOD.encode() + b"\n\n   \n" + GOOD.replace('"a"', '"b"').encode() + b"\n")
    assert [(n, r["id"]) for n, r in json_lines(f)] == [(1, "a"), (4, "b")]
    records, where = read_jsonl(f)
    assert where == [f"{f}:1", f"{f}:4"]
