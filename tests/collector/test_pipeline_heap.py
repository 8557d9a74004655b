"""`settle_process`: what an entry point calls once start-up is done."""

from __future__ import annotations

import gc
import sys

from collector.pipeline import settle_process


def test_settle_process_freezes_the_heap_widens_the_young_generation_and_sets_the_switch() -> None:
    before, switch = gc.get_threshold(), sys.getswitchinterval()
    try:
        kept = [object() for _ in range(10)]
        settle_process(young=12_345, switch_interval=0.00125)
        assert gc.get_freeze_count() > len(kept)
        assert gc.get_threshold()[0] == 12_345
        assert sys.getswitchinterval() == 0.00125
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)
        sys.setswitchinterval(switch)
