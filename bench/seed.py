"""Seed the bench database (``complaints_bench`` on the local PostgreSQL) with N complaints, fast.

Run from the project root:

    .venv/bin/python bench/seed.py                 # 1,000,000 complaints (the default)
    .venv/bin/python bench/seed.py --n 50000       # a quick run
    .venv/bin/python bench/seed.py --reset         # empty the complaints tables first

The rows are written by PostgreSQL itself (``INSERT ... SELECT FROM generate_series``), not by the
ORM row by row: about a minute for a million on two cores. What they look like:

* received over the five years up to now, more recently than long ago (a growing company);
* 10% open, spread over the six open states: the three stage-clock states (cs_team, cs_manager,
  formal_written) received within the last 78 days, so their ADR date is still ahead (a few
  reopened after deadlock are older, with their deadlock letter already issued); deadlock,
  adr_referred and court received 3 months to 2 years ago, with their deadlock letter issued;
* the other 90% withdrawn, resolved (within the last 8 weeks, so not yet auto-closed) or closed
  (8 weeks after they were resolved); 2% of the older ones went to CISAS, most with an accepted
  remedy carried out, a few carried out late or still outstanding (flagged);
* the stage clock: ``response_due_at`` is the end of the London day 21 calendar days after the
  stage started (an approximation of 15 working days), ``adr_eligible_date`` 80 calendar days after
  receipt (56 working days); most were answered in time, and every reply that became overdue is
  already flagged, so the sweeps find nothing due right after seeding.

Seeded rows have ``account_number`` ``S<9 digits>`` (so their count can be checked); the "newly due"
cases that ``add_newly_due`` adds for the sweep benchmark have ``D<9 digits>``. References are
``CMP-<year>-<n>``, numbered per year in order of receipt, and ``ReferenceCounter`` is moved past
them, so the portal's own filing continues without a clash.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import BENCH_DB, setup_django

TABLE = "complaints_complaint"
LONDON = "'Europe/London'"
OPEN_SHARE = 0.10
CHUNK = 100_000
# Used only in statements run without parameters, so "%" is literal.
SEED_TAG_SQL = "account_number LIKE 'S%'"
AGENTS = 20
MANAGERS = 2

# Every column but id, in the order the INSERTs below give them.
COLUMNS = """
    reference, customer_name, email, phone, postal_address, account_number, nation, category,
    description, channel, received_at, preferred_response, vulnerable, vulnerability_notes, state,
    stage_started_at, response_due_at, responded_at, overdue_flagged_at, adr_eligible_date,
    deadlock_issued_at, cisas_reference, adr_referred_on, adr_outcome, adr_remedy, adr_accepted_on,
    remedy_due_date, remedy_completed_at, remedy_overdue_flagged_at, court_started_on, resolved_at,
    resolution_summary, closed_at, withdrawn_at, assigned_to_id, tracking_token_hash, created_at,
    updated_at
"""

# The state columns both generators produce, in this order, into the temporary table seed_rows.
STATE_COLUMNS = """
    received_at, state, stage_started_at, response_due_at, responded_at, overdue_flagged_at,
    adr_eligible_date, deadlock_issued_at, adr_referred_on, adr_outcome, adr_accepted_on,
    remedy_due_date, remedy_completed_at, remedy_overdue_flagged_at, court_started_on, resolved_at,
    closed_at, withdrawn_at, ua
