"""The SQL of the event map rollups (migrations 050, 051 and 220), constants only.

Times in the store are fixed-width UTC text (``YYYY-MM-DDTHH:MM:SS.ffffffZ``): a minute key is
its first 16 characters, an hour key its first 13. Statements over a range take ``?1``/``?2``
(and ``?3``/``?4``: the range widened by the producer spans' clock slack).
"""

from __future__ import annotations

import re
from datetime import timedelta

from catalog.traffic import LATENCY_BUCKETS_MS

_MINUTE = timedelta(minutes=1)
_MERGE_GAP = timedelta(minutes=60)
"""Minute ranges closer than this are recomputed as one range (fewer statements)."""

# Milliseconds between two store times, exact to the microsecond (julianday() would round to
# tens of microseconds, enough to push a latency over a bucket bound).
_LATENCY_MS = ("ROUND((CAST(strftime('%s', s.start_at) AS INTEGER) - "
               "CAST(strftime('%s', e.occurred_at) AS INTEGER)) * 1000.0 + "
               "(CAST(substr(s.start_at, 20, 7) AS REAL) - "
               "CAST(substr(e.occurred_at, 20, 7) AS REAL)) * 1000.0, 3)")
_BUCKET = "CASE " + " ".join(
    f"WHEN p.ms <= {bound:g} THEN {i}"
    for i, bound in enumerate(LATENCY_BUCKETS_MS[:-1])) + f" ELSE {len(LATENCY_BUCKETS_MS) - 1} END"
_TOPIC = ("COALESCE(e.topic, json_extract(s.attributes, '$.\"messaging.destination.name\"'), "
          "json_extract(s.attributes, '$.\"messaging.destination\"'), '')")
_PAIR_COLUMNS = (f"s.trace_id AS st, s.span_id AS ss, e.source AS es, e.id AS ei, s.start_at, "
                 f"s.service, s.status, e.type, {_TOPIC} AS topic, {_LATENCY_MS} AS ms")
_CONSUMED = f"""
    SELECT {_PAIR_COLUMNS}
      FROM spans s JOIN events e ON e.trace_id = s.trace_id AND e.span_id = s.parent_id
     WHERE s.kind = 'consumer' AND s.start_at >= ?1 AND s.start_at < ?2
    UNION ALL
    SELECT {_PAIR_COLUMNS}
      FROM spans s, json_each(s.links) j
      JOIN events e ON e.trace_id = json_extract(j.value, '$[0]')
                   AND e.span_id = json_extract(j.value, '$[1]')
     WHERE s.kind = 'consumer' AND s.links != '[]' AND s.start_at >= ?1 AND s.start_at < ?2
       AND NOT (e.trace_id = s.trace_id AND e.span_id IS s.parent_id)  -- counted as the parent
"""  # noqa: S608 -- built from constants only

# Events per minute down to their dataschema (migration 220), then the map's produce rows as
# their sums: the events of a minute are read once.
_PRODUCE_BY_SCHEMA_SQL = """
INSERT OR REPLACE INTO catalog_produce_minute
SELECT substr(occurred_at, 1, 16), source, type, COALESCE(topic, ''), COALESCE(dataschema, ''),
       COUNT(*), MIN(occurred_at), MAX(occurred_at)
  FROM events
 WHERE occurred_at >= ?1 AND occurred_at < ?2
 GROUP BY 1, 2, 3, 4, 5
"""

_PRODUCE_SQL = """
INSERT OR REPLACE INTO catalog_traffic_minute
SELECT minute, 'produce', service, event_type, topic, SUM(count), 0, 0, MIN(first_seen),
       MAX(last_seen)
  FROM catalog_produce_minute
 WHERE minute >= substr(?1, 1, 16) AND minute < substr(?2, 1, 16)
 GROUP BY 1, 3, 4, 5
"""

