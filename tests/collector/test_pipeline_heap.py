"""`settle_heap`: what an entry point calls once start-up is done."""

from __future__ import annotations

import gc

from collector.pipeline import settle_heap


def test_settle_heap_freezes_the_start_up_heap_and_widens_the_young_generation() -> None:
    before = gc.get_threshold()
    try:
        kept = [object() for _ in range(10)]
        settle_heap(young=12_345)
        assert gc.get_freeze_count() > len(kept)
        assert gc.get_threshold()[0] == 12_345
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)