"""

# The 90% no longer open: withdrawn, resolved (within 8 weeks) or closed; 2% of those received
# more than 200 days ago went through deadlock and CISAS.
CLOSED_SQL = f"""
WITH p AS (
    SELECT %(now)s::timestamptz AS now, (%(now)s::timestamptz AT TIME ZONE {LONDON})::date AS today
), b AS (
    SELECT p.now, p.today,
           -- intake rising linearly to 3x over the five years: t = (sqrt(1 + 8x) - 1) / 2
           p.now - interval '2 days'
               - (1.5 - sqrt(1 + 8 * (g - random()) / %(n)s::float8) / 2)
                 * interval '1824 days' AS received_at,
           random() AS u1, random() AS u2, random() AS u3, random() AS u4, random() AS u5,
           random() AS ua
    FROM generate_series(1, %(n)s) AS g CROSS JOIN p
), c AS (
    SELECT b.*,
           (received_at AT TIME ZONE {LONDON})::date AS received_date,
           (u5 < 0.02 AND received_at < now - interval '200 days') AS adr
    FROM b
), d AS (
    SELECT c.*,
           (NOT adr AND u2 < 0.06) AS withdrawn,
           (adr AND u3 < 0.6) AS accepted,
           CASE WHEN adr THEN received_at + (100 + 100 * u1) * interval '1 day'
                ELSE least(received_at + (1.0 / 24 + 55 * u1 * u1) * interval '1 day',
                           now - interval '1 hour') END AS end_at,
           CASE WHEN adr THEN received_at + (80 + 10 * u2) * interval '1 day' END AS deadlock_at,
           ((received_date + 22)::timestamp AT TIME ZONE {LONDON}) AS response_due_at
    FROM c
), e AS (
    SELECT d.*,
           CASE WHEN accepted THEN (end_at AT TIME ZONE {LONDON})::date + 28 END AS remedy_due_date,
           CASE WHEN adr THEN received_at + (deadlock_at - received_at) * u3
                WHEN withdrawn THEN CASE WHEN u3 < 0.5
                                         THEN received_at + (end_at - received_at) * u3 END
                ELSE received_at + (end_at - received_at) * (0.2 + 0.8 * u3) END AS responded_at
    FROM d
), e2 AS (
    SELECT e.*,
           CASE WHEN NOT accepted OR u4 < 0.03 THEN NULL  -- no remedy, or still outstanding
                WHEN u4 < 0.08  -- carried out late
                    THEN ((remedy_due_date + 11)::timestamp AT TIME ZONE {LONDON})
                ELSE end_at + 20 * u4 * interval '1 day' END AS remedy_done_at
    FROM e
), f AS (
    SELECT e2.*, CASE WHEN remedy_done_at <= now THEN remedy_done_at END AS remedy_completed_at
    FROM e2
), g AS (
    SELECT f.*,
           CASE WHEN accepted AND remedy_due_date < today
                     AND (remedy_completed_at IS NULL OR remedy_completed_at
                          >= ((remedy_due_date + 1)::timestamp AT TIME ZONE {LONDON}))
                THEN least(((remedy_due_date + 1)::timestamp AT TIME ZONE {LONDON})
                           + interval '5 minutes', now)
           END AS remedy_overdue_flagged_at,
           CASE WHEN withdrawn OR (adr AND NOT accepted) THEN NULL ELSE end_at END AS resolved_at,
           greatest(end_at + interval '56 days', coalesce(remedy_completed_at, end_at)) AS close_at
    FROM f
)
INSERT INTO seed_rows ({STATE_COLUMNS})
SELECT received_at,
       CASE WHEN withdrawn THEN 'withdrawn'
            WHEN adr AND NOT accepted THEN 'closed'
            WHEN accepted AND remedy_completed_at IS NULL THEN 'resolved'
            WHEN close_at <= now THEN 'closed'
            ELSE 'resolved' END,
       received_at,
       response_due_at,
       responded_at,
       CASE WHEN coalesce(responded_at, end_at) > response_due_at
            THEN response_due_at + interval '1 minute' END,
       received_date + 80,
       deadlock_at,
       CASE WHEN adr THEN ((deadlock_at + (5 + 5 * u3) * interval '1 day')
                           AT TIME ZONE {LONDON})::date END,
       CASE WHEN NOT adr THEN '' WHEN accepted AND u3 < 0.3 THEN 'upheld'
            WHEN accepted THEN 'partly_upheld' ELSE 'not_upheld' END,
       CASE WHEN accepted THEN (end_at AT TIME ZONE {LONDON})::date END,
       remedy_due_date,
       remedy_completed_at,
       remedy_overdue_flagged_at,
       NULL::date,
       resolved_at,
       CASE WHEN withdrawn THEN NULL
            WHEN adr AND NOT accepted THEN end_at
            WHEN accepted AND remedy_completed_at IS NULL THEN NULL
            WHEN close_at <= now THEN close_at END,
       CASE WHEN withdrawn THEN end_at END,
       ua
