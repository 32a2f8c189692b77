"""Full mode: fine-tune the encoder jointly with the intent, sentiment and BIO heads (JointBERT-style).

The three losses are summed (each over the turns that carry that label). Heads start from a linear
probe on the frozen encoder (LP-FT, Kumar et al. 2022: fine-tuning from a fitted head distorts the
pretrained features less than from a random one, and converges in fewer epochs, which matters at
~55 sentences/s on two cores). AdamW with warmup and linear decay (to zero at the time budget when
the pace says the budget ends training first), fixed seeds, torch threads set
deliberately, early stopping on a validation split (carved from training when none is given),
and a wall-clock budget (16 min of training by default, leaving room for the last validation and
calibration) so 10k turns finish within 20 minutes even when the CPU is shared. The result is the same artifact as fast mode:
a (fine-tuned) ``Encoder`` plus array heads, temperature-calibrated on the validation split.
"""
from __future__ import annotations

import copy
import random
import time

import numpy as np

from pipeline import metrics as M
from pipeline.encoders import Encoder, configure_threads, mean_pool
from pipeline.heads import LinearHead, scores_to_proba
from pipeline.tagging import decode_spans, encode_bio, tag_names
from store.records import intent_labelled

VALID_FRACTION = 0.1
MAX_VALID = 1000
PRECISIONS = ("auto", "fp32", "bf16")
_NATIVE_BF16_PROBES = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")


def resolve_precision(precision: str) -> str:
    """The training precision to use: "auto" means "bf16" where the CPU has native bfloat16 units
    (AVX512-BF16 or AMX), else "fp32".

    Why: autocast to bfloat16 (fp32 master weights, fp32 losses) measured 2.1 -> 1.2-1.4 s per
    32-turn MiniLM step on a shared 2-core AMD EPYC with AVX512-BF16, so a time-bounded fine-tune sees
    ~1.6x more turns; without native units bfloat16 is emulated and slower, so it is not used there.
    """
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
    if precision != "auto":
        return precision
    import torch

    native = any(getattr(torch.cpu, probe, lambda: False)() for probe in _NATIVE_BF16_PROBES)
    return "bf16" if native else "fp32"


def _autocast(precision: str):
    import contextlib

    import torch

    return torch.autocast("cpu", dtype=torch.bfloat16) if precision == "bf16" else contextlib.nullcontext()


def carve_validation(records: list[dict], seed: int) -> tuple[list[dict], list[dict]]:
    """A seeded ~10% validation split (at most 1,000 turns); tiny sets keep at least one turn each side."""
    order = np.random.default_rng(seed).permutation(len(records))
    n_valid = min(MAX_VALID, max(1, int(round(len(records) * VALID_FRACTION))))
    if len(records) < 2:
        return list(records), list(records)
    valid_idx = set(order[:n_valid].tolist())
    return ([r for i, r in enumerate(records) if i not in valid_idx], [records[i] for i in sorted(valid_idx)])


def _linear(dim: int, classes: list[str], probe: LinearHead | None):
    """A torch Linear over ``classes``, rows copied from the probe where it knows the class."""
    import torch

    layer = torch.nn.Linear(dim, len(classes))
    with torch.no_grad():
        layer.weight.zero_()
        layer.bias.fill_(-4.0)  # a class the probe never saw starts unlikely
        if probe is not None:
            for j, name in enumerate(classes):
                if name in probe.classes:
                    i = probe.classes.index(name)
                    layer.weight[j] = torch.from_numpy(probe.weight[i])
                    layer.bias[j] = float(probe.bias[i] + probe.prior_shift[i])
    return layer


