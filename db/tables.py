"""SQLModel tables of the SpecTool store: runs, episodes, steps and what happened inside a step.

``Run -> Episode -> Step -> {Draft, Verdict, Fallback, PolicyCheck, ToolExecution}`` and
``Verdict -> Annotation``. Actions are stored as the one-line JSON of
``spectool_app.actions.action_to_json``; other structured values (config, models, verdict
detail) as JSON text. Times are aware UTC datetimes; durations are seconds.

This module knows nothing about engines, events, models or the UI: it only declares rows
(it takes ``STEP_SOURCES`` from the events module so the two lists cannot drift). It does not
use ``from __future__ import annotations``: SQLModel needs real types for relationships.
"""

from datetime import datetime, timezone
from typing import Optional

from sqlalchemy import Text, UniqueConstraint
from sqlmodel import Field, Relationship, SQLModel

from spectool_app.events import PROPOSAL_PURPOSES, STEP_SOURCES  # noqa: F401  (STEP_SOURCES re-exported)

RUN_STATUSES = ("running", "done", "interrupted", "failed")  # Run.status values
FALLBACK_PURPOSES = tuple(p for p in PROPOSAL_PURPOSES if p != "draft")  # Fallback.purpose values (target rows)
ANNOTATION_LABELS = ("correct", "false_accept", "false_reject", "should_block")  # Annotation.label values


def utcnow() -> datetime:
    """The current time as an aware UTC datetime (SQLModel stores and returns UTC)."""
    return datetime.now(timezone.utc)


class Run(SQLModel, table=True):
    """One invocation of the loop over a task set with one configuration."""

    __tablename__ = "runs"

    id: Optional[int] = Field(default=None, primary_key=True)
    created_at: datetime = Field(default_factory=utcnow, index=True)  # when start_run was called
    finished_at: Optional[datetime] = None  # when the run ended (any final status)
    status: str = Field(default="running", index=True)  # one of RUN_STATUSES
    mode: str = Field(default="", index=True)  # loop mode
    verifier: str = Field(default="", index=True)  # verifier kind ("" when the mode has none)
    threshold: Optional[float] = None  # decision threshold in force
    preset: str = ""  # model preset
    task_set: str = ""  # e.g. "synthetic:test"
    config: str = Field(default="{}", sa_type=Text)  # JSON object: the run's configuration
    models: str = Field(default="{}", sa_type=Text)  # JSON object: model names/paths per role
    notes: str = Field(default="", sa_type=Text)  # free text
    pid: Optional[int] = None  # process that records the run (to tell stale runs from live ones)
    host: str = ""  # host name of that process
    proc_start: str = ""  # that process's start token (tells a reused pid apart), "" if unknown
    heartbeat_at: Optional[datetime] = None  # last commit by the recorder

    episodes: list["Episode"] = Relationship(back_populates="run", cascade_delete=True)


class Episode(SQLModel, table=True):
    """One task played from its initial state to its end."""

    __tablename__ = "episodes"

    id: Optional[int] = Field(default=None, primary_key=True)
    run_id: int = Field(foreign_key="runs.id", index=True, ondelete="CASCADE")
    task_id: str = Field(index=True)  # Task.id
    source: str = ""  # task source
    split: str = ""  # task split
    mode: str = ""  # loop mode of the episode
    n_turns: int = 0  # user turns in the task
    passed: Optional[bool] = None  # the checker's verdict; None while running or if it never ended
    check_message: str = Field(default="", sa_type=Text)  # why the check failed
    wall_s: Optional[float] = None  # wall time of the episode
    steps: int = 0  # steps over all turns (from EpisodeDone)
    started_at: datetime = Field(default_factory=utcnow)
    finished_at: Optional[datetime] = None

    run: Optional[Run] = Relationship(back_populates="episodes")
    step_rows: list["Step"] = Relationship(back_populates="episode", cascade_delete=True)


class Step(SQLModel, table=True):
    """One action decided and (maybe) executed; timings per stage in seconds."""

    __tablename__ = "steps"

    id: Optional[int] = Field(default=None, primary_key=True)
    episode_id: int = Field(foreign_key="episodes.id", index=True, ondelete="CASCADE")
    turn: int  # turn index
    index: int  # step index inside the turn
    user_text: str = Field(default="", sa_type=Text)  # the turn's user message
    action: str = Field(sa_type=Text)  # executed action JSON (or the one that closed the turn)
    action_kind: str = ""  # tool_call | answer | blocked
    source: str = ""  # one of STEP_SOURCES
    t_draft: float = 0.0
    t_verify: float = 0.0
    t_fallback: float = 0.0
    t_policy: float = 0.0
    t_tool: float = 0.0
    t_overhead: float = 0.0
    t_total: float = 0.0
    gold: Optional[str] = Field(default=None, sa_type=Text)  # gold action JSON when known
    draft_correct: Optional[bool] = None  # draft equivalent to gold; None when unknown
    created_at: datetime = Field(default_factory=utcnow)

    episode: Optional[Episode] = Relationship(back_populates="step_rows")
    drafts: list["Draft"] = Relationship(back_populates="step", cascade_delete=True)
    verdicts: list["Verdict"] = Relationship(back_populates="step", cascade_delete=True)
    fallbacks: list["Fallback"] = Relationship(back_populates="step", cascade_delete=True)
    policy_checks: list["PolicyCheck"] = Relationship(back_populates="step", cascade_delete=True)
    tool_executions: list["ToolExecution"] = Relationship(back_populates="step", cascade_delete=True)


