"""A Hypothesis state machine drives claim / submit / skip / undo / expire / ingest a ranking / export
against the real store and checks every step against a small in-memory model of the rules."""
import itertools
import json
import shutil
import tempfile
import uuid
from datetime import timedelta
from pathlib import Path

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from store import Store, annotations, importer, labels, queue
from store.annotations import SubmitRefused
from store.queue import LIVE_LABELS

TURNS = [f"t{i}" for i in range(5)]
PEOPLE = ["ann", "bob", "cat"]
TTL = 60


class QueueRules(RuleBasedStateMachine):
    """The model: who holds which lease until when, the live submits (a stack per annotator), the skips."""

    def __init__(self):
        super().__init__()
        self.dir = Path(tempfile.mkdtemp())
        self.db = Store(self.dir / "sm.duckdb")
        path = self.dir / "t.jsonl"
        path.write_text("".join(json.dumps({"id": t, "text": f"text of {t}"}) + "\n" for t in TURNS))
        assert importer.import_files(self.db, [path]).ok
        self.overlap = 1
        self.now = queue.utcnow()
        self.leases: dict[str, tuple[str, object]] = {}      # annotator -> (turn, expires)
        self.submits: list[tuple[str, str, str, bool]] = []  # (annotator, turn, label, live) in order
        self.skipped: set[tuple[str, str]] = set()
        self.ranking: list[str] | None = None                # the order a model run put the queue in
        self.counter = itertools.count()

    def teardown(self):
        self.db.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    # -- the model's view ---------------------------------------------------------------------------
    def live_annotators(self, turn):
        return {a for a, t, _, live in self.submits if t == turn and live}

    def holder_of(self, who):
        lease = self.leases.get(who)
        return lease[0] if lease and lease[1] > self.now else None

    def open_for(self, who):
        leased_by_others = {t: sum(1 for a, (lt, exp) in self.leases.items() if lt == t and a != who and exp > self.now)
                            for t in TURNS}
        return {t for t in TURNS
                if who not in self.live_annotators(t) and (who, t) not in self.skipped
                and not any(a == who and tt == t for a, tt, _, _ in self.submits)
                and len(self.live_annotators(t)) + leased_by_others[t] < self.overlap}

    # -- rules --------------------------------------------------------------------------------------
    @precondition(lambda self: not self.submits)
    @rule(n=st.sampled_from([1, 2]))
    def set_overlap(self, n):
        self.overlap = n
        labels.set_overlap(self.db, "default", n)

    @rule(who=st.sampled_from(PEOPLE))
    def claim(self, who):
        held = self.holder_of(who)
        expected = {held} if held else self.open_for(who)
        turn = queue.claim_next(self.db, "default", who, ttl_s=TTL, now=self.now)
        if not expected:
            assert turn is None, f"{who} got {turn and turn['turn_id']} but nothing is open"
            return
        assert turn is not None and turn["turn_id"] in expected, (who, turn and turn["turn_id"], expected)
        if self.ranking is not None and not held:  # with a ranking, the queue serves its first open turn
            assert turn["turn_id"] == next(t for t in self.ranking if t in expected), (self.ranking, expected)
        self.leases[who] = (turn["turn_id"], self.now + timedelta(seconds=TTL))

    @rule(who=st.sampled_from(PEOPLE), label=st.sampled_from(["x", "y"]), twice=st.booleans())
    def submit(self, who, label, twice):
        turn = self.holder_of(who)
        if turn is None:
            return
        annotation_id = uuid.uuid4().hex
        others = self.live_annotators(turn) - {who}
        try:
            stored = annotations.submit(self.db, annotation_id=annotation_id, turn_id=turn, project="default",
                                        annotator=who, intents=[label])
        except SubmitRefused:
            assert len(others) >= self.overlap
            return
        assert stored and len(others) < self.overlap
        if twice:
            assert annotations.submit(self.db, annotation_id=annotation_id, turn_id=turn, project="default",
                                      annotator=who, intents=[label]) is False
        self.submits.append((who, turn, label, True))
        self.leases.pop(who, None)

    @rule(who=st.sampled_from(PEOPLE))
    def skip(self, who):
        turn = self.holder_of(who)
        if turn is None:
            return
        annotations.skip(self.db, annotation_id=uuid.uuid4().hex, turn_id=turn, project="default", annotator=who)
        self.skipped.add((who, turn))
        self.leases.pop(who, None)

    @rule(who=st.sampled_from(PEOPLE))
    def undo(self, who):
        mine = [i for i, (a, _, _, live) in enumerate(self.submits) if a == who and live]
        got = annotations.undo_last(self.db, annotation_id=uuid.uuid4().hex, project="default", annotator=who, now=self.now)
        if not mine:
            assert got is None
            return
        a, turn, label, _ = self.submits[mine[-1]]
        assert got == turn
        self.submits[mine[-1]] = (a, turn, label, False)
        self.leases[who] = (turn, self.now + timedelta(seconds=300))

    @rule()
    def expire(self):
        self.now += timedelta(seconds=TTL + 1)

    @rule(order=st.permutations(TURNS), twice=st.booleans())
    def ingest_run(self, order, twice):
        """A worker's published result goes in through the real ingest: its ranking orders the queue,
        and ingesting the same run again changes nothing."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        from store import jobfiles as jf
        from store import runs

        run_id = jf.new_run_id("fast")
        result = self.dir / "results" / run_id
        result.mkdir(parents=True)
        (result / jf.SPEC).write_text(json.dumps({"project": "default", "kind": "fast"}))
        (result / jf.RESULT).write_text(json.dumps({"status": "done"}))
        (result / jf.METRICS_FILE).write_text("{}")
        pq.write_table(jf.PREDICTIONS_SCHEMA.empty_table(), result / jf.PREDICTIONS_FILE)
        pq.write_table(pa.table({"turn_id": list(order), "rank": pa.array(range(len(order)), pa.int32()),
                                 "score": [float(i) for i in range(len(order))]}), result / jf.RANKING_FILE)
        assert runs.ingest_one(self.db, result) is True
        if twice:
            assert runs.ingest_one(self.db, result) is False
        self.ranking = list(order)

    @rule()
    def export(self):
        """A native export holds exactly the turns with live labels, each with its latest (majority) intent."""
        from store.export import ExportFilters, export

        out = self.dir / f"export-{next(self.counter)}"
        export(self.db, out, fmt="native", filters=ExportFilters(include_disputed=True))
        exported = {}
        for path in out.glob("*.jsonl"):
            for line in path.read_text(encoding="utf-8").splitlines():
                record = json.loads(line)
                exported[record["id"]] = record["intents"]
        expected = {}
        for turn in TURNS:
            latest = {}
            for a, t, label, live in self.submits:
                if t == turn and live:
                    latest[a] = label
            if latest:
                expected[turn] = sorted(set(latest.values()))
        assert set(exported) == set(expected), (exported, expected)
        for turn, labels_now in expected.items():
            if len(labels_now) == 1:  # unanimous: the export must carry exactly that label
                assert exported[turn] == labels_now, (turn, exported[turn], labels_now)

    # -- invariants ---------------------------------------------------------------------------------
    @invariant()
    def no_turn_above_its_overlap(self):
        rows = self.db.query(f"SELECT turn_id, count(DISTINCT annotator) FROM ({LIVE_LABELS}) GROUP BY turn_id")
        assert all(n <= self.overlap for _, n in rows), rows

    @invariant()
    def stored_state_matches_the_model(self):
        for who, turn in {(a, t) for a, t, _, _ in self.submits}:
            live = [label for a, t, label, is_live in self.submits if a == who and t == turn and is_live]
            state = annotations.turn_state(self.db, turn, annotator=who)
            assert (state["intents"] if state else None) == ([live[-1]] if live else None), (who, turn, live, state)


QueueRules.TestCase.settings = settings(max_examples=25, stateful_step_count=25, deadline=None)
TestQueueRules = QueueRules.TestCase