FROM g
"""

# The 10% open, by state: cs_team 25%, cs_manager 15%, formal_written 10%, deadlock 25%,
# adr_referred 15%, court 10%.
OPEN_SQL = f"""
WITH p AS (
    SELECT %(now)s::timestamptz AS now, (%(now)s::timestamptz AT TIME ZONE {LONDON})::date AS today
), b AS (
    SELECT p.now, p.today, j,
           CASE WHEN mod(j, 20) < 5 THEN 'cs_team' WHEN mod(j, 20) < 8 THEN 'cs_manager'
                WHEN mod(j, 20) < 10 THEN 'formal_written' WHEN mod(j, 20) < 15 THEN 'deadlock'
                WHEN mod(j, 20) < 18 THEN 'adr_referred' ELSE 'court' END AS state,
           random() AS u1, random() AS u2, random() AS u3, random() AS u4, random() AS ua
    FROM generate_series(1, %(n)s) AS j CROSS JOIN p
), c AS (
    SELECT b.*,
           state IN ('cs_team', 'cs_manager', 'formal_written') AS clock,
           (state = 'cs_manager' AND mod(j, 100) = 5) AS reopened
    FROM b
), d AS (
    SELECT c.*,
           CASE WHEN reopened THEN now - (150 + 400 * u1) * interval '1 day'
                -- within the last 78 days: the ADR date (received + 80) is still ahead
                WHEN clock THEN now - (1.0 / 24 + 77 * u1) * interval '1 day'
                ELSE now - (85 + 650 * u1) * interval '1 day' END AS received_at
    FROM c
), e AS (
    SELECT d.*,
           CASE WHEN NOT clock OR reopened
                THEN least(received_at + (80 + 10 * u2) * interval '1 day', now - interval '1 hour')
           END AS deadlock_at,
           CASE WHEN state = 'cs_team' THEN received_at
                WHEN reopened THEN now - (1.0 / 24 + 30 * u3) * interval '1 day'
                WHEN clock THEN received_at + (now - received_at) * (0.2 + 0.6 * u3)
                ELSE received_at END AS stage_started_at
    FROM d
), f AS (
    SELECT e.*,
           (((stage_started_at AT TIME ZONE {LONDON})::date + 22)::timestamp
               AT TIME ZONE {LONDON}) AS response_due_at
    FROM e
), g AS (
    SELECT f.*,
           CASE WHEN clock THEN
                    CASE WHEN u4 < 0.5 THEN stage_started_at
                         + (least(now, response_due_at) - stage_started_at) * u2 END
                WHEN u4 < 0.7 THEN stage_started_at + (response_due_at - stage_started_at) * u2
                ELSE deadlock_at END AS responded_at
    FROM f
)
INSERT INTO seed_rows ({STATE_COLUMNS})
SELECT received_at,
       state,
       stage_started_at,
       response_due_at,
       responded_at,
       CASE WHEN response_due_at <= now
                 AND coalesce(responded_at, 'infinity'::timestamptz) > response_due_at
            THEN least(response_due_at + interval '1 minute', now) END,
       (received_at AT TIME ZONE {LONDON})::date + 80,
       deadlock_at,
       CASE WHEN state = 'adr_referred' OR (state = 'court' AND mod(j, 2) = 0)
            THEN least(((deadlock_at + (3 + 30 * u3) * interval '1 day')
                        AT TIME ZONE {LONDON})::date, today) END,
       '',
       NULL::date, NULL::date, NULL::timestamptz, NULL::timestamptz,
       CASE WHEN state = 'court'
            THEN least(((deadlock_at + (20 + 40 * u4) * interval '1 day')
                        AT TIME ZONE {LONDON})::date, today) END,
       NULL::timestamptz, NULL::timestamptz, NULL::timestamptz,
       CASE WHEN ua < 0.8 THEN ua / 0.8 END
FROM g
"""

NUMBER_SQL = f"""
CREATE TEMP TABLE seed_numbered AS
SELECT s.*,
       row_number() OVER (ORDER BY received_at) AS seq,
       row_number() OVER (PARTITION BY year ORDER BY received_at) AS n
FROM (SELECT seed_rows.*,
             extract(year FROM received_at AT TIME ZONE {LONDON})::int AS year
      FROM seed_rows) AS s
