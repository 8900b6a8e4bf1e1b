"""The bounded cache behind the credential, session and proxy caches: lapsed entries go first when full."""

from __future__ import annotations

from tracklight.auth.memo import Memo


def test_when_full_lapsed_entries_go_first_then_everything() -> None:
    memo: Memo[str, int] = Memo(3, lambda v: v < 0)  # negative values count as lapsed
    memo.put("a", -1)
    memo.put("b", 2)
    memo.put("c", 3)
    memo.put("d", 4)  # full: the lapsed "a" goes, the rest stay
    assert [memo.get(k) for k in "abcd"] == [None, 2, 3, 4]
    memo.put("e", 5)  # full and nothing lapsed: everything goes but the newcomer
    assert [memo.get(k) for k in "bcde"] == [None, None, None, 5]
    memo.forget("e")
    assert memo.get("e") is None