def _joint_model(encoder: Encoder, schema: dict, probe: dict):
    import torch

    class JointModel(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.encoder = copy.deepcopy(encoder.model)
            dim = encoder.dim
            self.intent = _linear(dim, schema["intents"], probe["intent"]) if schema["intents"] else None
            self.sentiment = _linear(dim, schema["sentiments"], probe["sentiment"]) if schema["sentiments"] else None
            names = tag_names(schema["entities"])
            self.tagger = _linear(dim, names, probe["tagger"]) if schema["entities"] else None

        def forward(self, inputs):
            hidden = self.encoder(**inputs).last_hidden_state
            pooled = mean_pool(hidden, inputs["attention_mask"])
            return {"intent": self.intent(pooled) if self.intent is not None else None,
                    "sentiment": self.sentiment(pooled) if self.sentiment is not None else None,
                    "tagger": self.tagger(hidden) if self.tagger is not None else None}

    return JointModel()


def _targets(encoder: Encoder, batch, records: list[dict], schema: dict) -> dict:
    import torch

    out = {}
    if schema["intents"]:
        if schema["multi_label"]:
            out["intent"] = torch.tensor([[c in r["intents"] for c in schema["intents"]] for r in records], dtype=torch.float32)
            out["intent_mask"] = torch.tensor([intent_labelled(r, True) for r in records], dtype=torch.float32)
        else:
            out["intent"] = torch.tensor([schema["intents"].index(r["intents"][0]) if r["intents"] and r["intents"][0] in schema["intents"]
                                          else -100 for r in records])
    if schema["sentiments"]:
        out["sentiment"] = torch.tensor([schema["sentiments"].index(r["sentiment"]) if r.get("sentiment") in schema["sentiments"]
                                         else -100 for r in records])
    if schema["entities"]:
        names = tag_names(schema["entities"])
        mask, offsets = encoder.content_offsets(batch, [r["text"] for r in records])
        tags = np.full(mask.shape, -100, dtype=np.int64)
        for b, r in enumerate(records):
            tags[b, mask[b]] = encode_bio(offsets[b][mask[b]], r.get("entities") or [], names)
        out["tagger"] = torch.from_numpy(tags)
    return out


def _loss(outputs: dict, targets: dict, schema: dict):
    import torch.nn.functional as F

    total = 0.0
    if outputs["intent"] is not None:
        if schema["multi_label"]:
            per_row = F.binary_cross_entropy_with_logits(outputs["intent"], targets["intent"], reduction="none").sum(1)
            weight = targets["intent_mask"]
            total = total + (per_row * weight).sum() / weight.sum().clamp(min=1.0)
        elif (targets["intent"] != -100).any():
            total = total + F.cross_entropy(outputs["intent"], targets["intent"], ignore_index=-100)
    if outputs["sentiment"] is not None and (targets["sentiment"] != -100).any():
        total = total + F.cross_entropy(outputs["sentiment"], targets["sentiment"], ignore_index=-100)
    if outputs["tagger"] is not None and (targets["tagger"] != -100).any():
        logits = outputs["tagger"]
        total = total + F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets["tagger"].reshape(-1), ignore_index=-100)
    return total


def _batches(n: int, batch_size: int, lengths: list[int], rng: random.Random) -> list[list[int]]:
    """Shuffled batches of similar length (less padding), in shuffled order."""
    order = list(range(n))
    rng.shuffle(order)
    pool = batch_size * 50
    batches = []
    for start in range(0, n, pool):
        chunk = sorted(order[start:start + pool], key=lambda i: lengths[i])
        batches += [chunk[i:i + batch_size] for i in range(0, len(chunk), batch_size)]
    rng.shuffle(batches)
    return batches


def _heads_from(model, schema: dict) -> dict:
    def head(layer, classes, kind="softmax"):
        if layer is None:
            return None
        return LinearHead(list(classes), layer.weight.detach().cpu().numpy(), layer.bias.detach().cpu().numpy(), kind=kind)

    return {"intent": head(model.intent, schema["intents"], "sigmoid" if schema["multi_label"] else "softmax"),
            "sentiment": head(model.sentiment, schema["sentiments"]),
            "tagger": head(model.tagger, tag_names(schema["entities"]) if schema["entities"] else [])}


def _validation_score(model, encoder: Encoder, valid: list[dict], schema: dict, *, max_length: int, batch_size: int = 64) -> dict:
    """Mean of the available headline metrics on ``valid`` with the current weights (higher is better)."""
    import torch

    heads = _heads_from(model, schema)
    intents, sentiments, spans = [], [], []
    model.eval()
    with torch.inference_mode():
        for start in range(0, len(valid), batch_size):
            chunk = valid[start:start + batch_size]
            batch = encoder.tokenize([r["text"] for r in chunk], max_length=max_length)
            out = model(encoder.model_inputs(batch))
            if out["intent"] is not None:
                intents.append(scores_to_proba(out["intent"].numpy(), heads["intent"].kind))
            if out["sentiment"] is not None:
                sentiments.append(out["sentiment"].numpy().argmax(1))
            if out["tagger"] is not None:
                mask, offsets = encoder.content_offsets(batch, [r["text"] for r in chunk])
                probs = scores_to_proba(out["tagger"].numpy().reshape(-1, out["tagger"].shape[-1]), "softmax")
                probs = probs.reshape(*out["tagger"].shape)
                spans += [decode_spans(probs[b][mask[b]], offsets[b][mask[b]], heads["tagger"].classes, text=chunk[b]["text"])
                          for b in range(len(chunk))]
    model.train()
    return _score(valid, schema, intents, sentiments, spans)


