"""Generate Concord's demo data set, ``sample_data/dialogs.jsonl``, deterministically.

Why a generator and not a hand-written file: entity offsets are code points, and hand-counting
them next to Chinese text and emoji is exactly the bug the demo must not have. Here every span is
placed by rendering a template piece by piece and asserted against the value it was meant to hold.

    python sample_data/make_sample.py            # rewrite dialogs.jsonl
    python sample_data/make_sample.py --check    # exit 1 if the committed file differs

The set mixes an online shop, a bank and a travel agency, ~10% Chinese turns, ~10% with emoji, a
handful of multi-intent turns, ~12% off-intent assistant responses, and ~40% unlabelled turns.
"""
from __future__ import annotations

import argparse
import random
import sys
from pathlib import Path
from string import Formatter

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
for path in (HERE, ROOT):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

import templates_en  # noqa: E402
import templates_zh  # noqa: E402
from store.records import content_hash, dump_jsonl_line, normalize_turn  # noqa: E402

SEED = 2024
N_CONVERSATIONS = 116
CHINESE_EVERY = 10         # every 10th conversation is in Chinese
P_LABELLED = 0.57
P_MISALIGNED = 0.13
P_EMOJI = 0.1
P_MULTI = 0.12
OUT = HERE / "dialogs.jsonl"
SENTIMENTS = {"n": "neutral", "-": "negative", "+": "positive"}
TEMPLATES = {"en": templates_en, "zh": templates_zh}
DOMAINS = {
    "shop": ["track_order", "cancel_order", "return_item", "change_address", "product_question", "payment_issue"],
    "bank": ["check_balance", "report_lost_card", "transfer_money", "dispute_charge"],
    "travel": ["book_flight", "change_booking", "hotel_reservation", "baggage_issue"],
}
EMOJI = {
    "positive": ["🙂", "👍🏽", "❤️", "😊", "🎉"],
    "negative": ["😤", "😡", "🙄", "😞"],
    "neutral": ["🙏", "✈️", "📦", "🤔"],
}
VALUES = {
    "en": {
        "product": ["wireless earbuds", "blue hoodie", "espresso machine", "running shoes", "65-inch TV",
                    "standing desk", "kids' rain jacket", "phone case", "air fryer"],
        "city": ["Lisbon", "Chicago", "Manchester", "Toronto", "São Paulo", "Zürich", "Osaka", "Dublin", "Austin"],
        "date": ["March 3", "Tuesday", "the 14th", "12 May", "Friday", "June 21st", "the 2nd of April"],
        "amount": ["$49.99", "€120", "£15.40", "250 dollars", "$1,299", "€8.50", "$310"],
        "person": ["Maria Gonzalez", "Tom Becker", "Aisha Khan", "José Álvarez", "Chen Wei", "Olga Petrova",
                   "Sam O'Neill"],
    },
    "zh": {
        "product": ["蓝牙耳机", "保温杯", "羽绒服", "电饭煲", "运动鞋"],
        "city": ["北京", "上海", "成都", "广州", "杭州", "深圳"],
        "date": ["3月5日", "明天", "下周二", "周五", "6月18日"],
        "amount": ["299元", "¥1,280", "56.8元", "3000块"],
        "person": ["王芳", "李明", "张伟", "刘洋", "陈静"],
    },
}
EMAIL_NAMES = ["maria.g", "tbecker", "aisha.khan", "jose.alvarez", "chen.wei", "o.petrova", "wangfang88"]


def conversation_values(lang: str, rng: random.Random) -> dict[str, str]:
    """One value per slot for a whole conversation, so follow-up turns and responses agree."""
    pools = VALUES[lang]
    cities = rng.sample(pools["city"], 2)
    dates = rng.sample(pools["date"], 2)
    digits = str(rng.randint(10000, 99999999))
    return {
        "product": rng.choice(pools["product"]), "city": cities[0], "city2": cities[1],
        "date": dates[0], "date2": dates[1], "amount": rng.choice(pools["amount"]),
        "person": rng.choice(pools["person"]),
        "order_id": rng.choice([digits, f"ORD-{digits}", f"A{digits[:6]}"]),
        "booking_ref": "".join(rng.choice("ABCDEFGHJKLMNPQRSTUVWXYZ23456789") for _ in range(6)),
        "email": f"{rng.choice(EMAIL_NAMES)}@example.{rng.choice(['com', 'org', 'net'])}",
    }


def slot_label(field: str) -> str:
    """"city2" is a second city: the entity label drops the trailing digit."""
    return field.rstrip("0123456789")


