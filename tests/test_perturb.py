"""``prouie perturb`` against a loopback chat server that misbehaves on purpose."""

from __future__ import annotations

import copy
import hashlib
import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from itertools import islice
from pathlib import Path

import pytest
from chat_server import ChatServer, last_user_text
from prouie.cli import main
from prouie.readers import read
from prouie.records import validate_example
from prouie.robust import TYPES, perturb
from prouie.robust.kinds import LLM_TYPES
from shared_data import DATA

pytest.importorskip("openai")

from prouie.integrations.openai_client import ChatClient  # noqa: E402

NAMES = ["Alba", "Borin", "Cato", "Dara", "Elio", "Faye", "Goran", "Hedda", "Ivo", "Juno"]
PLACES = ["Lisbon", "Quito", "Tallinn", "Accra", "Hanoi", "Perth", "Oslo", "Lima", "Riga", "Bern"]


def make_records(n: int) -> list[dict]:
    """n records of each task with varied words, so prompts (and scripted faults) differ."""
    out = []
    for i in range(n):
        name, place = NAMES[i % 10], PLACES[(3 * i + 1) % 10]
        out.append(
            {
                "id": f"n{i}",
                "dataset": "demo_ner",
                "task": "ner",
                "text": f"Yesterday {name} travelled to {place} for meeting number {i}.",
                "labels": ["person", "location"],
                "entities": [{"type": "person", "text": name}, {"type": "location", "text": place}],
            }
        )
        out.append(
            {
                "id": f"r{i}",
                "dataset": "demo_re",
                "task": "re",
                "text": f"The painter {name} was born in {place} during winter {1900 + i}.",
                "labels": ["born in"],
                "relations": [
                    {
                        "type": "born in",
                        "head": {"text": name, "type": "person"},
                        "tail": {"text": place, "type": "location"},
                    }
                ],
            }
        )
        out.append(
            {
                "id": f"e{i}",
                "dataset": "demo_ee",
                "task": "ee",
                "text": f"Patient {name} developed severe headaches after dose {i}.",
                "labels": ["adverse event"],
                "roles": ["Subject", "Effect"],
                "events": [
                    {
                        "type": "adverse event",
                        "trigger": {"text": "developed"},
                        "arguments": [
                            {"role": "Subject", "text": f"Patient {name}"},
                            {"role": "Effect", "text": "severe headaches"},
                        ],
                    }
                ],
            }
        )
    return out


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def _quoted(prompt: str, label: str) -> str:
    return re.search(label + r': "(.*?)"', prompt).group(1)


def _kind(body: dict) -> str:
    return body["response_format"]["json_schema"]["name"].removeprefix("perturb_")


def good_answer(body: dict) -> str:
    """A well-behaved perturbation model: valid candidates for every type."""
    prompt, kind = last_user_text(body), _kind(body)
    if kind == "replace_entity":
        t = re.search(r"\(type: (.*?)\)", prompt).group(1)
        cands = [{"mention": f"Zorb{c}", "type": t} for c in "xyz"]
    elif kind == "replace_triple":
        rel = _quoted(prompt, "Relation")
        cands = [{"head": f"Quill{c}", "tail": f"Vask{c}", "relation": rel} for c in "xyz"]
    elif kind == "replace_trigger":
        t = re.search(r"\(event type: (.*?)\)", prompt).group(1)
        cands = [{"trigger": w, "event_type": t} for w in ("suffered", "reported", "showed")]
    elif kind == "change_context":
        masks = len(set(re.findall(r"\[MASK\d+\]", prompt.split("Sentence: ")[1].split("\n")[0])))
        cands = [["quietly", "later", "again"] for _ in range(masks)]
    else:
        sentence = prompt.split("Sentence: ")[1].split("\n")[0]
        cands = [f"It was a calm day. {sentence}", f"{sentence} Nothing else happened."]
    return json.dumps({"candidates": cands})


def _bucket(body: dict, n: int) -> int:
    return int(hashlib.sha256(last_user_text(body).encode()).hexdigest(), 16) % n