"""

# The customer's details and the free text, derived from the row's place in time (seq).
PERSON_SQL = """
       (ARRAY['Alex','Sam','Priya','Tom','Aisha','Gareth','Fiona','Kwame','Ewan','Niamh',
              'Olu','Rhian'])[1 + mod(seq, 12)]
         || ' ' || (ARRAY['Smith','Jones','Williams','Taylor','Brown','Davies','Evans','Wilson',
                          'Thomas','Khan','Patel','Roberts','Campbell','Murphy','Hughes',
                          'Walker'])[1 + mod(seq / 12, 16)],
       'customer' || seq || '@example.com',
       '07' || lpad(mod(seq * 7919, 1000000000)::text, 9, '0'),
       seq || ' High Street' || E'\\n' || 'Anytown' || E'\\n' || 'AB1 2CD',
       %(tag)s || lpad(seq::text, 9, '0'),
       CASE WHEN mod(seq, 100) < 90 THEN 'england-and-wales'
            WHEN mod(seq, 100) < 97 THEN 'scotland' ELSE 'northern-ireland' END,
       (ARRAY['billing','service_fault','number_porting','provisioning_security',
              'customer_service','contract','other'])[1 + mod(seq, 7)],
       'Complaint ' || seq || '. '
         || repeat('I was promised a call back about this and nobody called; the problem is '
                   || 'still there and I want it put right. ', 1 + mod(seq, 4)::int),
       (ARRAY['web','web','phone','email','letter'])[1 + mod(seq, 5)],
"""

INSERT_SQL = f"""
INSERT INTO {TABLE} ({COLUMNS})
SELECT 'CMP-' || year || '-' || lpad(n::text, 6, '0'),
       {PERSON_SQL}
       received_at,
       CASE WHEN mod(seq, 3) = 0 THEN 'written' ELSE 'phone' END,
       mod(seq, 25) = 0,
       CASE WHEN mod(seq, 25) = 0 THEN 'Hard of hearing: prefers e-mail to phone calls.'
            ELSE '' END,
       state, stage_started_at, response_due_at, responded_at, overdue_flagged_at,
       adr_eligible_date, deadlock_issued_at,
       CASE WHEN adr_referred_on IS NOT NULL THEN 'CISAS-' || lpad(seq::text, 8, '0')
            ELSE '' END,
       adr_referred_on, adr_outcome,
       CASE WHEN adr_accepted_on IS NOT NULL
            THEN 'A goodwill credit of £50 and a corrected bill.' ELSE '' END,
       adr_accepted_on, remedy_due_date, remedy_completed_at, remedy_overdue_flagged_at,
       court_started_on, resolved_at,
       CASE WHEN resolved_at IS NOT NULL
            THEN 'Explained the charges and applied a credit to the account.' ELSE '' END,
       closed_at, withdrawn_at,
       CASE WHEN ua IS NOT NULL
            THEN (%(agents)s::bigint[])[1 + floor(ua * %(n_agents)s)::int] END,
       encode(sha256(('seed-' || seq)::bytea), 'hex'),
       received_at,
       greatest(received_at, stage_started_at, responded_at, overdue_flagged_at,
                deadlock_issued_at, resolved_at, closed_at, withdrawn_at, remedy_completed_at,
                remedy_overdue_flagged_at)
FROM seed_numbered
WHERE seq > %(lo)s AND seq <= %(hi)s
ORDER BY seq
"""

COUNTER_SQL = """
INSERT INTO complaints_referencecounter (year, last)
SELECT year, max(n) FROM seed_numbered GROUP BY year
ON CONFLICT (year) DO UPDATE
    SET last = greatest(complaints_referencecounter.last, EXCLUDED.last)
