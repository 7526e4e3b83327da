"""Slot values for synthetic tasks, and the initial tool state being built around them.

Values are composed from a few parts (a common word, a made-up syllable word, digits,
dates) so that each slot type has thousands of distinct values. Every value that is
not dictated by a back-end is assigned to exactly one split by a stable hash: made-up
words by their own hash (so every value built on a test word is a test value), numbers,
dates and ids by the hash of their text. Test and dev values are therefore never seen
in training. Values from small sets that the back-ends dictate (airports, cities,
currencies, door names, units, company names) and small counts (shares, lines,
priorities) repeat across splits on purpose.

``Plan`` is the per-task state under construction: the ``initial_config`` of every
involved back-end, plus the facts the gold calls of earlier turns will have changed
(login, current folder, fuel level, ...), so that later turns stay consistent.

This module knows nothing about intents, phrasings, tool calls or execution.
"""

from __future__ import annotations

import copy
import hashlib
import random
from typing import Any, Callable

SPLIT_BUCKETS = {"train": range(0, 16), "dev": range(16, 18), "test": range(18, 20)}
_N_BUCKETS = 20

_ONSETS = ("b", "d", "f", "g", "h", "j", "k", "l", "m", "n", "p", "r", "s", "t", "v", "z",
           "br", "dr", "gl", "kr", "pl", "st", "tr", "sh", "ch", "th")
_VOWELS = ("a", "e", "i", "o", "u", "a", "e", "o")
_CODAS = ("", "", "", "", "", "", "n", "r", "l", "s", "m", "k")
_COMMON = ("report", "notes", "budget", "draft", "summary", "invoice", "plan", "backup",
           "data", "log", "minutes", "agenda", "review", "memo", "results", "schedule",
           "roadmap", "specs", "survey", "metrics", "index", "config", "checklist", "outline",
           "receipt", "quote", "contract", "proposal", "sketch", "release", "audit", "tasks")
_FOLDER_WORDS = ("archive", "projects", "drafts", "old", "shared", "backup", "reports",
                 "media", "docs", "staging", "inbox", "final", "misc", "exports", "team")
_EXTENSIONS = ("txt", "md", "csv", "log", "pdf", "json", "py", "docx")
_STREETS = ("Street", "Avenue", "Lane", "Road", "Drive", "Court", "Way", "Boulevard")
_STATES = ("CA", "NY", "TX", "WA", "OR", "IL", "MA", "CO", "AZ", "GA")
_PROBLEMS = ("printer offline", "login failure", "slow network", "missing invoice",
             "broken build", "VPN drops", "email bounce", "disk full", "license expired",
             "screen flicker", "sync error", "wrong invoice total", "badge not working")
_WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_SENTENCES = (
    "Can you send the {w} figures by {day}?",
    "The {w} meeting moved to {h}:{m}0.",
    "Please review the {w} draft before {day}.",
    "Lunch at {w} cafe at {h} pm?",
    "I pushed {n} fixes to the {w} branch.",
    "Reminder: {w} budget is due {day}.",
    "Call me about the {w} order {n}.",
    "The {w} server restarts at {h}:{m}5.",
    "Shipment {n} for {w} arrived today.",
    "Can we move the {w} demo to {day}?",
)
_TWEETS = (
    "Just shipped the {w} update, {n} bugs fixed!",
    "Loving the new {w} cafe downtown.",
    "Day {n} of learning {w}, going strong.",
    "Big news about {w} coming {day}.",
    "Who else is at the {w} meetup tonight?",
    "Finished the {w} marathon in {n} minutes!",
    "Hot take: {w} beats everything else.",
    "Thanks to everyone who joined the {w} stream.",
)
_LINES = (
    "{w} total {n}",
    "status {w} ok",
    "error in {w} at line {n}",
    "owner {w} since {day}",
    "{w} pending review",
    "item {n} assigned to {w}",
    "note: {w} needs {n} more",
)
_RESERVED_SYMBOLS = {"AAPL", "GOOG", "TSLA", "MSFT", "NVDA", "ALPH", "OMEG", "QUAS", "NEPT",
                     "SYNX", "ZETA", "AMZN", "GORI", "F", "GM"}