class Draft(SQLModel, table=True):
    """The drafter's proposal for a step."""

    __tablename__ = "drafts"

    id: Optional[int] = Field(default=None, primary_key=True)
    step_id: int = Field(foreign_key="steps.id", index=True, ondelete="CASCADE")
    raw_text: str = Field(default="", sa_type=Text)  # model text, untrusted, stored as given
    action: Optional[str] = Field(default=None, sa_type=Text)  # parsed action JSON; None on parse error
    parse_error: Optional[str] = Field(default=None, sa_type=Text)
    latency: float = 0.0  # seconds
    prompt_tokens: int = 0
    tokens: int = 0  # completion tokens
    mean_logprob: Optional[float] = None

    step: Optional[Step] = Relationship(back_populates="drafts")


class Verdict(SQLModel, table=True):
    """The verifier's judgment of a draft."""

    __tablename__ = "verdicts"

    id: Optional[int] = Field(default=None, primary_key=True)
    step_id: int = Field(foreign_key="steps.id", index=True, ondelete="CASCADE")
    verifier: str = Field(default="", index=True)  # verifier kind
    p_accept: float = 0.0
    threshold: float = 0.0
    accepted: bool = False
    latency: float = 0.0  # seconds
    detail: str = Field(default="{}", sa_type=Text)  # JSON object: kind-specific extras

    step: Optional[Step] = Relationship(back_populates="verdicts")
    annotations: list["Annotation"] = Relationship(back_populates="verdict", cascade_delete=True)


class Fallback(SQLModel, table=True):
    """A target-model proposal: executed, fallback after a reject, shadow (never executed) or wasted."""

    __tablename__ = "fallbacks"

    id: Optional[int] = Field(default=None, primary_key=True)
    step_id: int = Field(foreign_key="steps.id", index=True, ondelete="CASCADE")
    purpose: str = Field(default="fallback", index=True)  # one of FALLBACK_PURPOSES
    raw_text: str = Field(default="", sa_type=Text)
    action: Optional[str] = Field(default=None, sa_type=Text)  # parsed action JSON; None on parse error
    parse_error: Optional[str] = Field(default=None, sa_type=Text)
    latency: float = 0.0
    prompt_tokens: int = 0
    tokens: int = 0  # completion tokens

    step: Optional[Step] = Relationship(back_populates="fallbacks")


class PolicyCheck(SQLModel, table=True):
    """The policy guard's decision on the action about to execute."""

    __tablename__ = "policy_checks"

    id: Optional[int] = Field(default=None, primary_key=True)
    step_id: int = Field(foreign_key="steps.id", index=True, ondelete="CASCADE")
    action: str = Field(default="", sa_type=Text)  # checked action JSON
    allowed: bool = True
    rule: Optional[str] = Field(default=None, sa_type=Text)  # the denying rule
    latency: float = 0.0

    step: Optional[Step] = Relationship(back_populates="policy_checks")


class ToolExecution(SQLModel, table=True):
    """A tool call as executed and its output, stored as given (any size, never interpreted)."""

    __tablename__ = "tool_executions"

    id: Optional[int] = Field(default=None, primary_key=True)
    step_id: int = Field(foreign_key="steps.id", index=True, ondelete="CASCADE")
    call: str = Field(sa_type=Text)  # ToolCall JSON
    ok: bool = True
    content: str = Field(default="", sa_type=Text)
    error: Optional[str] = Field(default=None, sa_type=Text)
    latency: float = 0.0

    step: Optional[Step] = Relationship(back_populates="tool_executions")


class Annotation(SQLModel, table=True):
    """A person's label on a verdict; one per (verdict, annotator), updated in place."""

    __tablename__ = "annotations"
    __table_args__ = (UniqueConstraint("verdict_id", "annotator", name="uq_annotation_verdict_annotator"),)

    id: Optional[int] = Field(default=None, primary_key=True)
    verdict_id: int = Field(foreign_key="verdicts.id", index=True, ondelete="CASCADE")
    label: str  # one of ANNOTATION_LABELS
    corrected_action: Optional[str] = Field(default=None, sa_type=Text)  # action JSON
    note: str = Field(default="", sa_type=Text)
    annotator: str = Field(index=True)
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)

    verdict: Optional[Verdict] = Relationship(back_populates="annotations")


ALL_TABLES = (Run, Episode, Step, Draft, Verdict, Fallback, PolicyCheck, ToolExecution, Annotation)