def render(template: str, values: dict[str, str]) -> tuple[str, list[dict]]:
    """Fill ``{slot}`` placeholders and return the text with one span per filled slot.

    Offsets are taken from the length of the text built so far, in code points, so emoji and CJK
    before a slot cannot shift a span; each span is asserted to hold exactly its value.
    """
    pieces: list[str] = []
    spans = []
    length = 0
    for literal, field, _, _ in Formatter().parse(template):
        pieces.append(literal)
        length += len(literal)
        if field is None:
            continue
        value = values[field]
        spans.append({"start": length, "end": length + len(value), "label": slot_label(field)})
        pieces.append(value)
        length += len(value)
    text = "".join(pieces)
    for span, field in zip(spans, [f for _, f, _, _ in Formatter().parse(template) if f is not None]):
        assert text[span["start"]:span["end"]] == values[field], (template, span)
    return text, spans


def with_emoji(template: str, sentiment: str, rng: random.Random) -> str:
    """Put an emoji before (shifting every span after it) or after the turn's text."""
    emoji = rng.choice(EMOJI[sentiment])
    return f"{emoji} {template}" if rng.random() < 0.6 else f"{template} {emoji}"


def has_emoji(text: str) -> bool:
    return any(ord(ch) >= 0x1F000 or 0x2600 <= ord(ch) <= 0x27BF for ch in text)


def user_turn(lang: str, intent: str, stage: str, rng: random.Random) -> tuple[str, str]:
    """(template, sentiment) for one user turn, sometimes decorated with an emoji."""
    code, template = rng.choice(TEMPLATES[lang].USER[intent][stage]).split("|", 1)
    sentiment = SENTIMENTS[code]
    if not has_emoji(template) and rng.random() < P_EMOJI:
        template = with_emoji(template, sentiment, rng)
    return template, sentiment


# The detail an "open" reply asks for; when the user already gave it, the reply acts on it instead.
ASKS_FOR = {
    "track_order": "order_id", "cancel_order": "order_id", "change_address": "order_id",
    "return_item": "order_id", "change_booking": "booking_ref", "baggage_issue": "booking_ref",
    "dispute_charge": "amount", "payment_issue": "amount", "transfer_money": "amount",
}


def reply_stage(intents: list[str], stage: str, spans: list[dict]) -> str:
    """"detail" if an opening turn already contains what the assistant would otherwise ask for."""
    asked = ASKS_FOR.get(intents[0])
    return "detail" if stage == "open" and any(s["label"] == asked for s in spans) else stage


def response(lang: str, intents: list[str], stage: str, values: dict, rng: random.Random,
             *, misaligned: bool) -> str:
    """The assistant's reply: on-intent, or (deliberately) one written for a different intent."""
    bot = TEMPLATES[lang].BOT
    if misaligned:
        others = [name for name in bot if name not in intents and name not in ("greeting", "thanks_goodbye")]
        intent = rng.choice(others)
        pool = bot[intent].get(stage) or bot[intent]["open"]
    elif len(intents) > 1:
        pool = [TEMPLATES[lang].MULTI_BOT[tuple(intents)]]
    else:
        pool = bot[intents[0]].get(stage) or bot[intents[0]]["open"]
    return rng.choice(pool).format(**values)


def plan(lang: str, domain: str, rng: random.Random) -> list[tuple[list[str], str, str, str]]:
    """The user side of one conversation: (intents, stage, template, sentiment) per user turn."""
    users = TEMPLATES[lang].USER
    steps = []
    if rng.random() < 0.3:
        steps.append((["greeting"], "open", *user_turn(lang, "greeting", "open", rng)))
    main_intents = [i for i in DOMAINS[domain] if i in users]
    multis = [(i, t) for i, t in TEMPLATES[lang].MULTI if i[0] in DOMAINS[domain]]
    if multis and rng.random() < P_MULTI:
        intents, line = rng.choice(multis)
        code, template = line.split("|", 1)
        steps.append((intents, "open", template, SENTIMENTS[code]))
    else:
        steps.extend(request_steps(lang, rng.choice(main_intents), rng))
    asked = {i for intents, *_ in steps for i in intents}
    remaining = [i for i in main_intents if i not in asked]
    if rng.random() < 0.45 and remaining:
        steps.extend(request_steps(lang, rng.choice(remaining), rng))
    if rng.random() < 0.15:
        extra = rng.choice(["complaint", "speak_to_human"])
        steps.append(([extra], "open", *user_turn(lang, extra, "open", rng)))
    if rng.random() < 0.5:
        steps.append((["thanks_goodbye"], "open", *user_turn(lang, "thanks_goodbye", "open", rng)))
    return steps


def request_steps(lang: str, intent: str, rng: random.Random) -> list[tuple[list[str], str, str, str]]:
    """An opening request and, when it named nothing the assistant needs, a follow-up with details."""
    template, sentiment = user_turn(lang, intent, "open", rng)
    steps = [([intent], "open", template, sentiment)]
    details = TEMPLATES[lang].USER[intent].get("detail")
    if details and ("{" not in template or rng.random() < 0.25):
        steps.append(([intent], "detail", *user_turn(lang, intent, "detail", rng)))
    return steps