def bucket(text: str) -> int:
    """Stable bucket 0..19 of a value's text (independent of the Python hash seed)."""
    return int(hashlib.blake2b(text.encode("utf-8"), digest_size=4).hexdigest(), 16) % _N_BUCKETS


def split_of(text: str) -> str:
    """The split a value belongs to."""
    b = bucket(text)
    return next(name for name, rng in SPLIT_BUCKETS.items() if b in rng)


class Pool:
    """Draws slot values for one split; records every split-owned value it hands out.

    Args:
        rng: the task generator's random source.
        split: "train", "dev" or "test".
    """

    def __init__(self, rng: random.Random, split: str) -> None:
        if split not in SPLIT_BUCKETS:
            raise ValueError(f"unknown split {split!r}; allowed: {', '.join(SPLIT_BUCKETS)}")
        self.rng = rng  # shared with the task generator
        self.split = split  # which partition of the values to draw from
        self.values: list[str] = []  # split-owned values drawn for the current task
        self.used: set[str] = set()  # values already taken in the current task

    def reset(self) -> None:
        """Start a new task: forget the recorded and used values."""
        self.values, self.used = [], set()

    def _owned(self, make: Callable[[], str], by_text: bool = True) -> str:
        """Draw with ``make`` until the value is unused (and, ``by_text``, in this split).

        Values built around :meth:`word` already belong to this split through their
        words; numbers, dates and codes belong to the split their text hashes to.
        """
        for _ in range(1000):
            value = make()
            if value not in self.used and (not by_text or split_of(value) == self.split):
                self.used.add(value)
                self.values.append(value)
                return value
        raise RuntimeError(f"no fresh {self.split} value after 1000 draws (last {value!r})")

    # ---------------------------------------------------------------- parts
    def word(self) -> str:
        """A made-up word of 2-3 syllables owned by this split, e.g. ``kavoren``.

        A part of values, not a value: it is neither recorded nor marked used.
        """
        r = self.rng
        while True:
            value = "".join(r.choice(_ONSETS) + r.choice(_VOWELS) + r.choice(_CODAS)
                            for _ in range(r.choice((2, 2, 3))))
            if split_of(value) == self.split:
                return value

    def number(self, low: int, high: int) -> int:
        """An integer in [low, high] owned by this split (use for ids and big amounts)."""
        return int(self._owned(lambda: str(self.rng.randint(low, high))))

    def money(self, low: float, high: float) -> float:
        """An amount with at most two decimals owned by this split (as written: ``315.5``)."""
        def make() -> str:
            return f"{self.rng.uniform(low, high):.2f}".rstrip("0").rstrip(".")

        return float(self._owned(make))

    def date(self, first_year: int = 2025, last_year: int = 2027) -> str:
        """A date ``YYYY-MM-DD`` owned by this split."""
        r = self.rng
        return self._owned(lambda: f"{r.randint(first_year, last_year)}-{r.randint(1, 12):02d}-"
                                   f"{r.randint(1, 28):02d}")

    def code(self, prefix: str, digits: int) -> str:
        """An identifier like ``card_4821`` owned by this split."""
        low, high = 10 ** (digits - 1), 10 ** digits - 1
        return self._owned(lambda: f"{prefix}{self.rng.randint(low, high)}")

    # ---------------------------------------------------------------- composed values
    def _with_word(self, shape: Callable[[str], str]) -> str:
        """A fresh value built around a split word by ``shape``, recorded."""
        return self._owned(lambda: shape(self.word()), by_text=False)

    def file_name(self, ext: str | None = None) -> str:
        """A file name like ``report_kavo.txt`` or ``zulimen2024.csv``."""
        r = self.rng
        ext = ext or r.choice(_EXTENSIONS)
        shapes = (lambda w: f"{r.choice(_COMMON)}_{w}.{ext}",
                  lambda w: f"{w}_{r.choice(_COMMON)}.{ext}",
                  lambda w: f"{w}{r.randint(1, 2030)}.{ext}",
                  lambda w: f"{w}.{ext}")
        return self._with_word(r.choice(shapes))

    def folder(self) -> str:
        """A folder name like ``archive_tovi`` or ``brelon``."""
        r = self.rng
        shapes = (lambda w: f"{r.choice(_FOLDER_WORDS)}_{w}", lambda w: w,
                  lambda w: f"{w}_{r.randint(2019, 2030)}")
        return self._with_word(r.choice(shapes))

    def keyword(self) -> str:
        """A bare made-up word used as a slot value (a search keyword, a pattern)."""
        return self._with_word(lambda w: w)

    def first_name(self) -> str:
        """A capitalised made-up first name like ``Velora``."""
        return self._with_word(lambda w: w.capitalize())

    def full_name(self) -> str:
        """A first and last name, e.g. ``Velora Quintash``."""
        return self._with_word(lambda w: f"{w.capitalize()} {self.word().capitalize()}")

    def handle(self) -> str:
        """A social-media user name like ``kavo_ret`` or ``zulim42``."""
        r = self.rng
        shapes = (lambda w: f"{w}_{self.word()}", lambda w: f"{w}{r.randint(1, 99)}",
                  lambda w: w)
        return self._with_word(r.choice(shapes))

    def password(self) -> str:
        """A password like ``Kavo#4821``."""
        r = self.rng
        return self._with_word(
            lambda w: f"{w.capitalize()}{r.choice('#!$@-_')}{r.randint(10, 9999)}")

    def secret(self) -> str:
        """A token-like string of letters and digits, e.g. ``kv7pq2xt9``."""
        r = self.rng
        chars = "abcdefghijkmnpqrstuvwxyz23456789"
        return self._owned(lambda: "".join(r.choice(chars) for _ in range(r.randint(8, 12))))

    def tag(self) -> str:
        """A hashtag like ``#kavoren``."""
        return self._with_word(lambda w: f"#{w}")

    def symbol(self) -> str:
        """A made-up stock symbol of 3-5 capitals, never one bfcl defines."""
        r = self.rng
        letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"

        def make() -> str:
            while True:
                value = "".join(r.choice(letters) for _ in range(r.randint(3, 5)))
                if value not in _RESERVED_SYMBOLS:
                    return value

        return self._owned(make)

    def _fill(self, template: str, w: str) -> str:
        r = self.rng
        return template.format(w=w, n=r.randint(2, 950), day=r.choice(_WEEKDAYS),
                               h=r.randint(1, 11), m=r.randint(0, 5))

    def _text(self, templates: tuple[str, ...], word: str | None) -> str:
        template = self.rng.choice(templates)
        if word is None:
            return self._with_word(lambda w: self._fill(template, w.capitalize()))
        return self._owned(lambda: self._fill(template, word.capitalize()), by_text=False)

    def message(self, word: str | None = None) -> str:
        """A short chat message mentioning ``word`` (capitalised; a fresh word when None)."""
        return self._text(_SENTENCES, word)

    def tweet(self, word: str | None = None) -> str:
        """A short tweet mentioning ``word`` (capitalised; a fresh word when None)."""
        return self._text(_TWEETS, word)

    def line(self, keyword: str) -> str:
        """One line of a text file that contains ``keyword`` (not recorded)."""
        return self._fill(self.rng.choice(_LINES), keyword)

    def file_text(self, keyword: str | None = None, n_lines: int | None = None) -> str:
        """A few lines of file content; one line holds ``keyword`` when given."""
        n_lines = n_lines or self.rng.randint(2, 5)
        lines = [self.line(self.word()) for _ in range(n_lines)]
        if keyword:
            lines[self.rng.randrange(n_lines)] = self.line(keyword)
        return "\n".join(lines)

    def title(self) -> str:
        """A ticket title like ``Kavoren printer offline``."""
        problem = self.rng.choice(_PROBLEMS)
        return self._with_word(lambda w: f"{w.capitalize()} {problem}")

    def sentence(self) -> str:
        """A one-line description or resolution mentioning a made-up word."""
        r = self.rng
        shapes = ("Reset the {w} cache and restarted.", "Replaced the {w} cable.",
                  "Happens every morning on the {w} floor.", "Escalated to the {w} team.",
                  "Updated the {w} driver to version {n}.", "Started after the {w} update.",
                  "Cleared {n} stuck jobs on {w}.")
        template = r.choice(shapes)
        return self._with_word(lambda w: self._fill(template, w.capitalize()))

    def address(self) -> str:
        """A street address ``"12 Kavo Lane, Brelton, CA"``."""
        r = self.rng
        def shape(w: str) -> str:
            street = f"{r.randint(1, 9999)} {w.capitalize()} {r.choice(_STREETS)}"
            return f"{street}, {self.word().capitalize()}, {r.choice(_STATES)}"

        return self._with_word(shape)


