"""Synthetic multi-speaker dialogues with exact references, for the quality benchmark.

    python -m bench.dialogues [--out bench/data] [--only 3,11]

Writes into bench/data/ (git-ignored), for each recording NN:
- NN.wav   16 kHz mono 16-bit speech (plus background noise in some recordings);
- NN.rttm  one line per speaker turn (a turn is one speaker's contiguous stretch,
           its sentences separated by short in-turn pauses); overlapping turns
           appear as overlapping lines;
- NN.json  the recording's settings, its turns, its sentences (exact start/end,
           speaker) and its words (text, speaker, sentence index), in speaking order.
and index.json listing every recording with its split ("dev" or "heldout").

Everything is deterministic: each recording draws from random.Random("bench-NN"),
espeak-ng renders the same samples for the same text, and the noise comes from
`sox -R` (repeatable). Each sentence is synthesised on its own, so sentence and
turn times are exact to the sample: the mix is assembled in numpy by placing each
sentence at its start sample (which is how turns overlap), then sox's noise is
scaled to the recording's SNR (measured against the speech samples) and added.

The held-back split (recordings 11-16, `"split": "heldout"`) covers the same mix
of conditions as the dev split (2-4 speakers, clean and noisy, with and without
overlap) and is never used for tuning.
"""
from __future__ import annotations

import argparse
import json
import random
import subprocess
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

SAMPLE_RATE = 16000
DATA_DIR = Path(__file__).resolve().parent / "data"

# Clearly different espeak-ng voices: variant (formants), accent, pitch and speed all differ.
# espeak's variants fall into families that sound alike (m1/m3 and rp males, f1/f2/f5, f3/f4/Annie,
# m2/m4/m5/m6, klatt/klatt3, ...); the pool takes one voice per family, so no two voices in a
# recording are near-twins (checked by ear and by resemblyzer: no pair of voice centroids above 0.8
# cosine, against about 0.9 within one voice).
VOICE_POOL = {
    "us_low_male": {"voice": "en-us+m3", "pitch": 35, "speed": 160, "gain_db": 0.0},
    "us_high_female": {"voice": "en-us+f4", "pitch": 90, "speed": 180, "gain_db": -1.0},
    "caribbean_female": {"voice": "en-029+f2", "pitch": 62, "speed": 165, "gain_db": 2.0},
    "scots_klatt_male": {"voice": "en-gb-scotland+klatt", "pitch": 55, "speed": 150, "gain_db": 1.5},
    "alicia_female": {"voice": "en-us+Alicia", "pitch": 70, "speed": 165, "gain_db": -1.5},
    "rp_slow_male": {"voice": "en-gb-x-rp+m8", "pitch": 45, "speed": 145, "gain_db": -3.0},
    "gb_female": {"voice": "en-gb+f3", "pitch": 75, "speed": 170, "gain_db": -2.0},
}
MALE = ["us_low_male", "scots_klatt_male", "rp_slow_male"]
FEMALE = ["us_high_female", "caribbean_female", "alicia_female", "gb_female"]


@dataclass
class Plan:
    """One recording's settings."""
    index: int
    speakers: int
    seconds: float  # target length; the closing turn comes once it is reached
    noise: str | None = None  # sox synth type: whitenoise, pinknoise, brownnoise
    snr_db: float | None = None
    overlap: float = 0.0  # share of turn changes that start before the last turn ended
    split: str = "dev"
    topic: str = ""

    @property
    def name(self) -> str:
        return f"{self.index:02d}"


PLANS = [
    Plan(1, 2, 75, topic="gardening"),
    Plan(2, 3, 170, "pinknoise", 20, 0.15, topic="cooking"),
    Plan(3, 2, 270, overlap=0.1, topic="astronomy"),
    Plan(4, 4, 210, "whitenoise", 25, topic="cycling"),
    Plan(5, 2, 60, "brownnoise", 15, topic="coffee"),
    Plan(6, 3, 150, overlap=0.2, topic="photography"),
    Plan(7, 4, 290, "pinknoise", 15, 0.1, topic="sailing"),
    Plan(8, 2, 120, "pinknoise", 10, topic="chess"),
    Plan(9, 3, 230, "whitenoise", 20, topic="bees"),
    Plan(10, 2, 180, overlap=0.25, topic="music"),
    # Held back: never used for tuning.
    Plan(11, 2, 150, "pinknoise", 20, 0.15, "heldout", topic="trains"),
    Plan(12, 3, 210, topic="woodworking", split="heldout"),
    Plan(13, 4, 240, "brownnoise", 20, 0.1, "heldout", topic="birds"),
    Plan(14, 2, 90, "whitenoise", 15, 0.15, "heldout", topic="running"),
    Plan(15, 3, 120, "pinknoise", 10, split="heldout", topic="history"),
    Plan(16, 4, 180, overlap=0.15, split="heldout", topic="cooking"),
]