def misbehaving_answer(body: dict) -> str:
    """Mostly good; some prompts get a type change, prose, or a span-breaking candidate."""
    b, kind = _bucket(body, 6), _kind(body)
    answer = json.loads(good_answer(body))
    if b == 0 and kind in ("replace_entity", "replace_triple", "replace_trigger"):
        for c in answer["candidates"]:
            for key in ("type", "relation", "event_type"):
                if key in c:
                    c[key] = "something else"
    elif b == 1:
        return "Sure! Here are some ideas: " + json.dumps(answer)[:30]
    elif b == 2:
        # Span-breaking: a multi-line mention, or a rewrite that drops the original sentence.
        for i, c in enumerate(answer["candidates"]):
            if isinstance(c, dict):
                for key in ("mention", "head", "trigger"):
                    if key in c:
                        c[key] = "two\nlines"
            elif isinstance(c, str):
                answer["candidates"][i] = "A completely different sentence."
            else:
                answer["candidates"][i] = ["[MASK1]"]
    return json.dumps(answer)


def transient_faults(body: dict, attempt: int) -> str | None:
    """The first attempt of some prompts fails (500, malformed body, dropped connection)."""
    if attempt > 0:
        return None
    return {0: "500", 1: "malformed", 2: "drop"}.get(_bucket(body, 5))


def perturb_args(records: Path, out: Path, server: ChatServer, *extra: str) -> list[str]:
    return [
        "perturb",
        *("--input", str(records), "--format", "records", "--out", str(out)),
        *("--base-url", server.base_url, "--model", "fake", "--max-retries", "3"),
        *("--timeout", "2", "--concurrency", "4", "--quiet", *extra),
    ]


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text().splitlines()]


def test_a_misbehaving_server_loses_nothing_and_counts_every_rejection(tmp_path):
    records = write_jsonl(tmp_path / "records.jsonl", make_records(10))
    out, summary = tmp_path / "out.jsonl", tmp_path / "summary.json"
    with ChatServer(misbehaving_answer, fault=transient_faults) as server:
        rc = main(perturb_args(records, out, server, "--summary", str(summary)))
    assert rc == 0
    table = json.loads(summary.read_text())
    assert len(table) == 7
    produced, rejects = read_jsonl(out), read_jsonl(tmp_path / "out.rejects.jsonl")
    for kind, s in table.items():
        # Every eligible job ends as a record or a counted rejection; no request failed for good.
        assert s["eligible"] == s["produced"] + sum(s["rejected"].values()), kind
        assert s["failed"] == {}
        assert s["produced"] == sum(r["meta"]["perturbation"] == kind for r in produced)
        assert sum(s["rejected"].values()) == sum(r["perturbation"] == kind for r in rejects)
    reasons = {r["reason"] for r in rejects}
    assert {"type changed", "not JSON", "bad mention", "original sentence not kept"} <= reasons
    assert all(r["answer"] and r["detail"] is not None for r in rejects)
    assert table["lowercase"]["not_applicable"] == 10  # the EE records
    assert table["replace_entity"]["eligible"] == 10 and table["replace_entity"]["produced"] > 0
    by_id = {r["id"]: r for r in make_records(10)}
    for row in produced:
        validate_example(copy.deepcopy(row), row["id"])
        parent = by_id[row["meta"]["parent_id"]]
        assert row["task"] == parent["task"] and row["labels"] == parent["labels"]
        assert row["id"] == f"{parent['id']}::{row['meta']['perturbation']}::0"
    # The run counted the retries the transient faults caused, and the tokens.
    llm = [table[k] for k in LLM_TYPES]
    assert sum(s["requests"] for s in llm) == server.requests
    assert sum(s["prompt_tokens"] for s in llm) > 0


def test_answers_that_never_come_are_counted_and_retried_by_the_next_run(tmp_path):
    records = write_jsonl(tmp_path / "records.jsonl", make_records(3))
    out, summary = tmp_path / "out.jsonl", tmp_path / "summary.json"

    def slow_for_ner(body, attempt):
        return "slow" if "meeting number" in last_user_text(body) else None

    args = ["--types", "llm", "--timeout", "0.3", "--max-retries", "1"]
    with ChatServer(good_answer, fault=slow_for_ner, slow_delay=1.0) as server:
        assert main(perturb_args(records, out, server, *args, "--summary", str(summary))) == 0
    table = json.loads(summary.read_text())
    assert table["replace_entity"]["failed"] == {"timeout": 3}
    assert table["replace_entity"]["produced"] == 0
    assert table["replace_triple"]["produced"] == 3
    with ChatServer(good_answer) as server:
        assert main(perturb_args(records, out, server, *args, "--summary", str(summary))) == 0
    table = json.loads(summary.read_text())
    assert table["replace_entity"]["produced"] == 3
    assert table["replace_triple"]["already_done"] == 3 and table["replace_triple"]["requests"] == 0