class Plan:
    """The initial configuration of one task, built turn by turn, plus planned facts.

    A fact is a piece of back-end state that the gold of a turn depends on or changes
    (``("TwitterAPI", "authenticated")``). The first turn that reads a fact fixes its
    initial value in the configuration; later turns see the value the earlier gold
    calls leave behind.

    Args:
        pool: the value source for this task (already reset).
        defaults: per back-end, a function ``(plan, config)`` that fills its base configuration.
    """

    def __init__(self, pool: Pool, defaults: dict[str, Callable[["Plan", dict], None]]) -> None:
        self.pool = pool  # slot values of this task
        self.config: dict[str, dict[str, Any]] = {}  # back-end -> initial_config part
        self.classes: list[str] = []  # involved back-ends, in order of first use
        self._defaults = defaults  # back-end -> base configuration filler
        self._facts: dict[tuple[str, str], Any] = {}  # (back-end, key) -> value after last turn
        self.cwd: list[str] = []  # file system: folder path below the root after last turn

    @property
    def rng(self) -> random.Random:
        return self.pool.rng

    def state(self, cls: str) -> dict[str, Any]:
        """The configuration of ``cls``, created (and the class involved) on first use."""
        if cls not in self.config:
            self.classes.append(cls)
            self.config[cls] = {}
            self._defaults[cls](self, self.config[cls])
        return self.config[cls]

    def known(self, cls: str, key: str) -> bool:
        """Whether an earlier turn already fixed or changed this fact."""
        return (cls, key) in self._facts

    def get(self, cls: str, key: str, initial: Any) -> Any:
        """The fact's current value; fixes ``initial`` in the configuration when unknown."""
        if (cls, key) not in self._facts:
            value = initial() if callable(initial) else initial
            self.state(cls)[key] = value
            self._facts[(cls, key)] = copy.deepcopy(value)
        return copy.deepcopy(self._facts[(cls, key)])

    def put(self, cls: str, key: str, value: Any) -> None:
        """Record the value a gold call leaves behind (the configuration is unchanged)."""
        self._facts[(cls, key)] = copy.deepcopy(value)

    def checkpoint(self) -> tuple:
        """Everything a failed attempt to plan a turn may have changed."""
        return (copy.deepcopy(self.config), list(self.classes), dict(self._facts),
                list(self.cwd), list(self.pool.values), set(self.pool.used))

    def restore(self, saved: tuple) -> None:
        """Undo the changes made since :meth:`checkpoint`."""
        config, classes, facts, cwd, values, used = saved
        self.config, self.classes, self._facts, self.cwd = config, classes, facts, cwd
        self.pool.values, self.pool.used = values, used

    def folder(self) -> dict[str, Any]:
        """The ``contents`` dict of the current folder in the file-system configuration."""
        node = next(iter(self.state("GorillaFileSystem")["root"].values()))
        for name in self.cwd:
            node = node["contents"][name]
        return node["contents"]