# ---------------------------------------------------------------- text

TOPICS = {
    "gardening": ("growing food in small spaces", ["tomatoes", "compost", "balcony herbs", "raised beds", "seed potatoes", "slugs"]),
    "cooking": ("cooking at home", ["sourdough bread", "fresh pasta", "spices", "a good knife", "slow cooked stews", "leftovers"]),
    "astronomy": ("looking at the night sky", ["a small telescope", "the moon", "light pollution", "planets", "star charts", "meteor showers"]),
    "cycling": ("cycling in the city", ["cargo bikes", "bike lanes", "punctures", "winter riding", "helmets", "long tours"]),
    "coffee": ("making better coffee", ["fresh beans", "the grinder", "water temperature", "espresso machines", "filter coffee", "milk foam"]),
    "photography": ("taking better photographs", ["old film cameras", "natural light", "portraits", "editing software", "street photography", "a cheap lens"]),
    "sailing": ("learning to sail", ["the weather forecast", "knots", "small dinghies", "night watches", "the tides", "a life jacket"]),
    "chess": ("playing chess", ["opening theory", "endgames", "online blitz", "the clock", "club tournaments", "chess puzzles"]),
    "bees": ("keeping bees", ["the queen", "honey", "swarms", "winter feeding", "a bee suit", "wild flowers"]),
    "music": ("learning an instrument as an adult", ["the piano", "scales", "a good teacher", "playing in a band", "reading music", "practice routines"]),
    "trains": ("travelling across Europe by train", ["night trains", "rail passes", "delays", "sleeping cars", "mountain railways", "packing light"]),
    "woodworking": ("building furniture by hand", ["hand planes", "oak", "sharp chisels", "glue", "a workbench", "dovetail joints"]),
    "birds": ("watching birds", ["binoculars", "bird song", "migration", "garden feeders", "owls", "field guides"]),
    "running": ("running a first marathon", ["good shoes", "long slow runs", "injuries", "race day", "hills", "rest days"]),
    "history": ("the history of our town", ["the old harbour", "the market square", "letters and diaries", "the railway station", "the great flood", "family photographs"]),
}

