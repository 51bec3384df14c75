"""`prouie plan`: the paper's stage mixes (A.3, Table 9) as exact num_samples."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from prouie.cli import main
from prouie.plan import (
    STAGE_BY_NAME,
    STAGES,
    entry_name,
    format_plan,
    make_plan,
    plan_stage,
    write_plan,
)
from prouie.records import RecordError

FIXTURES = Path(__file__).parent / "fixtures" / "llamafactory"
PLENTY = {"ner": 10**7, "re": 10**7, "ee": 10**7}


def test_paper_counts_and_ratios_are_kept_exactly_when_data_suffices() -> None:
    got = {s.name: plan_stage(s, PLENTY) for s in STAGES}
    assert got["cm_phase1"].counts == {"ner": 845_646}
    # The paper's 44,951 + 179,794 is 2:7.9996; the largest exact 2:8 mix within it.
    assert got["cm_phase2"].counts == {"ner": 44_948, "re": 179_792}
    assert got["cm_phase2"].achieved == (2, 8)
    assert got["cm_phase3"].counts == {"ner": 7_491, "re": 7_491, "ee": 9_988}
    assert got["cm_phase3"].achieved == (3, 3, 4)
    assert got["sa"].counts == {"re": 9_000, "ee": 9_000}
    assert got["sa"].achieved == (1, 1)
    for sp in got.values():
        assert sp.exact
        assert not any("scaled" in n for n in sp.notes)
    assert any("not exactly 2:8" in n for n in got["cm_phase2"].notes)


def test_paper_counts_hold_with_exactly_the_paper_sized_pools() -> None:
    pools = {"ner": 845_646, "re": 179_794, "ee": 9_991}
    sp = plan_stage(STAGE_BY_NAME["cm_phase3"], pools)
    assert sp.counts == {"ner": 7_491, "re": 7_491, "ee": 9_988}
    assert sp.unit == sp.target_unit


def test_short_data_scales_the_whole_mix_down_and_says_so() -> None:
    sp = plan_stage(STAGE_BY_NAME["cm_phase2"], {"ner": 1_000_000, "re": 1_000})
    assert sp.counts == {"ner": 250, "re": 1_000}
    assert sp.achieved == (2, 8)
    note = next(n for n in sp.notes if n.startswith("scaled"))
    assert "RE has 1,000 records" in note and "179,792" in note
    # NER was not the limit, so the note does not blame it.
    assert "NER has" not in note


def test_single_task_stage_uses_all_records_when_short() -> None:
    sp = plan_stage(STAGE_BY_NAME["cm_phase1"], {"ner": 17})
    assert sp.counts == {"ner": 17}
    assert any("all of them are used" in n for n in sp.notes)


def test_too_little_data_for_one_unit_fails_naming_the_task() -> None:
    with pytest.raises(ValueError, match="EE has 3 records"):
        plan_stage(STAGE_BY_NAME["cm_phase3"], {"ner": 100, "re": 100, "ee": 3})


def test_missing_task_fails() -> None:
    with pytest.raises(ValueError, match="no EE records"):
        plan_stage(STAGE_BY_NAME["sa"], {"re": 100})


def test_oversample_keeps_the_target_and_says_records_repeat() -> None:
    sp = plan_stage(STAGE_BY_NAME["sa"], {"re": 20_000, "ee": 10}, oversample=True)
    assert sp.counts == {"re": 9_000, "ee": 9_000}
    assert any("with replacement" in n for n in sp.notes)


def test_scale_multiplies_the_paper_mix() -> None:
    sp = plan_stage(STAGE_BY_NAME["cm_phase2"], PLENTY, scale=0.01)
    assert sp.counts == {"ner": 449, "re": 1_796}
    assert sp.exact
    with pytest.raises(ValueError, match="positive"):
        plan_stage(STAGE_BY_NAME["cm_phase2"], PLENTY, scale=0)


@given(
    stage=st.sampled_from(STAGES),
    ner=st.integers(1, 300_000),
    re_=st.integers(1, 300_000),
    ee=st.integers(1, 30_000),
    scale=st.sampled_from([1.0, 0.5, 0.001]),
)
def test_any_data_gives_an_exact_ratio_without_repeats(stage, ner, re_, ee, scale) -> None:
    available = {"ner": ner, "re": re_, "ee": ee}
    try:
        sp = plan_stage(stage, available, scale=scale)
    except ValueError as exc:
        # Only when some task cannot fill one unit of the ratio (or the scale leaves none).
        assert "one" in str(exc)
        assert any(available[t] < r for t, r in zip(stage.tasks, stage.reduced, strict=True)) or (
            int(stage.paper_unit * scale) == 0
        )
        return
    assert sp.exact
    for t in stage.tasks:
        assert 0 < sp.counts[t] <= available[t]
    # Maximal: one more unit would need a repeat or exceed the (scaled) paper mix.
    one_more = [(sp.unit + 1) * r for r in stage.reduced]
    assert sp.unit == sp.target_unit or any(
        n > available[t] for n, t in zip(one_more, stage.tasks, strict=True)
    )
    if sp.unit < sp.target_unit:
        assert any(n.startswith("scaled") or "all of them" in n for n in sp.notes)


def _copy(tmp: Path, name: str, dest: str | None = None) -> Path:
    out = tmp / (dest or name)
    out.write_text((FIXTURES / name).read_text(encoding="utf-8"), encoding="utf-8")
    return out


def test_write_plan_for_records_names_the_converters(tmp_path: Path) -> None:
    ner, re_, ee = (_copy(tmp_path, f"{t}.jsonl") for t in ("ner", "re", "ee"))
    out = tmp_path / "data"
    out.mkdir()
    (out / "dataset_info.json").write_text(json.dumps({"mine": {"file_name": "x.json"}}))
    plan = make_plan({"ner": [ner], "re": [re_], "ee": [ee]})
    write_plan(plan, out)
    info = json.loads((out / "dataset_info.json").read_text())
    assert info["mine"] == {"file_name": "x.json"}  # other entries are kept
    assert info[entry_name("cm_phase1", "ner")] == {
        "file_name": str(ner.resolve()),
        "formatting": "prouie_ner",
        "num_samples": 6,
    }
    assert info["prouie_cm_phase2_ner"]["num_samples"] == 2
    assert info["prouie_cm_phase2_re"]["num_samples"] == 8
    assert [info[f"prouie_cm_phase3_{t}"]["num_samples"] for t in ("ner", "re", "ee")] == [3, 3, 4]
    assert info["prouie_sa_re"] == {
        "file_name": str(re_.resolve()),
        "formatting": "prouie_re_sa",
        "num_samples": 4,
    }
    assert info["prouie_sa_ee"]["formatting"] == "prouie_ee_sa"
    text = format_plan(plan)
    assert "achieved 2:8 = 2:8 (exact)" in text
    assert "achieved 3:3:4 = 3:3:4 (exact)" in text
    assert "achieved 4:4 = 1:1 (exact)" in text


def test_several_files_per_task_become_one_folder_entry(tmp_path: Path) -> None:
    a = _copy(tmp_path, "ner.jsonl", "a.jsonl")
    b = _copy(tmp_path, "ner.jsonl", "b.jsonl")
    out = tmp_path / "data"
    plan = make_plan({"ner": [a, b]}, stages=["cm_phase1"])
    write_plan(plan, out)
    entry = json.loads((out / "dataset_info.json").read_text())["prouie_cm_phase1_ner"]
    assert entry["num_samples"] == 12
    folder = out / entry["file_name"]
    assert sorted(p.name for p in folder.iterdir()) == ["00-a.jsonl", "01-b.jsonl"]
    assert (folder / "00-a.jsonl").read_text() == a.read_text()


def test_alpaca_inputs_need_their_own_sa_files(tmp_path: Path) -> None:
    rows = [{"instruction": "i", "input": f"x{i}", "output": "{}"} for i in range(10)]
    cm = tmp_path / "toy_re_cm.jsonl"
    cm.write_text("".join(json.dumps(r) + "\n" for r in rows))
    sa = tmp_path / "toy_re_sa.jsonl"
    sa.write_text(cm.read_text())
    ee = _copy(tmp_path, "ee.jsonl")
    with pytest.raises(ValueError, match="--sa-re"):
        make_plan({"re": [cm], "ee": [ee]}, stages=["sa"])
    plan = make_plan({"re": [cm], "ee": [ee]}, {"re": [sa]}, stages=["sa"])
    entries = plan.dataset_info(tmp_path / "data")
    assert entries["prouie_sa_re"]["formatting"] == "alpaca"
    assert entries["prouie_sa_re"]["columns"] == {
        "prompt": "instruction",
        "query": "input",
        "response": "output",
    }
    assert entries["prouie_sa_re"]["file_name"] == str(sa.resolve())
    assert entries["prouie_sa_ee"]["formatting"] == "prouie_ee_sa"


def test_a_task_cannot_mix_records_and_alpaca(tmp_path: Path) -> None:
    rec = _copy(tmp_path, "ner.jsonl")
    alp = tmp_path / "alp.jsonl"
    alp.write_text(json.dumps({"instruction": "i", "input": "x", "output": "{}"}) + "\n")
    plan = make_plan({"ner": [rec, alp]}, stages=["cm_phase1"])
    with pytest.raises(ValueError, match="mix canonical records and alpaca"):
        plan.dataset_info(tmp_path / "data")


def test_records_of_the_wrong_task_fail_with_file_and_line(tmp_path: Path) -> None:
    re_ = _copy(tmp_path, "re.jsonl")
    with pytest.raises(RecordError, match=r"re\.jsonl:1: field 'task'"):
        make_plan({"ner": [re_]}, stages=["cm_phase1"])


def test_bad_alpaca_row_fails_with_file_line_and_field(tmp_path: Path) -> None:
    alp = tmp_path / "alp.jsonl"
    alp.write_text(
        json.dumps({"instruction": "i", "input": "x", "output": "{}"})
        + "\n\n"
        + json.dumps({"instruction": "i", "input": "x", "output": 3})
        + "\n"
    )
    with pytest.raises(RecordError, match=r"alp\.jsonl:3: field 'output'"):
        make_plan({"ner": [alp]}, stages=["cm_phase1"])


def test_missing_task_names_the_flag(tmp_path: Path) -> None:
    ner = _copy(tmp_path, "ner.jsonl")
    with pytest.raises(ValueError, match="pass --re"):
        make_plan({"ner": [ner]}, stages=["cm_phase2"])


def test_cli_prints_the_plan_and_writes_entries(tmp_path: Path, capsys) -> None:
    files = [str(_copy(tmp_path, f"{t}.jsonl")) for t in ("ner", "re", "ee")]
    out = tmp_path / "data"
    argv = ["plan", "--ner", files[0], "--re", files[1], "--ee", files[2], "--out", str(out)]
    assert main([*argv, "--dry-run"]) == 0
    assert not (out / "dataset_info.json").exists()
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "cm_phase3 (recipes/cm_phase3.yaml, CM targets): NER:RE:EE = 3:3:4" in printed
    assert "scaled the whole mix down" in printed
    info = json.loads((out / "dataset_info.json").read_text())
    assert len([k for k in info if k.startswith("prouie_")]) == 8


def test_cli_reports_bad_input_as_an_error(tmp_path: Path, capsys) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"task": "ner", "text": "a", "labels": ["x"], "entities": [{"type": "y"}]}\n')
    assert main(["plan", "--ner", str(bad), "--out", str(tmp_path), "--stages", "cm_phase1"]) == 2
    assert "bad.jsonl:1" in capsys.readouterr().err