# Violations and producer-span errors are few: counted from their side and set on the rows above.
_VIOLATIONS_SQL = """
INSERT INTO catalog_traffic_minute
SELECT substr(e.occurred_at, 1, 16), 'produce', e.source, e.type, COALESCE(e.topic, ''), 0,
       COUNT(*), 0, '', ''
  FROM (SELECT DISTINCT source, id FROM violations
         WHERE occurred_at >= ?5 AND occurred_at < ?6) v
  JOIN events e ON e.source = v.source AND e.id = v.id
 WHERE e.occurred_at >= ?1 AND e.occurred_at < ?2
 GROUP BY 1, 3, 4, 5
    ON CONFLICT DO UPDATE SET violations = excluded.violations
"""

_PRODUCER_ERRORS_SQL = """
INSERT INTO catalog_traffic_minute
SELECT substr(e.occurred_at, 1, 16), 'produce', e.source, e.type, COALESCE(e.topic, ''), 0, 0,
       COUNT(*), '', ''
  FROM spans s JOIN events e ON e.trace_id = s.trace_id AND e.span_id = s.span_id
 WHERE s.kind = 'producer' AND s.status = 'error' AND s.start_at >= ?3 AND s.start_at < ?4
   AND e.occurred_at >= ?1 AND e.occurred_at < ?2
 GROUP BY 1, 3, 4, 5
    ON CONFLICT DO UPDATE SET errors = excluded.errors
"""

_LATENCY_SQL = f"""
INSERT OR REPLACE INTO catalog_latency_minute
SELECT substr(p.start_at, 1, 16), p.service, p.type, p.topic, {_BUCKET}, COUNT(*),
       SUM(p.status = 'error'), MIN(p.start_at), MAX(p.start_at)
  FROM ({_CONSUMED}) p
 GROUP BY 1, 2, 3, 4, 5
"""  # noqa: S608

_CONSUME_SQL = """
INSERT OR REPLACE INTO catalog_traffic_minute
SELECT minute, 'consume', service, event_type, topic, SUM(count), 0, SUM(errors),
       MIN(first_seen), MAX(last_seen)
  FROM catalog_latency_minute
 WHERE minute >= substr(?1, 1, 16) AND minute < substr(?2, 1, 16)
 GROUP BY 1, 3, 4, 5
"""

_RANGE_STATEMENTS = (_PRODUCE_BY_SCHEMA_SQL, _PRODUCE_SQL, _VIOLATIONS_SQL, _PRODUCER_ERRORS_SQL,
                     _LATENCY_SQL, _CONSUME_SQL)

# The hourly tier (migration 051): hours [?1, ?2) (as minute keys) summed from their minutes.
_HOUR_STATEMENTS = (
    """
INSERT OR REPLACE INTO catalog_traffic_hour
SELECT substr(minute, 1, 13), kind, service, event_type, topic, SUM(count), SUM(violations),
       SUM(errors), MIN(first_seen), MAX(last_seen)
  FROM catalog_traffic_minute WHERE minute >= ?1 AND minute < ?2
 GROUP BY 1, 2, 3, 4, 5
""",
    """
INSERT OR REPLACE INTO catalog_latency_hour
SELECT substr(minute, 1, 13), service, event_type, topic, bucket, SUM(count)
  FROM catalog_latency_minute WHERE minute >= ?1 AND minute < ?2
 GROUP BY 1, 2, 3, 4, 5
""",
    """
INSERT OR REPLACE INTO catalog_schema_hour
SELECT event_type, service, dataschema, substr(minute, 1, 13), SUM(count)
  FROM catalog_produce_minute WHERE minute >= ?1 AND minute < ?2
 GROUP BY 1, 2, 3, 4
""",
)
_HOUR = timedelta(hours=1)
_SPAN_SLACK = timedelta(minutes=5)
"""A producer span starts within this of its event's time (clock skew between hosts)."""
_VIOLATION_SLACK = timedelta(hours=1)
"""A violation's ``occurred_at`` is its event's; this much leeway, should it be stamped later."""