"""

# K open stage-1 cases due for both sweeps: the reply was due long ago and is not flagged, the ADR
# date has passed and no deadlock letter was issued. Their receipt is spread over ``spread`` days
# (so over as many ADR dates), 81 days ago and earlier.
NEWLY_DUE_SQL = f"""
WITH r AS MATERIALIZED (
    SELECT g AS seq,
           %(now)s::timestamptz - (81 + mod(g, %(spread)s)) * interval '1 day'
               - mod(g::bigint * 7919, 36000) * interval '1 second' AS received_at
    FROM generate_series(1, %(k)s) AS g
), y AS MATERIALIZED (
    SELECT r.*, extract(year FROM received_at AT TIME ZONE {LONDON})::int AS year
    FROM r
), counts AS (
    SELECT year, count(*) AS c FROM y GROUP BY year
), bumped AS (
    INSERT INTO complaints_referencecounter (year, last)
    SELECT year, c FROM counts
    ON CONFLICT (year) DO UPDATE SET last = complaints_referencecounter.last + EXCLUDED.last
    RETURNING year, last
), numbered AS (
    SELECT y.*,
           b.last - counts.c + row_number() OVER (PARTITION BY y.year ORDER BY y.received_at, y.seq)
               AS n,
           (received_at AT TIME ZONE {LONDON})::date AS received_date,
           %(base)s + seq AS tagno
    FROM y JOIN counts USING (year) JOIN bumped AS b USING (year)
)
INSERT INTO {TABLE} ({COLUMNS})
SELECT 'CMP-' || year || '-' || lpad(n::text, 6, '0'),
       'Due Customer ' || tagno,
       'due' || tagno || '@example.com',
       '',
       tagno || ' Station Road' || E'\\n' || 'Anytown' || E'\\n' || 'AB1 2CD',
       'D' || lpad(tagno::text, 9, '0'),
       'england-and-wales',
       'billing',
       'My bill is wrong and nobody has answered me.',
       'web',
       received_at,
       'phone',
       false,
       '',
       'cs_team',
       received_at,
       ((received_date + 22)::timestamp AT TIME ZONE {LONDON}),
       NULL, NULL,
       received_date + 80,
       NULL, '', NULL, '', '', NULL, NULL, NULL, NULL, NULL, NULL, '', NULL, NULL,
       (%(agents)s::bigint[])[1 + mod(seq, %(n_agents)s)::int],
       encode(sha256(('due-' || tagno)::bytea), 'hex'),
       received_at,
       received_at
FROM numbered
ORDER BY received_at
RETURNING id
"""


def _ensure_staff() -> list[int]:
    """The CS Team and CS Managers groups with a few members (the sweeps e-mail the managers and
    the ADR letter is signed by one). Returns the agents' ids."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group

    from complaints.roles import AGENTS_GROUP, MANAGERS_GROUP

    user_model = get_user_model()
    agents_group, _ = Group.objects.get_or_create(name=AGENTS_GROUP)
    managers_group, _ = Group.objects.get_or_create(name=MANAGERS_GROUP)
    ids = []
    for i in range(1, AGENTS + 1):
        user, created = user_model.objects.get_or_create(
            username=f"agent{i:02d}",
            defaults={
                "first_name": f"Agent{i:02d}",
                "last_name": "Bench",
                "email": f"agent{i:02d}@expresstelephony.example",
                "is_staff": True,
            },
        )
        if created:
            user.set_unusable_password()
            user.save(update_fields=["password"])
        user.groups.add(agents_group)
        ids.append(user.pk)
    for i in range(1, MANAGERS + 1):
        user, created = user_model.objects.get_or_create(
            username=f"manager{i:02d}",
            defaults={
                "first_name": f"Manager{i:02d}",
                "last_name": "Bench",
                "email": f"manager{i:02d}@expresstelephony.example",
                "is_staff": True,
            },
        )
        if created:
            user.set_unusable_password()
            user.save(update_fields=["password"])
        user.groups.add(managers_group)
    return ids


def seeded_count() -> int:
    """How many seeded complaints the bench database holds (not counting "newly due" ones)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM {TABLE} WHERE {SEED_TAG_SQL}")
        return cursor.fetchone()[0]


def reset() -> None:
    """Empty the complaints tables (TRUNCATE: the timeline's append-only trigger is per row)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE complaints_outboundemail, complaints_letter, complaints_complaintevent, "
            f"{TABLE}, complaints_referencecounter RESTART IDENTITY CASCADE"
        )


