"""The Collector health page's partitions column: a topic once, its partitions as runs."""

from __future__ import annotations

from dashboard.collector_queries import compact_partitions


def test_runs_of_consecutive_partitions_are_ranges_per_topic() -> None:
    assert compact_partitions(["payments[0]", "orders[2]", "orders[0]", "orders[1]",
                               "orders[5]", "orders[7]", "orders[6]"]) == (
        "orders[0-2, 5-7], payments[0]")


def test_one_partition_reads_as_before_and_nothing_is_empty() -> None:
    assert compact_partitions(["orders[0]"]) == "orders[0]"
    assert compact_partitions([]) == ""


def test_a_name_not_of_the_topic_partition_form_is_kept_as_it_is() -> None:
    assert compact_partitions(["orders[1]", "queue:shipping", "a[b]", "orders[1]"]) == (
        "orders[1], queue:shipping, a[b]")