INTROS = [
    "Hello and welcome to the show. Today we talk about {subject}.",
    "Good evening everyone. Our subject tonight is {subject}.",
    "Welcome back. This week we are talking about {subject}, and I have wonderful guests with me.",
]
GREETINGS = [
    "Thank you for having me. This is my favourite subject.",
    "Thanks, it is a pleasure to be here.",
    "Hello, and thank you for the invitation.",
    "I am very happy to be here, thank you.",
]
QUESTIONS = [
    "What got you interested in {subject} in the first place?",
    "How would you explain {thing} to someone who has never tried it?",
    "Why do so many people get {thing} wrong?",
    "What would you tell a beginner who wants to start with {thing}?",
    "Is getting started with {thing} really as difficult as people say?",
    "Where do you see {subject} going in the next ten years?",
    "Can you give us an example from your own experience?",
    "What was the biggest mistake you made early on?",
    "How long did it take before you saw real results?",
    "Do you think spending money on {thing} is worth it?",
    "What surprised you most about {thing}?",
    "Who taught you the most about {subject}?",
    "If you could change one thing about {thing}, what would it be?",
    "How do you stay motivated when things go badly?",
    "What is the one piece of equipment you could not live without?",
    "Do you agree with that?",
    "What do you think about {thing}?",
    "Would you recommend {thing} to a complete beginner?",
]
STATEMENTS = [
    "When I started, I knew almost nothing about {thing}.",
    "The most important thing is to be patient and to keep notes.",
    "Most people underestimate how much time {thing} really takes.",
    "I remember one winter when everything went wrong at once.",
    "Honestly, working with {thing} is not complicated, but it rewards careful attention.",
    "My advice is to start small and to learn from every failure.",
    "A friend of mine showed me how to deal with {thing}, and it changed everything.",
    "You do not need expensive tools to enjoy {subject}.",
    "The first year was hard, but the second year was much easier.",
    "I still make mistakes with {thing} every single week.",
    "There is a lot of bad advice on the internet about {thing}.",
    "What matters most is doing a little bit every day.",
    "People often forget that the weather and the season change everything with {thing}.",
    "I think the community around {subject} is the best part of it.",
    "If something feels too difficult, it usually means you should slow down.",
    "We tried three different approaches before one of them finally worked.",
    "The books told me one thing, but experience taught me something else.",
    "I was surprised by how cheap {thing} can be if you look around.",
    "It took me a long time to understand why people care so much about {thing}.",
    "My grandmother used to say that good work cannot be rushed.",
    "These days I spend most of my weekends on {subject}.",
    "The hardest part is not the technique, it is the habit.",
    "I would never go back to the way I did things before.",
    "You learn far more from other people than from any video.",
    "Some of my best memories come from {subject}.",
    "Nobody is good at {thing} on the first try, and that is fine.",
    "The real secret is to ask questions and listen carefully to the answers.",
    "Last summer we had a group of students who learned incredibly fast.",
    "I keep a small notebook where I write down what went well and what did not.",
    "In the end, working with {thing} is about enjoying the process.",
    "A good club or a patient teacher will save you years of frustration.",
    "I often tell people to forget about perfection and simply get started.",
    "The first time I tried it, I was so nervous that my hands were shaking.",
    "There is always something new to learn, even after twenty years.",
    "We usually meet on Saturday mornings and share what we have learned.",
    "My children laugh at me, but they always want to join in.",
    "Prices have gone up a lot, so we share equipment with our neighbours.",
    "Once you understand the basics, everything else becomes much more fun.",
]
FOLLOW_UPS = [
    "That is really helpful advice.",
    "That makes a lot of sense.",
    "I had never thought about it that way.",
    "Interesting, so it is really about patience.",
    "I think many listeners will recognise that.",
    "I must admit I made the same mistake.",
]
DISAGREE = [
    "I am not sure I agree with that.",
    "I see it a little differently.",
    "That has not been my experience at all.",
    "Well, it depends on where you live.",
]
QUICK_PAIRS = [
    ("How much does it cost?", "Not very much, about the price of a good dinner."),
    ("Did it work?", "Eventually, yes."), ("How long did it take?", "Almost two years."),
    ("Would you do it again?", "Without a doubt."), ("Where did you find it?", "At a market near my house."),
    ("Was it difficult?", "Only at the beginning."), ("And what happened next?", "We started all over again."),
    ("Can anyone do it?", "I believe so."), ("Why did you stop?", "Because nobody had time."),
    ("Who helped you?", "My neighbour, mostly."), ("Really?", "Yes, really."), ("Is that true?", "It is, I promise."),
    ("Did you enjoy it?", "Every minute of it."), ("Was it expensive?", "Not at all."),
    ("Who else was there?", "Just my sister and me."), ("When was that?", "Three summers ago."),
]
INTERJECTIONS = ["Yes.", "Right.", "Exactly.", "I see.", "Okay.", "Sure.", "Absolutely.", "Good point.",
                 "Of course.", "Wow.", "Indeed.", "True."]
CLOSINGS = [
    "That is all we have time for today. Thank you all for joining us.",
    "Thank you very much, this was a wonderful conversation. See you next week.",
]
GOODBYES = ["Thank you, goodbye.", "Thanks for having me.", "It was a pleasure.", "Goodbye everyone."]

# ---------------------------------------------------------------- synthesis


@dataclass
class Sentence:
    speaker: str
    text: str
    start: float = 0.0
    end: float = 0.0


@dataclass
class Turn:
    speaker: str
    sentences: list[Sentence] = field(default_factory=list)

    @property
    def start(self) -> float:
        return self.sentences[0].start

    @property
    def end(self) -> float:
        return self.sentences[-1].end