def test_a_rerun_is_idempotent_and_a_new_seed_sends_no_request(tmp_path):
    records = write_jsonl(tmp_path / "records.jsonl", make_records(4))
    out = tmp_path / "out.jsonl"
    with ChatServer(misbehaving_answer) as server:
        assert main(perturb_args(records, out, server)) == 0
        first = out.read_bytes()
        sent = server.requests
        assert main(perturb_args(records, out, server)) == 0
        assert out.read_bytes() == first and server.requests == sent
        assert main(perturb_args(records, out, server, "--seed", "1")) == 0
        assert server.requests == sent  # same prompts, answers from the cache
    rows = read_jsonl(out)
    seeds = {r["meta"]["perturbation_seed"] for r in rows}
    assert seeds == {0, 1}
    assert len(rows) == 2 * first.count(b"\n")


def test_a_killed_run_restarted_gives_the_same_files_and_asks_nothing_twice(tmp_path):
    records = write_jsonl(tmp_path / "records.jsonl", make_records(12))
    whole, part = tmp_path / "whole", tmp_path / "part"
    whole.mkdir(), part.mkdir()
    with ChatServer(misbehaving_answer, fault=transient_faults) as server:
        assert main(perturb_args(records, whole / "out.jsonl", server)) == 0
    prompts = len(server.answered)

    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    with ChatServer(misbehaving_answer, fault=transient_faults, latency=0.05) as server:
        args = perturb_args(records, part / "out.jsonl", server, "--concurrency", "2")
        proc = subprocess.Popen([sys.executable, "-m", "prouie.cli", *args], env=env)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and proc.poll() is None:
            out = part / "out.jsonl"
            if out.exists() and out.read_bytes().count(b"\n") >= 20:
                break
            time.sleep(0.02)
        assert proc.poll() is None, "the run ended before it could be killed"
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        first_answers = sum(server.answered.values())
    lines_at_kill = (part / "out.jsonl").read_bytes().count(b"\n")
    assert 20 <= lines_at_kill < (whole / "out.jsonl").read_bytes().count(b"\n")
    cached = (
        sqlite3.connect(part / "out.jsonl.cache.sqlite")
        .execute("SELECT COUNT(*) FROM answers")
        .fetchone()[0]
    )
    assert cached <= first_answers

    with ChatServer(misbehaving_answer, fault=transient_faults) as server:
        assert main(perturb_args(records, part / "out.jsonl", server)) == 0
    # The restart asked only for what the killed run never received.
    assert sum(server.answered.values()) == prompts - cached
    for name in ("out.jsonl", "out.rejects.jsonl"):
        assert (part / name).read_bytes() == (whole / name).read_bytes(), name


def test_a_torn_last_line_is_dropped_and_rewritten(tmp_path):
    records = write_jsonl(tmp_path / "records.jsonl", make_records(3))
    out = tmp_path / "out.jsonl"
    assert main(["perturb", "--input", str(records), "--format", "records", "--out", str(out),
                 "--types", "rule", "--quiet"]) == 0  # fmt: skip
    whole = out.read_bytes()
    out.write_bytes(whole[: whole.rfind(b"\n", 0, len(whole) - 1) + 1] + b'{"id": "torn')
    assert main(["perturb", "--input", str(records), "--format", "records", "--out", str(out),
                 "--types", "rule", "--quiet"]) == 0  # fmt: skip
    assert out.read_bytes() == whole


def test_llm_types_without_a_server_fail_clearly(tmp_path, capsys):
    records = write_jsonl(tmp_path / "records.jsonl", make_records(1))
    rc = main(["perturb", "--input", str(records), "--format", "records",
               "--out", str(tmp_path / "o.jsonl"), "--types", "replace_entity"])  # fmt: skip
    assert rc == 2
    assert "--base-url" in capsys.readouterr().err