def seed(n: int = 1_000_000, *, do_reset: bool = False, events: bool = False) -> dict:
    """Seed n complaints; returns timings. With ``do_reset``, the tables are emptied first."""
    from django.db import connection
    from django.utils import timezone

    if do_reset:
        t = time.perf_counter()
        reset()
        print(f"  reset: {time.perf_counter() - t:.1f} s")
    agents = _ensure_staff()
    now = timezone.now()
    n_open = round(n * OPEN_SHARE)
    n_closed = n - n_open
    timings: dict[str, float] = {}
    started = time.perf_counter()
    with connection.cursor() as cursor:
        # Session settings for the load only (temp_buffers must be set before any temp table).
        cursor.execute("SET temp_buffers = '512MB'")
        cursor.execute("SET work_mem = '256MB'")
        cursor.execute("SET maintenance_work_mem = '512MB'")
        cursor.execute("SET synchronous_commit = off")
        cursor.execute("DROP TABLE IF EXISTS seed_rows, seed_numbered")
        cursor.execute(
            "CREATE TEMP TABLE seed_rows (received_at timestamptz, state text, "
            "stage_started_at timestamptz, response_due_at timestamptz, "
            "responded_at timestamptz, overdue_flagged_at timestamptz, adr_eligible_date date, "
            "deadlock_issued_at timestamptz, adr_referred_on date, adr_outcome text, "
            "adr_accepted_on date, remedy_due_date date, remedy_completed_at timestamptz, "
            "remedy_overdue_flagged_at timestamptz, court_started_on date, "
            "resolved_at timestamptz, closed_at timestamptz, withdrawn_at timestamptz, "
            "ua float8)"
        )
        t = time.perf_counter()
        cursor.execute(CLOSED_SQL, {"now": now, "n": n_closed})
        cursor.execute(OPEN_SQL, {"now": now, "n": n_open})
        cursor.execute(NUMBER_SQL)
        cursor.execute("CREATE INDEX ON seed_numbered (seq)")
        timings["generate_s"] = time.perf_counter() - t
        print(f"  generated {n:,} rows in a temporary table: {timings['generate_s']:.1f} s")

        t = time.perf_counter()
        for lo in range(0, n, CHUNK):
            hi = min(lo + CHUNK, n)
            cursor.execute(
                INSERT_SQL,
                {
                    "lo": lo,
                    "hi": hi,
                    "tag": "S",
                    "agents": agents,
                    "n_agents": len(agents),
                },
            )
            elapsed = time.perf_counter() - t
            print(f"  inserted {hi:>10,} / {n:,}  ({hi / elapsed:,.0f} rows/s)", flush=True)
        timings["insert_s"] = time.perf_counter() - t
        cursor.execute(COUNTER_SQL)
        cursor.execute("DROP TABLE seed_rows, seed_numbered")

        if events:
            t = time.perf_counter()
            cursor.execute(
                "INSERT INTO complaints_complaintevent (complaint_id, kind, actor_id, actor_role, "
                "transition, from_state, to_state, customer_visible, text, data, created_at) "
                "SELECT id, 'filed', NULL, 'customer', '', '', '', true, "
                "'Complaint received (web form).', '{\"channel\": \"web\"}'::jsonb, created_at "
                f"FROM {TABLE} WHERE {SEED_TAG_SQL} ORDER BY id"
            )
            timings["events_s"] = time.perf_counter() - t
            print(f"  one 'filed' event per complaint: {timings['events_s']:.1f} s")

        cursor.execute("RESET synchronous_commit")
        cursor.execute("RESET work_mem")

    # VACUUM sets the hint bits and the visibility map, as autovacuum would have long since on a
    # real table, and ANALYZE gives the planner the statistics it would have.
    t = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(f"VACUUM (ANALYZE) {TABLE}")
        cursor.execute("ANALYZE complaints_complaintevent")
        cursor.execute("ANALYZE complaints_referencecounter")
        cursor.execute("RESET maintenance_work_mem")
    timings["vacuum_analyze_s"] = time.perf_counter() - t
    timings["total_s"] = time.perf_counter() - started
    timings["rows_per_s"] = n / (timings["generate_s"] + timings["insert_s"])
    print(f"  VACUUM (ANALYZE): {timings['vacuum_analyze_s']:.1f} s")
    print(
        f"seeded {n:,} complaints ({n_open:,} open) in {timings['total_s']:.1f} s: "
        f"{timings['rows_per_s']:,.0f} rows/s (generate + insert)"
    )
    return {"n": n, "n_open": n_open, "seeded_at": now.isoformat(), **timings}