def synthesize(text: str, voice: dict, workdir: Path, key: int) -> np.ndarray:
    """One sentence from espeak-ng at 16 kHz, silence trimmed, levelled to the voice's gain."""
    import soundfile
    from scipy.signal import resample_poly
    path = workdir / f"{key}.wav"
    subprocess.run(["espeak-ng", "-v", voice["voice"], "-p", str(voice["pitch"]), "-s", str(voice["speed"]),
                    "-w", str(path), text], check=True, timeout=60)
    audio, rate = soundfile.read(path, dtype="float32")
    path.unlink()
    audio = resample_poly(audio, SAMPLE_RATE, rate).astype(np.float32) if rate != SAMPLE_RATE else audio
    loud = np.flatnonzero(np.abs(audio) > 0.005)  # sox's "silence 1 0.02 0.5%", both ends
    audio = audio[loud[0]:loud[-1] + 1] if loud.size else audio[:0]
    rms = float(np.sqrt(np.mean(audio ** 2))) if audio.size else 1.0
    return audio * (10 ** ((-22 + voice["gain_db"]) / 20) / max(rms, 1e-6))


def _pick_voices(rng: random.Random, n: int) -> list[str]:
    """Alternate genders so voices in one recording are clearly apart."""
    males, females = rng.sample(MALE, len(MALE)), rng.sample(FEMALE, len(FEMALE))
    first, second = (males, females) if rng.random() < 0.5 else (females, males)
    return [(first if i % 2 == 0 else second)[i // 2] for i in range(n)]


def _fill(rng: random.Random, template: str, topic: str) -> str:
    subject, things = TOPICS[topic]
    return template.format(subject=subject, thing=rng.choice(things))


def _script(plan: Plan, rng: random.Random, estimate) -> list[tuple[str, list[str], str]]:
    """The conversation as (speaker, sentences, kind) turns, long enough for plan.seconds.

    kind: "turn" (normal), "quick" (rapid exchange), "back" (interjection, may overlap).
    estimate(text) -> seconds, to stop near the target length.
    """
    speakers = [chr(ord("A") + i) for i in range(plan.speakers)]
    host, guests = speakers[0], speakers[1:]
    talk = {s: 0.0 for s in speakers}
    turns: list[tuple[str, list[str], str]] = []

    def say(speaker, sentences, kind="turn"):
        if turns and turns[-1][0] == speaker:  # one speaker again: the same turn goes on
            turns[-1] = (speaker, turns[-1][1] + sentences, turns[-1][2])
        else:
            turns.append((speaker, sentences, kind))
        talk[speaker] += sum(estimate(s) for s in sentences) + 0.8

    deck: list[str] = []

    def statements(n):  # drawn from a shuffled deck, so answers rarely repeat a sentence
        picked = []
        while len(picked) < n:
            if not deck:
                deck.extend(rng.sample(STATEMENTS, len(STATEMENTS)))
            picked.append(deck.pop())
        return [_fill(rng, s, plan.topic) for s in picked]

    say(host, [rng.choice(INTROS).format(subject=TOPICS[plan.topic][0])] + statements(rng.randint(1, 2)))
    for guest in guests:
        say(guest, [rng.choice(GREETINGS)])
    used_questions: set[str] = set()
    while sum(talk.values()) < plan.seconds - 10:
        guest = min(guests, key=lambda g: talk[g] + rng.uniform(0, 15))
        move = rng.random()
        if move < 0.18:  # a rapid exchange of one-liners
            other = host if rng.random() < 0.6 or len(guests) == 1 else rng.choice([g for g in guests if g != guest])
            for i, (ask, reply) in enumerate(rng.sample(QUICK_PAIRS, rng.randint(2, 3))):
                asker, answerer = (other, guest) if i % 2 == 0 else (guest, other)
                say(asker, [ask], "quick")
                say(answerer, [reply], "quick")
            continue
        question = rng.choice([q for q in QUESTIONS if q not in used_questions] or QUESTIONS)
        used_questions.add(question)
        say(host, ([rng.choice(FOLLOW_UPS)] if rng.random() < 0.3 else []) + [_fill(rng, question, plan.topic)])
        long_answer = rng.random() < 0.3
        answer = statements(rng.randint(5, 8) if long_answer else rng.randint(1, 4))
        if len(answer) >= 3 and rng.random() < 0.4:  # an interjection splits the answer in two turns
            cut = rng.randint(1, len(answer) - 1)
            say(guest, answer[:cut])
            say(rng.choice([s for s in speakers if s != guest]), [rng.choice(INTERJECTIONS)], "back")
            say(guest, answer[cut:])
        else:
            say(guest, answer)
        if len(guests) > 1 and rng.random() < 0.35:  # another guest reacts
            other = rng.choice([g for g in guests if g != guest])
            reply = [rng.choice(DISAGREE)] if rng.random() < 0.5 else []
            say(other, reply + statements(rng.randint(1, 3)))
        elif rng.random() < 0.25:
            say(host, [rng.choice(INTERJECTIONS)], "back")
        if rng.random() < 0.15:  # the host comments at length
            say(host, statements(rng.randint(2, 4)))
    say(host, [rng.choice(CLOSINGS)])
    for guest in guests:
        say(guest, [rng.choice(GOODBYES)], "quick")
    return turns


def _gap(rng: random.Random, kind: str) -> float:
    """Pause before a turn: quick, normal or long; rapid exchanges and interjections come fast."""
    if kind in ("quick", "back"):
        return rng.uniform(0.1, 0.5)
    draw = rng.random()
    if draw < 0.3:
        return rng.uniform(0.15, 0.4)
    if draw < 0.8:
        return rng.uniform(0.4, 1.0)
    return rng.uniform(1.0, 2.5)


def _noise(kind: str, seconds: float, workdir: Path) -> np.ndarray:
    import soundfile
    path = workdir / "noise.wav"
    subprocess.run(["sox", "-R", "-n", "-r", str(SAMPLE_RATE), "-c", "1", "-b", "16", str(path),
                    "synth", f"{seconds:.3f}", kind, "vol", "0.5"], check=True, timeout=120)
    noise, _ = soundfile.read(path, dtype="float32")
    return noise


def build(plan: Plan, out_dir: Path, pool: ThreadPoolExecutor) -> dict:
    """Write NN.wav, NN.rttm and NN.json for one plan; returns its index entry."""
    import soundfile
    rng = random.Random(f"bench-{plan.index}")
    voice_names = _pick_voices(rng, plan.speakers)
    voices = {chr(ord("A") + i): VOICE_POOL[name] for i, name in enumerate(voice_names)}
    script = _script(plan, rng, estimate=lambda text: len(text) / 17.5)

    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        jobs = [(t, s) for t, (_, sentences, _) in enumerate(script) for s in range(len(sentences))]
        futures = {job: pool.submit(synthesize, script[job[0]][1][job[1]], voices[script[job[0]][0]], workdir, n)
                   for n, job in enumerate(jobs)}
        clips = {job: future.result() for job, future in futures.items()}

        turns: list[Turn] = []
        clock, placed = 0.6, []
        for t, (speaker, sentences, kind) in enumerate(script):
            gap = _gap(rng, kind)
            overlapping = turns and turns[-1].speaker != speaker and rng.random() < plan.overlap
            if overlapping and kind == "back" and turns[-1].end - turns[-1].start > 3:
                start = rng.uniform(turns[-1].start + 1.0, turns[-1].end - 1.0)  # a backchannel inside the turn
            elif overlapping:
                start = clock - rng.uniform(0.2, min(0.7, 0.4 * (turns[-1].sentences[-1].end - turns[-1].sentences[-1].start)))
            else:
                start = clock + gap
            turn = Turn(speaker)
            for s, text in enumerate(sentences):
                clip = clips[(t, s)]
                if s:
                    start += rng.uniform(0.1, 0.3)  # a breath between sentences of one turn
                begin = int(round(start * SAMPLE_RATE))
                turn.sentences.append(Sentence(speaker, text, begin / SAMPLE_RATE, (begin + len(clip)) / SAMPLE_RATE))
                placed.append((begin, clip))
                start = (begin + len(clip)) / SAMPLE_RATE
            turns.append(turn)
            clock = max(clock, turn.end)
        total = int((clock + rng.uniform(0.5, 1.5)) * SAMPLE_RATE)
        speech = np.zeros(total, dtype=np.float32)
        active = np.zeros(total, dtype=bool)
        for begin, clip in placed:
            speech[begin:begin + len(clip)] += clip
            active[begin:begin + len(clip)] = True
        mix = speech
        if plan.noise:
            noise = _noise(plan.noise, total / SAMPLE_RATE, workdir)[:total]
            noise = np.pad(noise, (0, total - len(noise)))
            speech_power = float(np.mean(speech[active] ** 2))
            noise *= np.sqrt(speech_power / 10 ** (plan.snr_db / 10) / float(np.mean(noise ** 2)))
            mix = speech + noise
        peak = float(np.max(np.abs(mix)))
        if peak > 0.99:
            mix = mix * (0.99 / peak)
        wav = out_dir / f"{plan.name}.wav"
        soundfile.write(wav, mix, SAMPLE_RATE, subtype="PCM_16")

    turns.sort(key=lambda turn: turn.start)
    (out_dir / f"{plan.name}.rttm").write_text("".join(
        f"SPEAKER {plan.name} 1 {turn.start:.3f} {turn.end - turn.start:.3f} <NA> <NA> {turn.speaker} <NA> <NA>\n"
        for turn in turns))
    sentences = sorted((s for turn in turns for s in turn.sentences), key=lambda s: s.start)
    words = [{"text": word, "speaker": s.speaker, "sentence": i}
             for i, s in enumerate(sentences) for word in s.text.split()]
    speech_seconds = {spk: round(sum(t.end - t.start for t in turns if t.speaker == spk), 2) for spk in voices}
    overlap_seconds = round(float(np.sum(_coverage(turns, total) > 1)) / 100, 2)
    meta = {
        "name": plan.name, "split": plan.split, "duration": round(total / SAMPLE_RATE, 3),
        "plan": asdict(plan), "voices": {spk: {"profile": voice_names[i], **voices[spk]} for i, spk in enumerate(voices)},
        "speech_seconds": speech_seconds, "overlap_seconds": overlap_seconds,
        "turns": [{"speaker": t.speaker, "start": round(t.start, 3), "end": round(t.end, 3),
                   "text": " ".join(s.text for s in t.sentences)} for t in turns],
        "sentences": [{"speaker": s.speaker, "start": round(s.start, 3), "end": round(s.end, 3), "text": s.text}
                      for s in sentences],
        "words": words,
    }
    (out_dir / f"{plan.name}.json").write_text(json.dumps(meta, indent=1))
    return {"name": plan.name, "split": plan.split, "duration": meta["duration"], "speakers": plan.speakers,
            "noise": plan.noise, "snr_db": plan.snr_db, "overlap_seconds": overlap_seconds,
            "wav": f"{plan.name}.wav", "rttm": f"{plan.name}.rttm", "json": f"{plan.name}.json"}


def _coverage(turns: list[Turn], total: int) -> np.ndarray:
    """How many speakers talk in each 10 ms frame."""
    count = np.zeros(total // 160 + 1, dtype=int)
    for turn in turns:
        count[int(turn.start * 100):int(turn.end * 100)] += 1
    return count


def generate(out_dir: Path = DATA_DIR, only: set[int] | None = None) -> list[dict]:
    out_dir.mkdir(parents=True, exist_ok=True)
    index_path = out_dir / "index.json"
    entries = {e["name"]: e for e in json.loads(index_path.read_text())} if only and index_path.exists() else {}
    with ThreadPoolExecutor(max_workers=4) as pool:
        for plan in PLANS:
            if only and plan.index not in only:
                continue
            started = time.perf_counter()
            entry = build(plan, out_dir, pool)
            entries[entry["name"]] = entry
            print(f"{entry['name']} {entry['split']:7s} {entry['duration']:6.1f} s  {plan.speakers} speakers  "
                  f"noise {plan.noise or '-'} {plan.snr_db or ''}  overlap {entry['overlap_seconds']} s  "
                  f"({time.perf_counter() - started:.1f} s)", flush=True)
    index = [entries[k] for k in sorted(entries)]
    index_path.write_text(json.dumps(index, indent=1))
    return index


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DATA_DIR)
    parser.add_argument("--only", help="comma-separated recording numbers")
    args = parser.parse_args(argv)
    only = {int(x) for x in args.only.split(",")} if args.only else None
    started = time.perf_counter()
    index = generate(args.out, only)
    print(f"{len(index)} recordings, {sum(e['duration'] for e in index) / 60:.1f} min of audio "
          f"in {time.perf_counter() - started:.1f} s -> {args.out}")


if __name__ == "__main__":
    main()
