"""The hostile-input suite: every damaged input ends with exit status 2 and one line naming the
place (file, line or index, field), never a traceback, and leaves planted outputs byte-identical.

The cases are data (``hostile_cases.py`` and the two format modules); the CLI runs in-process.
A few subprocess runs prove that no traceback reaches a terminal, and that ``--debug`` /
``PROUIE_DEBUG=1`` bring it back for an unexpected internal error.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from hostile_cases import GOOD_NER, GOOD_RECORDS, TEXT, Case, all_cases, jl
from prouie.cli import main

CASES = all_cases()
PLANTED_JSON = b'{"planted": {"file_name": "planted.jsonl"}}\n'


def materialise(files: dict[str, str | bytes], root: Path) -> None:
    for name, content in files.items():
        path = root / name
        if name.endswith("/"):
            path.mkdir(parents=True, exist_ok=True)
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))


def plant(case: Case, root: Path) -> dict[Path, bytes | list[str]]:
    """Write the planted outputs that do not exist yet; snapshot every planted file and folder."""
    snapshot: dict[Path, bytes | list[str]] = {}
    for rel in case.planted:
        path = root / rel
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(PLANTED_JSON if path.suffix == ".json" else b"PLANTED\n")
        snapshot[path] = path.read_bytes()
        snapshot[path.parent] = sorted(os.listdir(path.parent))
    return snapshot


def command_of(case: Case) -> str:
    return case.argv[0] + (f" {case.argv[2]}" if case.argv[0] == "export-rl" else "")


def test_suite_size() -> None:
    """At least 100 damaged inputs, and every command is covered."""
    per_command = Counter(command_of(c) for c in CASES)
    assert len(CASES) >= 100
    assert set(per_command) >= {
        "convert",
        "prepare",
        "stats",
        "plan",
        "export-rl easyr1",
        "export-rl verl",
        "evaluate",
    }
    assert len({c.id for c in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_damaged_input(
    case: Case, tmp_path: Path, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("PROUIE_DEBUG", raising=False)
    materialise(case.files, tmp_path)
    snapshot = plant(case, tmp_path)
    status = main(case.argv)
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    assert status == case.status, err
    message = err.strip().splitlines()[-1]
    assert message.startswith("prouie "), err
    for place in case.place:
        assert place in message, f"{place!r} not named in: {message}"
    for path, before in snapshot.items():
        after = path.read_bytes() if isinstance(before, bytes) else sorted(os.listdir(path))
        assert after == before, f"{path} changed"


# ----------------------------------------------------------------------------- accepted inputs


def run_ok(argv: list[str], capsys: pytest.CaptureFixture) -> str:
    status = main(argv)
    out, err = capsys.readouterr()
    assert status == 0, err
    assert "Traceback" not in out + err
    return err


@pytest.mark.parametrize(
    "name, content",
    [
        ("bom", b"\xef\xbb\xbf" + GOOD_RECORDS.encode()),
        ("crlf", GOOD_RECORDS.replace("\n", "\r\n").encode()),
        ("blank_lines", ("\n" + GOOD_RECORDS + "\n\n").encode()),
    ],
)
def test_byte_order_mark_and_line_ends_are_accepted(
    name: str, content: bytes, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    plain = tmp_path / "plain.jsonl"
    plain.write_text(GOOD_RECORDS, encoding="utf-8")
    odd = tmp_path / f"{name}.jsonl"
    odd.write_bytes(content)
    for src in (plain, odd):
        run_ok(
            ["convert", "--input", str(src), "--format", "records", "--out", f"{src}.out"], capsys
        )
    assert Path(f"{odd}.out").read_bytes() == Path(f"{plain}.out").read_bytes()


def _accepted_records() -> dict[str, str]:
    big = "x " * 2_500_000 + "Nadim Ladki"
    nested = {**GOOD_NER, "entities": [
        {"type": "person", "text": "Nadim Ladki", "start": 0, "end": 11},
        {"type": "person", "text": "Ladki", "start": 6, "end": 11},
    ]}  # fmt: skip
    return {
        "five_megabyte_line": jl(
            {**GOOD_NER, "text": big, "entities": [{"type": "person", "text": "Nadim Ladki"}]}
        ),
        "duplicate_ids": jl(GOOD_NER, GOOD_NER),
        "overlapping_offsets": jl(nested),
        "right_to_left_and_combining": jl({**GOOD_NER, "text": TEXT + " نديم e\u0301"}),
    }


@pytest.mark.parametrize("name", list(_accepted_records()))
def test_unusual_but_valid_records_are_accepted(
    name: str, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    src = tmp_path / "r.jsonl"
    src.write_text(_accepted_records()[name], encoding="utf-8")
    for argv in (
        ["convert", "--input", str(src), "--format", "records", "--out", str(tmp_path / "o.jsonl")],
        [
            "export-rl",
            "--target",
            "easyr1",
            "--input",
            str(src),
            "--out",
            str(tmp_path / "rl.jsonl"),
        ],
    ):
        run_ok(argv, capsys)
    rows = (tmp_path / "o.jsonl").read_text(encoding="utf-8").splitlines()
    assert [json.loads(r)["text"] for r in rows] == [
        json.loads(r)["text"] for r in src.read_text(encoding="utf-8").splitlines()
    ]


def test_bom_in_every_json_reader(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    bom = b"\xef\xbb\xbf"
    root = tmp_path / "iei" / "NER" / "toy"
    root.mkdir(parents=True)
    rows = [
        {"sentence": TEXT, "entities": [{"name": "Paris", "type": "location", "pos": [21, 26]}]}
    ]
    (root / "test.json").write_bytes(bom + json.dumps(rows).encode())
    (root / "labels.json").write_bytes(bom + b'["location"]')
    run_ok(["convert", "--input", str(root / "test.json"), "--format", "ie_instructions",
            "--out", str(tmp_path / "o.jsonl")], capsys)  # fmt: skip
    rec = json.loads((tmp_path / "o.jsonl").read_text(encoding="utf-8"))
    assert rec["entities"][0]["start"] == 21
    conll = tmp_path / "c.txt"
    conll.write_bytes(bom + b"Nadim B-PER\nLadki I-PER\n")
    run_ok(
        ["convert", "--input", str(conll), "--format", "conll", "--out", str(tmp_path / "c.jsonl")],
        capsys,
    )
    assert json.loads((tmp_path / "c.jsonl").read_text())["text"] == "Nadim Ladki"
    preds = tmp_path / "p.jsonl"
    preds.write_bytes(
        bom + jl({"prediction": '{"person": "Nadim Ladki"}', "record": GOOD_NER}).encode()
    )
    run_ok(["evaluate", str(preds), "--out", str(tmp_path / "ev"), "--no-plot", "--quiet"], capsys)
    assert json.loads((tmp_path / "ev" / "report.json").read_text())


def test_allow_empty(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    empty = tmp_path / "e.jsonl"
    empty.write_text("")
    out = tmp_path / "o.jsonl"
    run_ok(
        [
            "convert",
            "--input",
            str(empty),
            "--format",
            "records",
            "--out",
            str(out),
            "--allow-empty",
        ],
        capsys,
    )
    assert out.read_text() == ""
    run_ok(
        [
            "export-rl",
            "--target",
            "easyr1",
            "--input",
            str(empty),
            "--out",
            str(tmp_path / "rl.jsonl"),
            "--allow-empty",
        ],
        capsys,
    )


def test_fewrel_without_pid2name_warns(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    src = tmp_path / "f.json"
    rows = [{"tokens": TEXT.split(), "h": ["n", "Q1", [[0, 1]]], "t": ["p", "Q2", [[4]]]}]
    src.write_text(json.dumps({"P177": rows}))
    err = run_ok(
        ["convert", "--input", str(src), "--format", "fewrel", "--out", str(tmp_path / "o.jsonl")],
        capsys,
    )
    assert "warning:" in err and "pid2name.json" in err and "P177" in err
    assert json.loads((tmp_path / "o.jsonl").read_text())["labels"] == ["P177"]


def test_valid_surrogate_pair_is_accepted(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    src = tmp_path / "r.jsonl"
    src.write_text(json.dumps({**GOOD_NER, "text": GOOD_NER["text"] + " \U0001f600"}) + "\n")
    run_ok(
        ["convert", "--input", str(src), "--format", "records", "--out", str(tmp_path / "o.jsonl")],
        capsys,
    )
    assert "\U0001f600" in (tmp_path / "o.jsonl").read_text(encoding="utf-8")


# ----------------------------------------------------------------------------- internal errors


def test_internal_error_is_one_line_with_a_hint(
    tmp_path: Path, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    import prouie.commands.stats as stats_command

    monkeypatch.delenv("PROUIE_DEBUG", raising=False)
    monkeypatch.setattr(stats_command, "length_table", lambda *a: {}["boom"])
    src = tmp_path / "r.jsonl"
    src.write_text(GOOD_RECORDS)
    argv = ["stats", "--input", str(src), "--format", "records"]
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1
    assert "internal error: KeyError" in err and "--debug" in err and "PROUIE_DEBUG=1" in err
    with pytest.raises(KeyError):
        main(["--debug", *argv])


def _cli(args: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess:
    environ = {k: v for k, v in os.environ.items() if k != "PROUIE_DEBUG"}
    return subprocess.run(
        [sys.executable, "-m", "prouie.cli", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={**environ, **env},
        timeout=120,
    )


def test_no_traceback_reaches_the_terminal(tmp_path: Path) -> None:
    (tmp_path / "bad.jsonl").write_bytes(GOOD_RECORDS.encode() + "vit à Paris\n".encode("latin-1"))
    (tmp_path / "dir").mkdir()
    runs = [
        ["convert", "--input", "bad.jsonl", "--format", "records", "--out", "o.jsonl"],
        ["export-rl", "--target", "easyr1", "--input", "dir", "--out", "o.jsonl"],
        ["evaluate", "bad.jsonl", "--out", "ev", "--no-plot"],
    ]
    for args in runs:
        proc = _cli(args, tmp_path)
        assert proc.returncode == 2, proc.stderr
        assert "Traceback" not in proc.stderr + proc.stdout
        assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert "bad.jsonl:3" in _cli(runs[0], tmp_path).stderr
    debug = _cli(runs[0], tmp_path, PROUIE_DEBUG="1")
    assert "Traceback" in debug.stderr and debug.returncode != 0


def test_evaluate_twenty_one_megabyte_outputs_finishes(tmp_path: Path) -> None:
    """20 outputs of 1 MB of ``{`` each: scored (as unparseable) within a generous time limit.

    Run in a subprocess so that a parser that lost its linear bound cannot stall the suite.
    """
    rows = [
        {"prediction": "{" * 1_000_000, "record": {**GOOD_NER, "id": str(i)}} for i in range(20)
    ]
    (tmp_path / "p.jsonl").write_text(jl(*rows))
    try:
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "prouie.cli",
                "evaluate",
                "p.jsonl",
                "--out",
                "ev",
                "--no-plot",
                "--quiet",
            ],  # fmt: skip
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=30,
        )
    except subprocess.TimeoutExpired:
        pytest.fail("evaluate of 20 x 1 MB outputs did not finish within 30 s")
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