def _score(valid, schema, intents, sentiments, spans) -> dict:
    scores = {}
    if intents:
        probs = np.concatenate(intents)
        rows = [i for i, r in enumerate(valid) if intent_labelled(r, schema["multi_label"])]
        if rows and schema["multi_label"]:
            pred = [[c for c, p in zip(schema["intents"], probs[i]) if p >= 0.5] for i in rows]
            scores["intent"] = M.multilabel_scores([valid[i]["intents"] for i in rows], pred)["micro_f1"]
        elif rows:
            scores["intent"] = M.accuracy([valid[i]["intents"][0] for i in rows], [schema["intents"][probs[i].argmax()] for i in rows])
    if sentiments:
        pred = np.concatenate(sentiments)
        rows = [i for i, r in enumerate(valid) if r.get("sentiment")]
        if rows:
            scores["sentiment"] = M.macro_f1([valid[i]["sentiment"] for i in rows], [schema["sentiments"][pred[i]] for i in rows])
    if spans and any(r.get("entities") for r in valid):
        scores["entities"] = M.entity_scores([r.get("entities") or [] for r in valid], spans)["f1"]
    scores["mean"] = float(np.mean(list(scores.values()))) if scores else 0.0
    return scores


def _optimizer(model, *, lr: float, head_lr: float, weight_decay: float, total_steps: int, warmup_fraction: float,
               deadline: float | None = None):
    """AdamW with a smaller rate for the pretrained encoder than for the heads; warmup, then linear
    decay to zero at the last step or at ``deadline`` (wall clock), whichever comes first."""
    import torch

    head_params = [p for n, p in model.named_parameters() if not n.startswith("encoder.")]
    encoder_params = [p for p in model.encoder.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW([{"params": encoder_params, "lr": lr},
                                   {"params": head_params, "lr": head_lr}], weight_decay=weight_decay)
    factor = budget_aware_linear_schedule(total_steps=total_steps, warmup_fraction=warmup_fraction, deadline=deadline)
    return optimizer, torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


def budget_aware_linear_schedule(*, total_steps: int, warmup_fraction: float, deadline: float | None = None,
                                 clock=time.perf_counter):
    """The learning-rate factor per step: linear warm-up over the first ``warmup_fraction`` of
    training, then linear decay to 0 at its end, where "training" ends at the last step or, when the
    pace so far says the wall-clock ``deadline`` comes first, at the deadline.

    Why: when the time budget, not ``max_epochs``, ends training (10k turns on two shared cores get
    about one epoch), a step-based schedule is cut off with the rate near its peak and a warm-up
    sized for six epochs; the weights never settle. Decaying to zero at the budget is the rule
    "Budgeted Training" (Li et al., ICLR 2020) found best under a fixed time budget. While the pace
    says the steps end first, progress is counted in steps only, so runs that fit their budget are
    exactly the usual linear schedule (and reproducible with a seed).
    """
    if total_steps < 1 or not 0.0 <= warmup_fraction < 1.0:
        raise ValueError(f"schedule: expected total_steps >= 1 and 0 <= warmup_fraction < 1, "
                         f"got {total_steps} and {warmup_fraction}")
    started = clock()

    def factor(step: int) -> float:
        progress = step / total_steps
        if deadline is not None and step > 0:
            by_time = (clock() - started) / max(deadline - started, 1e-9)
            progress = max(progress, by_time)
        if progress < warmup_fraction:
            return progress / warmup_fraction
        return max(0.0, (1.0 - progress) / (1.0 - warmup_fraction))

    return factor


def _train_epoch(model, encoder: Encoder, train: list[dict], schema: dict, batches, optimizer, scheduler, *,
                 max_length: int, deadline: float, on_step, precision: str = "fp32") -> bool:
    """One pass over ``batches`` (forward under ``precision``'s autocast, losses in fp32); returns
    (True if the wall-clock deadline cut it short, the number of turns trained on)."""
    import torch

    seen = 0
    for step, idx in enumerate(batches):
        chunk = [train[i] for i in idx]
        seen += len(chunk)
        batch = encoder.tokenize([r["text"] for r in chunk], max_length=max_length)
        with _autocast(precision):
            outputs = model(encoder.model_inputs(batch))
        outputs = {k: v.float() if v is not None else None for k, v in outputs.items()}
        loss = _loss(outputs, _targets(encoder, batch, chunk, schema), schema)
        if torch.is_tensor(loss):
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
        scheduler.step()
        on_step(step)
        if time.perf_counter() > deadline:
            return True, seen
    return False, seen


def train_full(cls, records: list[dict], schema: dict, encoder: Encoder, *, valid: list[dict] | None = None,
               seed: int = 0, progress=None, max_epochs: int = 6, time_budget_s: float = 960.0, lr: float = 8e-5,
               head_lr: float = 1e-3, batch_size: int = 32, max_length: int = 64, patience: int = 2,
               warmup_fraction: float = 0.06, weight_decay: float = 0.01, threads: int | None = None,
               precision: str = "auto", freeze_word_embeddings: bool = True):
    """Fine-tune ``encoder`` with the heads; returns (extractor, info). See the module docstring.

    ``freeze_word_embeddings``: keep the (vocabulary x hidden) input embedding table fixed -- half of
    MiniLM's parameters, whose dense gradient and AdamW update cost ~20% of a CPU step for little
    gain (short fine-tunes barely move them); ``precision``: see ``resolve_precision``."""
    import torch

    from pipeline.fast import train_fast

    report = progress or (lambda stage, fraction: None)
    started = time.perf_counter()
    configure_threads(threads)
    torch.manual_seed(seed)
    rng = random.Random(seed)
    train, valid = (records, valid) if valid else carve_validation(records, seed)
    report("linear probe", 0.02)
    probe, _ = train_fast(train, schema, encoder, seed=seed, tag_window=0, calibrate=False)
    model = _joint_model(encoder, schema, probe).train()
    model.encoder.get_input_embeddings().weight.requires_grad_(not freeze_word_embeddings)
    precision = resolve_precision(precision)
    steps = (len(train) + batch_size - 1) // batch_size
    optimizer, scheduler = _optimizer(model, lr=lr, head_lr=head_lr, weight_decay=weight_decay,
                                      total_steps=steps * max_epochs, warmup_fraction=warmup_fraction,
                                      deadline=started + time_budget_s)
    lengths = [len(r["text"]) for r in train]
    best, history, stopped = {"score": -1.0, "epoch": 0, "state": None}, [], "max_epochs"
    for epoch in range(1, max_epochs + 1):
        on_step = lambda step, e=epoch: report(f"epoch {e}/{max_epochs}", 0.05 + 0.9 * (e - 1 + step / steps) / max_epochs)  # noqa: E731
        cut, seen = _train_epoch(model, encoder, train, schema, _batches(len(train), batch_size, lengths, rng), optimizer,
                           scheduler, max_length=max_length, deadline=started + time_budget_s, on_step=on_step,
                           precision=precision)
        scores = _validation_score(model, encoder, valid, schema, max_length=max_length)
        history.append({"epoch": epoch, "turns": seen, **{k: round(v, 4) for k, v in scores.items()},
                        "seconds": round(time.perf_counter() - started, 1)})
        if scores["mean"] > best["score"]:
            best = {"score": scores["mean"], "epoch": epoch,
                    "state": {k: v.detach().clone() for k, v in model.state_dict().items()}}
        if cut or epoch - best["epoch"] >= patience:
            stopped = "time_budget" if cut else "early_stopping"
            break
    extractor = _finish(cls, model, best["state"], encoder, schema, valid)
    info = {"mode": "full", "tag_window": 0, "epochs_run": len(history), "best_epoch": best["epoch"],
            "stopped": stopped, "history": history, "n_valid": len(valid), "max_length": max_length,
            "precision": precision, "freeze_word_embeddings": freeze_word_embeddings,
            "temperatures": {k: round(h.temperature, 4) for k, h in extractor.heads.items() if h is not None}}
    return extractor, info


def _finish(cls, model, best_state, encoder: Encoder, schema: dict, valid: list[dict]):
    """The best epoch's weights as an Extractor: a fine-tuned Encoder plus calibrated array heads."""
    model.load_state_dict(best_state)
    model.eval()
    tuned = Encoder(encoder.tokenizer, model.encoder, name=f"{encoder.name}+ft", source=None,
                    cache_dir=encoder.cache_dir, max_length=encoder.max_length, text_prefix=encoder.text_prefix)
    extractor = cls(schema=schema, mode="full", encoder=tuned, heads=_heads_from(model, schema), tag_window=0)
    _calibrate(extractor, valid, schema)
    return extractor


def _calibrate(extractor, valid: list[dict], schema: dict) -> None:
    """Temperature per head on the validation split, through the same features prediction uses."""
    from pipeline import fast

    feats = fast._features(extractor.encoder, valid, bool(schema["entities"]))
    idx = np.arange(len(valid))
    builders = {"intent": lambda: fast._intent_data(valid, feats, idx, schema),
                "sentiment": lambda: fast._sentiment_data(valid, feats, idx, schema),
                "tagger": lambda: fast._tagger_data(valid, feats, idx, schema, 0)}
    for name, head in extractor.heads.items():
        if head is not None:
            held_out = builders[name]()
            head.temperature = fast._temperature(head, *held_out)
            if name == "sentiment":
                head.decision_offset = fast.decision_offsets(head, *held_out)
