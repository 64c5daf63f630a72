"""One reader of JSON-lines files (one JSON object per line) for every place that reads them:
utterance records (:mod:`mmib.data.records`), text-and-label records
(:mod:`mmib.data.readers.textlabels`) and clip manifests (:mod:`mmib.extract.manifest`).

A bad file is one :class:`~mmib.data.validate.DataError` (a ValueError) naming the file and
the line: text that is not UTF-8, a line that is not JSON, JSON nested too deeply or holding a
number too long to read, a line that is not an object. Blank lines are skipped; a UTF-8 byte
order mark is allowed.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable, Iterator

from .budget import clip
from .validate import DataError


def line_label(path: Path, n: int) -> str:
    """How a line is named in messages: ``file:line``."""
    return f"{path}:{n}"


def json_lines(path: str | Path, *, label: Callable[[Path, int], str] = line_label) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, object) for each non-blank line of ``path``; ``label`` names a line in
    messages (default ``file:line``)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as e:
        raise DataError(f"{path}: not UTF-8 text ({e.reason} at byte {e.start}); save it as UTF-8") from None
    for n, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except json.JSONDecodeError as e:
            raise DataError(f"{label(path, n)}: not valid JSON ({e.msg}); expected one JSON object per line") \
                from None
        except (ValueError, RecursionError) as e:  # a 5000-digit number, arrays nested 1000 deep
            raise DataError(f"{label(path, n)}: refused this JSON ({type(e).__name__}: {clip(str(e))}); "
                            "expected one JSON object per line") from None
        if not isinstance(rec, dict):
            raise DataError(f"{label(path, n)}: expected a JSON object per line, got {type(rec).__name__}")
        yield n, rec


__all__ = ["json_lines", "line_label"]