# Conversations written out step by step so the demo always shows these cases, labelled:
# a span right after an emoji in Chinese (the "退款 🙂 订单12345" case), emoji runs before an
# English span, a ZWJ emoji, a multi-intent turn, and an off-intent response (misaligned=True).
SHOWCASE = [
    ("zh", "shop", [(["return_item"], "open", "n|退款 🙂 订单{order_id}", False),
                    (["thanks_goodbye"], "open", "+|好的，谢谢！", False)]),
    ("en", "shop", [(["greeting"], "open", "n|hi 👋", False),
                    (["track_order"], "open", "-|😤😤 order #{order_id} was due {date} and it's still not here", True),
                    (["speak_to_human"], "open", "-|Forget it. Real person please.", False)]),
    ("en", "travel", [(["book_flight", "hotel_reservation"], "open",
                       "n|👨‍👩‍👧 Family trip! I need a flight to {city2} on {date} and a hotel there for three nights.",
                       False),
                      (["book_flight"], "detail", "n|Leaving {date}, coming back {date2}.", False),
                      (["thanks_goodbye"], "open", "+|Brilliant, thanks ✈️", False)]),
]


def conversation_plan(number: int, rng: random.Random) -> tuple[str, str, list[tuple]]:
    """(lang, domain, steps) for conversation ``number``; each step ends with a forced misaligned flag or None."""
    if number <= len(SHOWCASE):
        lang, domain, scripted = SHOWCASE[number - 1]
        return lang, domain, [(i, stage, t.split("|", 1)[1], SENTIMENTS[t[0]], bad) for i, stage, t, bad in scripted]
    lang = "zh" if number % CHINESE_EVERY == 4 else "en"
    domain = rng.choice(sorted(DOMAINS))
    return lang, domain, [(*step, None) for step in plan(lang, domain, rng)]


def build_conversation(number: int, attempt: int = 0) -> list[dict]:
    """All user-turn records of conversation ``number`` (its own seeded RNG, so order never matters)."""
    rng = random.Random(f"{SEED}:{number}:{attempt}")
    lang, domain, steps = conversation_plan(number, rng)
    values = conversation_values(lang, rng)
    conv_id = f"c{number:03d}"
    history: list[dict] = []
    records = []
    for intents, stage, template, sentiment, forced in steps:
        text, spans = render(template, values)
        misaligned = rng.random() < P_MISALIGNED if forced is None else forced
        reply = response(lang, intents, reply_stage(intents, stage, spans), values, rng, misaligned=misaligned)
        record = {"id": f"{conv_id}-{len(history)}", "conversation_id": conv_id, "turn_index": len(history),
                  "context": list(history), "text": text, "response": reply}
        if forced is not None or rng.random() < P_LABELLED:
            record.update(intents=intents, entities=spans, sentiment=sentiment, aligned=not misaligned)
        record["meta"] = {"domain": domain, "lang": lang}
        records.append(record)
        history += [{"speaker": "user", "text": text}, {"speaker": "assistant", "text": reply}]
    return records


def build_records() -> list[dict]:
    """Every record of the sample set, validated by ``normalize_turn`` and free of duplicates.

    The importer drops a turn whose context, text and response all equal an earlier one's (two
    conversations opening with the same "Hello?" and the same reply), so such a conversation is
    drawn again with the next attempt number: still deterministic, and every turn is imported.
    """
    records: list[dict] = []
    seen: set[str] = set()
    for number in range(1, N_CONVERSATIONS + 1):
        for attempt in range(100):
            conversation = build_conversation(number, attempt)
            hashes = [content_hash(rec) for rec in conversation]
            if len(set(hashes)) == len(hashes) and not seen.intersection(hashes):
                break
        else:
            raise AssertionError(f"conversation {number}: no duplicate-free draw in 100 attempts")
        seen.update(hashes)
        records.extend(conversation)
    for rec in records:
        expected = sorted(rec.get("entities", []), key=lambda s: (s["start"], s["end"], s["label"]))
        assert normalize_turn(rec)["entities"] == expected, rec["id"]
    return records


def render_file() -> str:
    return "".join(dump_jsonl_line(rec) + "\n" for rec in build_records())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Write (or --check) sample_data/dialogs.jsonl.")
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--check", action="store_true", help="compare with --out instead of writing it")
    args = parser.parse_args(argv)
    content = render_file()
    if args.check:
        same = args.out.is_file() and args.out.read_text(encoding="utf-8") == content
        print(f"{args.out}: {'up to date' if same else 'DIFFERS from the generator output'}")
        return 0 if same else 1
    args.out.write_text(content, encoding="utf-8", newline="\n")
    print(f"wrote {content.count(chr(10))} turns to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
