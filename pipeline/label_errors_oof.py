"""Out-of-fold probabilities for the label-error audit, from the fast extractor heads.

Confident learning is only sound on out-of-sample probabilities: a model that saw a wrong label
learns it. So the labelled turns are split into stratified folds, the fast extractor (frozen encoder,
cached embeddings, light heads) is trained on all folds but one, and scores the one it did not see.
The encoder cache means every turn is embedded once however many folds there are. Probabilities
are mapped into one global class order (a rare class can be missing from a fold's training set;
the turns carrying it cannot be judged by that fold and are marked unseen).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from pipeline import label_errors as LE


def fold_assignment(strata: list[str], *, folds: int, seed: int = 0) -> np.ndarray:
    """A fold per item, stratified: each stratum's items are shuffled and dealt round-robin, starting
    at a random fold, so even classes rarer than ``folds`` spread over different folds."""
    if folds < 2:
        raise ValueError(f"folds: expected at least 2, got {folds}")
    if len(strata) < folds:
        raise ValueError(f"expected at least {folds} labelled turns for {folds} folds, got {len(strata)}")
    rng = np.random.default_rng(seed)
    assignment = np.zeros(len(strata), dtype=np.int64)
    by_stratum: dict[str, list[int]] = {}
    for i, s in enumerate(strata):
        by_stratum.setdefault(s, []).append(i)
    offset = 0
    for key in sorted(by_stratum):
        members = rng.permutation(by_stratum[key])
        assignment[members] = (offset + np.arange(len(members))) % folds
        offset = (offset + len(members)) % folds
    return assignment


@dataclass
class ClassOOF:
    """Out-of-fold class probabilities for one field (intents or sentiment) in a global class order."""

    ids: list
    classes: list[str]
    given: list                       # class index, or a list of indices (multi-label)
    probs: np.ndarray                 # (n, k)
    seen: np.ndarray                  # (n,) bool: the fold that scored it knew the given class(es)
    multi_label: bool = False

    def issues(self, *, method: str = LE.DEFAULT_METHOD) -> LE.LabelIssues:
        if self.multi_label:
            return LE.multilabel_label_issues(self.given, self.probs, method=method)
        return LE.class_label_issues(np.asarray(self.given, dtype=np.int64), self.probs, method=method)

    def rows(self, *, method: str = LE.DEFAULT_METHOD, only_flagged: bool = False, field: str = "intent") -> list[dict]:
        if len(self.ids) == 0 or len(self.classes) < 2:
            return []
        return LE.issue_rows(self.ids, self.issues(method=method), self.classes, self.given, field=field,
                             only_flagged=only_flagged, seen=self.seen)


@dataclass
class EntityOOF:
    """Out-of-fold entity-type probabilities per subword token (O + types), with the given type per token;
    ``rows`` judges them per word."""

    ids: list
    texts: list[str]
    entity_types: list[str]
    offsets: list = field(default_factory=list)
    given: list = field(default_factory=list)      # (t,) int per turn
    probs: list = field(default_factory=list)      # (t, 1 + m) per turn

    def rows(self, *, method: str = LE.DEFAULT_METHOD, only_flagged: bool = False) -> list[dict]:
        """Entity rows judged per word, the tagger's unit (``LE.entity_words``), so a row's span is one the
        tagger could suggest: whole words, never "ORD-55" of "ORD-5521"."""
        if not self.ids:
            return []
        words = [LE.entity_words(o, t, g, p) for o, t, g, p in zip(self.offsets, self.texts, self.given, self.probs)]
        given = [w.given for w in words]
        issues = LE.token_label_issues(given, [w.probs for w in words], method=method)
        return LE.entity_issue_rows(self.ids, self.texts, [w.bounds for w in words], issues, given,
                                    self.entity_types, only_flagged=only_flagged)


@dataclass
class OutOfFold:
    intent: ClassOOF | None
    sentiment: ClassOOF | None
    entity: EntityOOF | None
    folds: np.ndarray


def _global_probs(fold_probs: np.ndarray, fold_classes: list[str], classes: list[str], *, softmax: bool) -> np.ndarray:
    out = np.zeros((len(fold_probs), len(classes)))
    index = {c: j for j, c in enumerate(classes)}
    for j, c in enumerate(fold_classes):
        out[:, index[c]] = fold_probs[:, j]
    if softmax:
        out /= np.clip(out.sum(axis=1, keepdims=True), 1e-12, None)
    return out


def _primary(record: dict) -> str:
    intents = record.get("intents") or []
    return intents[0] if intents else (record.get("sentiment") or "")


def _empty_class_oof(classes: list[str], multi_label: bool) -> ClassOOF:
    return ClassOOF([], classes, [], np.zeros((0, len(classes))), np.zeros(0, bool), multi_label)


def out_of_fold(records: list[dict], *, encoder=None, folds: int = 5, seed: int = 0, exclude: set | None = None,
                train_options: dict | None = None, progress: Callable[[str, float], None] | None = None) -> OutOfFold:
    """Out-of-fold probabilities for every labelled turn of ``records`` (native dicts with labels).

    ``exclude``: ids kept out of every training fold (still scored), e.g. suspects of a first pass.
    ``train_options`` go to ``Extractor.train`` (e.g. ``intent_C``).
    """
    from pipeline.encoders import Encoder, load_encoder
    from pipeline.extractor import Extractor, label_schema
    from store.records import intent_labelled

    report = progress or (lambda stage, fraction: None)
    labelled = [dict(r, id=r.get("id", i)) for i, r in enumerate(records)
                if r.get("intents") or r.get("entities") or r.get("sentiment")]
    if not labelled:
        raise ValueError("expected labelled turns (intents, entities or sentiment), got none")
    schema = label_schema(labelled)
    encoder = encoder if isinstance(encoder, Encoder) else load_encoder(encoder)
    assignment = fold_assignment([_primary(r) for r in labelled], folds=folds, seed=seed)
    parts = _Collector(schema, labelled, intent_labelled)
    for fold in range(folds):
        report(f"fold {fold + 1}/{folds}", fold / folds)
        test_idx = np.flatnonzero(assignment == fold)
        train = [labelled[i] for i in np.flatnonzero(assignment != fold) if labelled[i]["id"] not in (exclude or ())]
        extractor = Extractor.train(train, mode="fast", encoder=encoder, seed=seed, **(train_options or {}))
        arrays = extractor.predict_arrays([labelled[i] for i in test_idx])
        parts.add(test_idx, arrays, extractor.schema)
    report("ranking", 1.0)
    return parts.result(assignment)


class _Collector:
    """Accumulates each fold's held-out arrays into global-order ``ClassOOF``/``EntityOOF``."""

    def __init__(self, schema: dict, records: list[dict], intent_labelled):
        self.schema, self.records = schema, records
        self.intent_rows = [i for i, r in enumerate(records) if schema["intents"] and intent_labelled(r, schema["multi_label"])]
        self.sentiment_rows = [i for i, r in enumerate(records) if r.get("sentiment")]
        self.intent_probs = np.zeros((len(records), len(schema["intents"])))
        self.sentiment_probs = np.zeros((len(records), len(schema["sentiments"])))
        self.intent_seen = np.zeros(len(records), bool)
        self.sentiment_seen = np.zeros(len(records), bool)
        self.token_offsets: dict[int, np.ndarray] = {}
        self.token_probs: dict[int, np.ndarray] = {}

    def add(self, test_idx: np.ndarray, arrays, fold_schema: dict) -> None:
        if arrays.intent_probs is not None:
            self.intent_probs[test_idx] = _global_probs(arrays.intent_probs, arrays.intent_classes, self.schema["intents"],
                                                        softmax=not self.schema["multi_label"])
            known = set(arrays.intent_classes)
            self.intent_seen[test_idx] = [self.schema["multi_label"] or
                                          bool((self.records[i].get("intents") or [None])[0] in known) for i in test_idx]
        if arrays.sentiment_probs is not None:
            self.sentiment_probs[test_idx] = _global_probs(arrays.sentiment_probs, arrays.sentiment_classes,
                                                           self.schema["sentiments"], softmax=True)
            known = set(arrays.sentiment_classes)
            self.sentiment_seen[test_idx] = [self.records[i].get("sentiment") in known for i in test_idx]
        if arrays.token_probs is not None:
            for pos, i in enumerate(test_idx):
                self.token_offsets[int(i)] = arrays.token_offsets[pos]
                self.token_probs[int(i)] = LE.merge_bio_probs(arrays.token_probs[pos], arrays.tag_names,
                                                              self.schema["entities"])

    def _class_oof(self, rows: list[int], classes: list[str], probs, seen, multi_label: bool, *,
                   key: str) -> ClassOOF | None:
        if not classes:
            return None
        if not rows:
            return _empty_class_oof(classes, multi_label)
        index = {c: j for j, c in enumerate(classes)}
        if multi_label:
            given = [[index[c] for c in self.records[i].get("intents") or []] for i in rows]
        elif key == "intents":
            given = [index[self.records[i]["intents"][0]] for i in rows]
        else:
            given = [index[self.records[i]["sentiment"]] for i in rows]
        return ClassOOF([self.records[i]["id"] for i in rows], list(classes), given, probs[rows], seen[rows], multi_label)

    def _entity_oof(self) -> EntityOOF | None:
        types = self.schema["entities"]
        if not types:
            return None
        rows = sorted(self.token_probs)
        return EntityOOF(ids=[self.records[i]["id"] for i in rows], texts=[self.records[i]["text"] for i in rows],
                         entity_types=list(types), offsets=[self.token_offsets[i] for i in rows],
                         given=[LE.token_types(self.token_offsets[i], self.records[i].get("entities") or [], types)
                                for i in rows],
                         probs=[self.token_probs[i] for i in rows])

    def result(self, assignment: np.ndarray) -> OutOfFold:
        intent = self._class_oof(self.intent_rows, self.schema["intents"], self.intent_probs, self.intent_seen,
                                 self.schema["multi_label"], key="intents")
        sentiment = self._class_oof(self.sentiment_rows, self.schema["sentiments"], self.sentiment_probs,
                                    self.sentiment_seen, False, key="sentiment")
        return OutOfFold(intent=intent, sentiment=sentiment, entity=self._entity_oof(), folds=assignment)