def add_newly_due(k: int, *, now: dt.datetime | None = None, spread_days: int = 7) -> list[int]:
    """Add k open cs_team cases due for both the overdue sweep (reply due long ago, not flagged)
    and the ADR sweep (ADR date passed, no deadlock letter). Returns their ids."""
    from django.db import connection
    from django.utils import timezone

    agents = _ensure_staff()
    now = now or timezone.now()
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM {TABLE} WHERE account_number LIKE 'D%'")
        base = cursor.fetchone()[0]
        cursor.execute(
            NEWLY_DUE_SQL,
            {
                "now": now,
                "k": k,
                "spread": max(spread_days, 1),
                "base": base,
                "agents": agents,
                "n_agents": len(agents),
            },
        )
        return [row[0] for row in cursor.fetchall()]


def ensure_seeded(n: int) -> dict:
    """The bench database with exactly ``n`` seeded complaints: reused when it has them, seeded
    afresh otherwise. Returns what a benchmark records about it."""
    have = seeded_count()
    if have == n:
        print(f"reusing {BENCH_DB}: {have:,} seeded complaints")
        return {"reused": True}
    print(f"seeding {BENCH_DB} with {n:,} complaints (it held {have:,}) ...")
    return {"reused": False, **seed(n, do_reset=True)}


def remove_complaints(account_prefix: str) -> int:
    """Delete the benchmarks' own synthetic complaints (account numbers starting with
    ``account_prefix``) and every row that refers to them. Returns how many were removed.

    The timeline is append-only (a trigger refuses DELETE); in this bench database only, and only
    for these synthetic rows, the transaction sets ``session_replication_role = replica``, which
    skips triggers. Every table with a foreign key to a complaint is found in the catalogue and
    emptied of their rows, so none is left dangling."""
    from django.db import connection, transaction

    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "CREATE TEMP TABLE bench_removed ON COMMIT DROP AS "
            f"SELECT id FROM {TABLE} WHERE account_number LIKE %s",
            [account_prefix + "%"],
        )
        cursor.execute("SELECT count(*) FROM bench_removed")
        (removed,) = cursor.fetchone()
        if removed:
            cursor.execute("SET LOCAL session_replication_role = replica")
            cursor.execute(
                """
                SELECT cl.relname, a.attname
                FROM pg_constraint c
                JOIN pg_class cl ON cl.oid = c.conrelid
                JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = ANY (c.conkey)
                WHERE c.contype = 'f' AND c.confrelid = %s::regclass
                """,
                [TABLE],
            )
            for table, column in cursor.fetchall():
                cursor.execute(
                    f'DELETE FROM "{table}" WHERE "{column}" IN (SELECT id FROM bench_removed)'
                )
            cursor.execute(f"DELETE FROM {TABLE} WHERE id IN (SELECT id FROM bench_removed)")
    return removed


def remove_newly_due(*, vacuum: bool = True) -> int:
    """Delete the "newly due" cases ``add_newly_due`` added (``D`` account numbers) with the
    letters, e-mails and events the sweeps recorded for them, so the next run starts from the same
    seeded state (then VACUUM ANALYZE the tables they were in). Returns how many were removed."""
    from django.db import connection

    removed = remove_complaints("D")
    if removed and vacuum:
        with connection.cursor() as cursor:
            for table in (
                TABLE,
                "complaints_complaintevent",
                "complaints_letter",
                "complaints_outboundemail",
            ):
                cursor.execute(f"VACUUM (ANALYZE) {table}")
    return removed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=1_000_000, help="complaints to seed")
    parser.add_argument("--reset", action="store_true", help="empty the complaints tables first")
    parser.add_argument(
        "--events", action="store_true", help="also one 'filed' event per complaint (not needed)"
    )
    args = parser.parse_args(argv)

    setup_django()
    have = seeded_count()
    if have == args.n and not args.reset:
        print(f"{BENCH_DB} already holds {have:,} seeded complaints; nothing to do (--reset).")
        return 0
    if have and not args.reset:
        print(
            f"{BENCH_DB} holds {have:,} seeded complaints, not {args.n:,}: pass --reset to "
            "empty the complaints tables and seed again.",
            file=sys.stderr,
        )
        return 1
    print(f"seeding {args.n:,} complaints into {BENCH_DB} ...")
    seed(args.n, do_reset=args.reset or have > 0, events=args.events)
    return 0


if __name__ == "__main__":
    sys.exit(main())
