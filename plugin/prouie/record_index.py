"""Canonical records looked up by id and by input text: how a row that does not carry its record
(a LLaMA-Factory prediction, an alpaca prompt) finds it, never by line order.

One sentence often sits in several data sets (the NER and the RE records of one corpus), so a
lookup by text takes a predicate that prefers the record the row's own schema or instruction
names; records sharing a text are otherwise taken in file order. The index remembers which records
were used, so that a file covering only some of them can say so.
"""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from prouie.records import Example, RecordError, iter_rows, validate_example


@dataclass
class RecordIndex:
    """Canonical records by id and by input text, with the ids already used."""

    by_id: dict[str, tuple[str, Example]] = field(default_factory=dict)
    by_text: dict[str, deque[tuple[str, Example]]] = field(default_factory=dict)
    used: set[str] = field(default_factory=set)
    total: Counter = field(default_factory=Counter)

    @classmethod
    def from_files(cls, paths: Iterable[str | Path]) -> RecordIndex:
        """Index the records of every file, jsonl or JSON array (ids must be unique across them)."""
        index = cls()
        for path in paths:
            path = Path(path)
            if not path.exists():
                raise FileNotFoundError(f"records file not found: {path}")
            for where, obj in iter_rows(path):
                index.add(where, validate_example(obj, where))
        return index

    def add(self, where: str, rec: Example) -> None:
        rid = str(rec["id"])
        if rid in self.by_id:
            raise RecordError(where, "id", f"{rid!r} repeats the record at {self.by_id[rid][0]}")
        self.by_id[rid] = (where, rec)
        self.by_text.setdefault(rec["text"], deque()).append((where, rec))
        self.total[(rec["task"], rec["dataset"])] += 1

    def mark(self, where: str, rec: Example, field: str = "record") -> None:
        """Count ``rec`` as used (a record of these files, met for the first time)."""
        rid = str(rec["id"])
        if rid in self.used:
            raise RecordError(
                where, field, f"its record ({rec['id']!r}) was already used by an earlier row"
            )
        if rid in self.by_id:
            self.used.add(rid)

    def take_by_text(
        self, where: str, text: str, prefer: Callable[[Example], bool], field: str
    ) -> Example:
        """The first unused record with input ``text`` that ``prefer`` accepts, else the first
        unused one; marked as used. Errors name ``where`` and the row's ``field``."""
        queue = self.by_text.get(text)
        if queue is None:
            raise RecordError(
                where, field, "no record has its input text (records of another split?)"
            )
        # Drop records taken by id meanwhile; then prefer the one the row names.
        while queue and str(queue[0][1]["id"]) in self.used:
            queue.popleft()
        if not queue:
            raise RecordError(
                where,
                field,
                "every record with its input text was already used by an earlier row (a repeat?)",
            )
        unused = (rec for _, rec in queue if str(rec["id"]) not in self.used)
        chosen = next((rec for rec in unused if prefer(rec)), queue[0][1])
        self.mark(where, chosen, field)
        return chosen

    def coverage(self) -> dict[str, Any]:
        """How many records were used, in all and per (task, dataset)."""
        scored: Counter = Counter()
        for rid in self.used:
            rec = self.by_id[rid][1]
            scored[(rec["task"], rec["dataset"])] += 1
        per = [
            {"task": t, "dataset": d, "records": n, "scored": scored[(t, d)]}
            for (t, d), n in sorted(self.total.items())
        ]
        total, done = sum(self.total.values()), len(self.used)
        return {"records": total, "scored": done, "subset": done < total, "datasets": per}
