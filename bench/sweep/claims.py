"""Which sweep worker runs which grid point: one claim per point, made atomically in the study's database.

Optuna moves a queued trial to RUNNING under ``SELECT ... FOR UPDATE``, which SQLite ignores,
so two workers could both take one trial; two machines enqueueing the grid at once could also
queue a point twice. A claim is a row of ``bench_sweep_claims`` keyed by (study, point):
inserting it succeeds for exactly one worker on any database (SQLite serialises writers,
PostgreSQL's primary key index refuses the second), and the loser moves on to the next point.
A point whose trial failed (its worker raised, or died and was marked failed) is taken over
by an update that succeeds only while the failed trial still holds it, so again one worker wins.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable

import sqlalchemy as sa

TABLE = sa.Table(
    "bench_sweep_claims",
    sa.MetaData(),
    sa.Column("study_id", sa.Integer, primary_key=True),
    sa.Column("point", sa.String(64), primary_key=True),  # sha256 of the point's JSON
    sa.Column("trial_id", sa.Integer, nullable=False),
)
CREATE_ATTEMPTS = 4


class Claims:
    """The claims of one study, in the database ``engine`` holds it in."""

    def __init__(self, engine: sa.Engine, study_id: int) -> None:
        self.engine, self.study_id = engine, study_id
        for attempt in range(CREATE_ATTEMPTS):
            try:
                TABLE.metadata.create_all(engine, checkfirst=True)
                return
            except sa.exc.DBAPIError:  # another worker created it this instant (PostgreSQL)
                if attempt + 1 == CREATE_ATTEMPTS:
                    raise
                time.sleep(1 + attempt)

    def take(self, point: dict, trial_id: int, failed: Callable[[int], bool]) -> int | None:
        """Claim ``point`` for ``trial_id``; returns None when won, else the trial holding it.

        ``failed(trial_id)`` says whether a holding trial failed, so its point may be taken over.
        """
        key = hashlib.sha256(json.dumps(point, sort_keys=True).encode()).hexdigest()
        where = (TABLE.c.study_id == self.study_id) & (TABLE.c.point == key)
        try:
            with self.engine.begin() as conn:
                conn.execute(TABLE.insert().values(study_id=self.study_id, point=key, trial_id=trial_id))
            return None
        except sa.exc.IntegrityError:
            pass
        with self.engine.connect() as conn:
            holder = conn.execute(sa.select(TABLE.c.trial_id).where(where)).scalar_one()
        if holder == trial_id or not failed(holder):
            return holder
        with self.engine.begin() as conn:  # one statement: SQLite takes its write lock at once
            won = conn.execute(TABLE.update().where(where & (TABLE.c.trial_id == holder)).values(trial_id=trial_id))
        return None if won.rowcount == 1 else holder
