"""The set measures of SFR (paper Eqs. 3-6) and the trigger-aligned argument F1 of EE (Eq. 10).

Every scorer of :mod:`prouie.sfr.scorers` is written with these functions and nothing else::

    cov(G, P)   = |G & P| / max(1, |G|)                                                   (Eq. 3)
    f1(G, P)    = 2 |G & P| / (|G| + |P|)         (1.0 when both sets are empty)         (Eq. 4)
    Delta(G, P) = |G ^ P| / max(1, |G|)                                                   (Eq. 5)
    Djac(G, P)  = 1 - |G & P| / max(1, |G | P|)                                           (Eq. 6)

``perfect_empty`` (an :class:`~prouie.sfr.config.SFRConfig` option) gives a term whose gold and
predicted sets are both empty its best value; the paper's formulas give cov 0 and Djac 1 there.
"""

from __future__ import annotations

from collections.abc import Set

from prouie.units import Units


def cov(gold: Set, pred: Set, perfect_empty: bool = False) -> float:
    """Coverage (Eq. 3): ``|G & P| / max(1, |G|)``.

    >>> cov(frozenset({"a", "b"}), frozenset({"a", "c"}))
    0.5
    """
    if not gold:
        return 1.0 if perfect_empty and not pred else 0.0
    return len(gold & pred) / len(gold)


def f1(gold: Set, pred: Set) -> float:
    """Micro-F1 of one sentence (Eq. 4): ``2 |G & P| / (|G| + |P|)``; 1.0 when both are empty.

    >>> f1(frozenset({"a", "b"}), frozenset({"a"}))
    0.6666666666666666
    """
    n = len(gold) + len(pred)
    return 2 * len(gold & pred) / n if n else 1.0


def delta(gold: Set, pred: Set) -> float:
    """Normalised symmetric difference (Eq. 5): ``|G ^ P| / max(1, |G|)``.

    >>> delta(frozenset({"a"}), frozenset({"b", "c"}))
    3.0
    """
    return len(gold ^ pred) / (len(gold) or 1)


def djac(gold: Set, pred: Set, perfect_empty: bool = False) -> float:
    """Jaccard distance (Eq. 6): ``1 - |G & P| / max(1, |G | P|)``.

    >>> djac(frozenset({"a", "b"}), frozenset({"b", "c"}))
    0.6666666666666667
    """
    union = len(gold | pred)
    if not union:
        return 0.0 if perfect_empty else 1.0
    return 1.0 - len(gold & pred) / union


def aligned_argument_f1(gold: Units, pred: Units) -> float:
    """F_full (Section 2.5.2, EE): F1 of role-argument pairs within matched trigger groups.

    Within each event type every gold trigger group is matched to at most one predicted group (and
    vice versa) so that the summed overlap of role-argument pairs is maximal; matched overlaps are
    true positives, every other pair a false positive or negative. With no role-argument pair on
    either side the score is 1.0.

    >>> g = Units("ee", groups=frozenset({("attack", "hit", frozenset({("victim", "him")}))}))
    >>> p = Units("ee", groups=frozenset({("attack", "struck", frozenset({("victim", "him")}))}))
    >>> aligned_argument_f1(g, p)
    1.0
    """
    gold_groups, pred_groups = _by_event_type(gold), _by_event_type(pred)
    n = sum(len(args) for _, _, args in gold.groups) + sum(len(a) for _, _, a in pred.groups)
    if not n:
        return 1.0
    tp = sum(
        max_overlap(groups, pred_groups[event])
        for event, groups in gold_groups.items()
        if event in pred_groups
    )
    return 2 * tp / n


def _by_event_type(units: Units) -> dict[str, list[frozenset]]:
    """The role-argument sets of the trigger groups, by event type."""
    by_type: dict[str, list[frozenset]] = {}
    for event, _, args in units.groups:
        by_type.setdefault(event, []).append(args)
    return by_type


# Above this many groups of one event type on the smaller side, matching falls back to greedy
# (largest overlap first), which can only under-count the overlap. A sentence rarely has more than
# a few triggers of one event type; the exact search below grows as 2 ** (smaller side).
EXACT_MATCHING_LIMIT = 12


def max_overlap(gold: list[frozenset], pred: list[frozenset]) -> int:
    """Largest total overlap over one-to-one matchings of ``gold`` sets to ``pred`` sets.

    Exact (dynamic programming over the subsets of the smaller side) up to
    :data:`EXACT_MATCHING_LIMIT` sets on the smaller side, greedy beyond.

    >>> max_overlap([frozenset("ab"), frozenset("c")], [frozenset("abc")])
    2
    """
    if len(gold) > len(pred):
        gold, pred = pred, gold
    weights = [[len(g & p) for p in pred] for g in gold]
    if len(gold) > EXACT_MATCHING_LIMIT:
        return greedy_overlap(weights)
    best = {0: 0}  # subset of matched rows (bit mask) -> largest overlap so far
    for j in range(len(pred)):
        column = [(1 << i, row[j]) for i, row in enumerate(weights) if row[j]]
        new = dict(best)
        for mask, value in best.items():
            for bit, w in column:
                if not mask & bit and new.get(mask | bit, -1) < value + w:
                    new[mask | bit] = value + w
        best = new
    return max(best.values())


def greedy_overlap(weights: list[list[int]]) -> int:
    """Total overlap of the greedy matching: largest cell first, each row and column used once.

    >>> greedy_overlap([[3, 2], [2, 0]])
    3
    """
    cells = sorted(
        ((w, i, j) for i, row in enumerate(weights) for j, w in enumerate(row) if w), reverse=True
    )
    used_i: set[int] = set()
    used_j: set[int] = set()
    total = 0
    for w, i, j in cells:
        if i not in used_i and j not in used_j:
            used_i.add(i)
            used_j.add(j)
            total += w
    return total