# Minutes touched by rows stored after a mark: (source table, SQL over rowids (?1, ?2]).
_TOUCHED = {
    "events": (
        "SELECT DISTINCT substr(occurred_at, 1, 16) AS m FROM events WHERE rowid > ?1 AND "
        "rowid <= ?2",
        # consumer spans stored before the event they consumed: recompute their minutes too
        "SELECT DISTINCT substr(s.start_at, 1, 16) AS m FROM events e JOIN spans s ON "
        "s.trace_id = e.trace_id AND s.parent_id = e.span_id WHERE e.rowid > ?1 AND "
        "e.rowid <= ?2 AND e.trace_id IS NOT NULL AND s.kind = 'consumer'",
        "SELECT DISTINCT substr(s.start_at, 1, 16) AS m FROM events e JOIN span_links l ON "
        "l.linked_trace_id = e.trace_id AND l.linked_span_id = e.span_id JOIN spans s ON "
        "s.trace_id = l.trace_id AND s.span_id = l.span_id WHERE e.rowid > ?1 AND "
        "e.rowid <= ?2 AND e.trace_id IS NOT NULL AND s.kind = 'consumer'",
    ),
    "spans": (
        "SELECT DISTINCT substr(start_at, 1, 16) AS m FROM spans WHERE rowid > ?1 AND "
        "rowid <= ?2 AND kind = 'consumer'",
        "SELECT DISTINCT substr(e.occurred_at, 1, 16) AS m FROM spans s JOIN events e ON "
        "e.trace_id = s.trace_id AND e.span_id = s.span_id WHERE s.rowid > ?1 AND "
        "s.rowid <= ?2 AND s.kind = 'producer'",
    ),
    "violations": (
        "SELECT DISTINCT substr(e.occurred_at, 1, 16) AS m FROM violations v JOIN events e ON "
        "e.source = v.source AND e.id = v.id WHERE v.rowid > ?1 AND v.rowid <= ?2",
    ),
}


_READS_SPANS = frozenset({_PRODUCER_ERRORS_SQL, _LATENCY_SQL, *_TOUCHED["events"][1:],
                          *_TOUCHED["spans"]})
"""Statements that join spans: skipped while no span is stored (they would find nothing, and
a SQLite store keeps no trace index on its events then, so they would read every event)."""

# On the first refresh every minute is touched: the extent of each table is enough.
_EXTENT = {
    "events": "SELECT MIN(occurred_at) AS a, MAX(occurred_at) AS b FROM events",
    "spans": "SELECT MIN(start_at) AS a, MAX(start_at) AS b FROM spans",
    "violations": "SELECT NULL AS a, NULL AS b",  # their events are in the events' extent
}


def _tiered(columns: str, table: str) -> str:
    """Rows of the window from the minute and hour tables of one rollup (``table`` prefix)."""
    return (f"SELECT {columns} FROM {table}_minute WHERE minute >= ?1 AND minute < ?2 "  # noqa: S608
            f"UNION ALL SELECT {columns} FROM {table}_hour WHERE hour >= ?3 AND hour < ?4 "
            f"UNION ALL SELECT {columns} FROM {table}_minute WHERE minute >= ?5 AND minute < ?6")


_READ_LATENCY = ("SELECT service, event_type, topic, bucket, SUM(count) AS n FROM ("  # noqa: S608
                 + _tiered("service, event_type, topic, bucket, count", "catalog_latency")
                 + ") GROUP BY 1, 2, 3, 4")
_READ_TRAFFIC = ("SELECT kind, service, event_type, topic, SUM(count) AS n, "  # noqa: S608
                 "SUM(violations) AS v, SUM(errors) AS err, MIN(first_seen) AS f, "
                 "MAX(last_seen) AS l FROM ("
                 + _tiered("kind, service, event_type, topic, count, violations, errors, "
                           "first_seen, last_seen", "catalog_traffic")
                 + ") GROUP BY 1, 2, 3, 4")


def _highest_parameter(sql: str) -> int:
    """How many positional parameters (``?1`` … ``?N``) a statement takes."""
    return max((int(n) for n in re.findall(r"\?(\d+)", sql)), default=0)