def test_perturbed_records_feed_prepare_unchanged(tmp_path):
    records = write_jsonl(tmp_path / "records.jsonl", make_records(3))
    out = tmp_path / "out.jsonl"
    assert main(["perturb", "--input", str(records), "--format", "records", "--out", str(out),
                 "--types", "rule", "--quiet"]) == 0  # fmt: skip
    prepared = tmp_path / "prepared"
    rc = main(["prepare", "--input", str(out), "--format", "records", "--stage", "sa",
               "--out", str(prepared)])  # fmt: skip
    assert rc == 0
    info = json.loads((prepared / "dataset_info.json").read_text())
    rows = [
        json.loads(line)
        for entry in info.values()
        for line in (prepared / entry["file_name"]).read_text().splitlines()
    ]
    assert len(rows) == len(read_jsonl(out))
    # Lowercased inputs come with lowercased targets: the gold followed the text.
    lowered = [r for r in rows if r["input"] == r["input"].lower() and "yesterday" in r["input"]]
    assert lowered and all(r["output"] == r["output"].lower() for r in lowered)


SHARED = [
    ("conll", "wikigold/wikigold.conll.txt"),
    ("fewrel", "fewrel/val_wiki.json"),
    ("phee", "phee/test.json"),
]


def test_every_type_on_real_records_with_a_well_behaved_model(tmp_path):

    records = []
    for fmt, rel in SHARED:
        if not (DATA / rel).exists():
            pytest.skip(f"{DATA / rel} is absent: the real data sets live in ../shared/data")
        records += islice(read(fmt, DATA / rel), 25)
    out = tmp_path / "out.jsonl"
    with ChatServer(good_answer) as server, ChatClient(server.base_url, "m") as client:
        summary = perturb(records, list(TYPES), 0, out, client=client)
    for kind, s in summary.items():
        assert s.produced == s.eligible > 0, (kind, s.as_dict())
    by_id = {r["id"]: r for r in records}
    for row in read_jsonl(out):
        validate_example(copy.deepcopy(row), row["id"])
        parent = by_id[row["meta"]["parent_id"]]
        assert len(row["entities"]) == len(parent["entities"])
        assert [r["type"] for r in row["relations"]] == [r["type"] for r in parent["relations"]]
        assert [e["type"] for e in row["events"]] == [e["type"] for e in parent["events"]]


def test_perturbed_records_feed_plan_and_the_llamafactory_converters(tmp_path):
    pytest.importorskip("llamafactory")
    from llamafactory.data.converter import get_dataset_converter
    from llamafactory.data.parser import DatasetAttr
    from llamafactory.hparams import DataArguments
    from prouie.integrations import llamafactory as lf
    from prouie.targets import to_alpaca

    records = write_jsonl(tmp_path / "records.jsonl", make_records(4))
    out = tmp_path / "out.jsonl"
    assert main(["perturb", "--input", str(records), "--format", "records", "--out", str(out),
                 "--types", "rule", "--quiet"]) == 0  # fmt: skip
    rows = read_jsonl(out)
    files = {}
    for task in ("ner", "re", "ee"):
        files[task] = write_jsonl(
            tmp_path / f"{task}.jsonl", [r for r in rows if r["task"] == task]
        )
        assert lf.check_loadable(files[task], task=task) == sum(r["task"] == task for r in rows)
    data = tmp_path / "data"
    rc = main(["plan", "--ner", str(files["ner"]), "--re", str(files["re"]),
               "--ee", str(files["ee"]), "--out", str(data)])  # fmt: skip
    assert rc == 0
    info = json.loads((data / "dataset_info.json").read_text())
    assert info["prouie_cm_phase1_ner"]["formatting"] == "prouie_ner"
    args = DataArguments(dataset_dir=str(tmp_path), template="qwen3_nothink")
    conv = get_dataset_converter("prouie_re", DatasetAttr("file", "re.jsonl"), args)
    alpaca = get_dataset_converter("alpaca", DatasetAttr("file", "x.jsonl"), args)
    for row in read_jsonl(files["re"]):
        assert conv(copy.deepcopy(row)) == alpaca(to_alpaca(validate_example(row, "x"), "cm"))


def test_duplicate_ids_and_foreign_output_files_fail_clearly(tmp_path, capsys):
    rows = make_records(1)
    records = write_jsonl(tmp_path / "records.jsonl", rows + rows[:1])
    args = ["perturb", "--input", str(records), "--format", "records", "--types", "rule"]
    assert main([*args, "--out", str(tmp_path / "a.jsonl")]) == 2
    assert "'n0'" in capsys.readouterr().err
    foreign = write_jsonl(tmp_path / "foreign.jsonl", make_records(1))
    records = write_jsonl(tmp_path / "records.jsonl", rows)
    assert main([*args, "--out", str(foreign)]) == 2
    assert "foreign.jsonl:1: field 'meta.parent_id'" in capsys.readouterr().err
