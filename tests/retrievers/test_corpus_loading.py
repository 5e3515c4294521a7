"""Every malformed corpus is reported with the file, the line and what was wrong."""

from __future__ import annotations

from pathlib import Path

import pytest

from lmdsl.errors import ConfigError, DataError
from lmdsl.retrievers import BM25Retriever, Passage, fingerprint_file, load_corpus


def _write(tmp_path: Path, content: str | bytes) -> Path:
    path = tmp_path / "corpus.jsonl"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


GOOD = '{"text": "a"}\n'


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (
            GOOD + '{"title": "B" "text": "b"}\n',
            "line 2: invalid JSON (Expecting ',' delimiter at column 15)",
        ),
        (
            GOOD + GOOD + '{"text": "b",}\n',
            "line 3: invalid JSON (Expecting property name enclosed in double quotes at column 14)",
        ),
        (
            GOOD + GOOD + '{"title": "x", "body": "y"}\n',
            "line 3: missing text field 'text' (found keys: 'title', 'body')",
        ),
        ("{}\n", "line 1: missing text field 'text' (found keys: none)"),
        (GOOD + '{"text": 5}\n', "line 2: field 'text' must be a string, got int"),
        ('{"text": null}\n', "line 1: field 'text' must be a string, got null"),
        ('{"text": "a", "title": ["x"]}\n', "line 1: field 'title' must be a string, got list"),
        ('{"text": "a", "id": 1.5}\n', "line 1: field 'id' must be a string or an integer, got float"),
        ('["a", "b"]\n', "line 1: expected a JSON object, got list"),
        (
            '{"id": "x", "text": "a"}\n\n{"id": "x", "text": "b"}\n',
            "line 3: duplicate id 'x' (first used on line 1)",
        ),
        (GOOD + '{"text": "café", "title": "Ünïcode"}\n', None),  # non-ASCII UTF-8 is fine
    ],
)
def test_bad_rows_name_the_line(tmp_path, content, message):
    path = _write(tmp_path, content)
    if message is None:
        assert len(load_corpus(path)) == 2
        return
    with pytest.raises(DataError) as info:
        load_corpus(path)
    assert str(info.value) == f"{path} {message}"


def test_invalid_utf8(tmp_path):
    path = _write(tmp_path, GOOD.encode() + b'{"text": "caf\xe9"}\n')
    with pytest.raises(DataError, match=r"line 2: not valid UTF-8 \(byte 14\)$"):
        load_corpus(path)


def test_empty_and_blank_files(tmp_path):
    path = _write(tmp_path, "")
    with pytest.raises(DataError) as info:
        load_corpus(path)
    assert str(info.value) == f"{path}: no passages (the file is empty)"
    path = _write(tmp_path, "\n  \n")
    with pytest.raises(DataError) as info:
        load_corpus(path)
    assert str(info.value) == f"{path}: no passages (only blank lines)"


def test_missing_file_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match=r"corpus file not found: .*nope\.jsonl"):
        load_corpus(tmp_path / "nope.jsonl")
    with pytest.raises(ConfigError, match="corpus file not found"):
        BM25Retriever(tmp_path / "nope.jsonl")


def test_custom_field_names_and_default_ids(tmp_path):
    path = _write(
        tmp_path,
        '\ufeff{"body": "first", "name": "One"}\n\n{"body": "second", "key": 42}\n{"body": "third", "key": ""}\n',
    )
    passages = load_corpus(path, text_field="body", title_field="name", id_field="key")
    assert passages == [
        Passage(text="first", title="One", id="1"),  # no id: the 1-based line number
        Passage(text="second", id="42"),
        Passage(text="third", id="4"),
    ]
    with pytest.raises(DataError) as info:
        load_corpus(path)
    assert str(info.value) == f"{path} line 1: missing text field 'text' (found keys: 'body', 'name')"


def test_list_corpus_errors_name_the_item():
    assert load_corpus([{"text": "a"}, {"text": "b", "id": "x"}]) == [
        Passage("a", id="0"),
        Passage("b", id="x"),
    ]
    with pytest.raises(DataError, match=r"^corpus item 1: missing text field 'text' \(found keys: 'txt'\)$"):
        load_corpus([{"text": "a"}, {"txt": "b"}])
    with pytest.raises(DataError, match=r"^corpus: no passages \(the list is empty\)$"):
        load_corpus([])
    with pytest.raises(ConfigError, match="got dict"):
        load_corpus({"text": "a"})  # type: ignore[arg-type]


def test_retriever_reports_bad_corpus(tmp_path):
    path = _write(tmp_path, GOOD + "not json\n")
    with pytest.raises(DataError) as info:
        BM25Retriever(path)
    assert str(info.value) == f"{path} line 2: invalid JSON (Expecting value at column 1)"


def test_fingerprint_is_content_based(tmp_path):
    a = _write(tmp_path, GOOD)
    first = fingerprint_file(a)
    a.touch()
    assert fingerprint_file(a) == first
    a.write_text('{"text": "b"}\n', encoding="utf-8")
    assert fingerprint_file(a) != first
    assert len(first) == 64
