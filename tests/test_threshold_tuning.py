"""Thresholds tuned on replayed dev steps: the rule on literal numbers, the command on tiny models, the bench's use."""

import json

import pytest

from spectool_app.bench import TUNED_SOURCE, BenchOptions, current_fingerprints, make_plan, select_tasks
from spectool_app.calibration import threshold_for_step_accuracy
from spectool_app.threshold_tuning import JudgedStep, TuneOptions, check_options, load_tuned, tune
from tests.helpers import ROOT, run_cli
from tests.test_bench import _models
from tests.tiny_models import tiny_model_env

# four steps: the target is always right; the drafter is right on the 0.9 and 0.7 drafts
SCORES, DRAFT, TARGET = [0.9, 0.8, 0.7, 0.6], [True, False, True, False], [True, True, True, True]


def test_the_lowest_threshold_that_keeps_the_step_accuracy():
    # no loss allowed: only the 0.9 draft may be accepted (halfway to 0.8); one step of four: down to 0.65
    assert threshold_for_step_accuracy(SCORES, DRAFT, TARGET, ["a"] * 4, 0.0) == pytest.approx(0.85)
    assert threshold_for_step_accuracy(SCORES, DRAFT, TARGET, ["a"] * 4, 0.25) == pytest.approx(0.65)
    # a right draft where the target is wrong is a gain: everything may be accepted
    assert threshold_for_step_accuracy(SCORES, [True] * 4, [False] * 4, ["a"] * 4, 0.0) == pytest.approx(0.6)


def test_every_group_must_hold_and_unparseable_drafts_are_never_accepted():
    # group b alone would allow 0.65; group a (the 0.8 wrong draft) needs 0.85
    groups = ["a", "a", "b", "b"]
    assert threshold_for_step_accuracy(SCORES, [True, False, True, True], TARGET, groups, 0.0) == pytest.approx(0.85)
    # a None score (unparseable draft) falls back to the target even at the lowest threshold
    assert threshold_for_step_accuracy([None, 0.5], [False, True], [True, True], ["a", "a"], 0.0) == 0.5
    assert threshold_for_step_accuracy([None], [False], [True], ["a"], 0.0) == 1.0


def test_bad_lists_and_losses_are_refused():
    with pytest.raises(ValueError, match="one score, draft verdict, target verdict and group per step"):
        threshold_for_step_accuracy([0.5], [True, False], [True], ["a"], 0.0)
    with pytest.raises(ValueError, match="max_loss must be at least 0 and below 1, got 1.5"):
        threshold_for_step_accuracy([0.5], [True], [True], ["a"], 1.5)


def test_options_name_what_is_allowed():
    with pytest.raises(ValueError, match="dev splits only, got 'synthetic:test'"):
        check_options(TuneOptions(task_sets=("synthetic:test",)))
    with pytest.raises(ValueError, match="dev splits only, got 'safety'"):
        check_options(TuneOptions(task_sets=("safety",)))
    with pytest.raises(ValueError, match=r"unknown verifier kind\(s\) \['oracle'\]; valid kinds: always"):
        check_options(TuneOptions(kinds=("oracle",)))
    with pytest.raises(ValueError, match="max_loss must be at least 0 and below 1"):
        check_options(TuneOptions(max_loss=-0.1))


def test_tuning_reports_the_outcome_at_the_threshold_per_task_set():
    judged = [JudgedStep("synthetic:dev", d, t, {"trained": s}) for s, d, t in zip(SCORES, DRAFT, TARGET)]
    judged.append(JudgedStep("safety:dev", False, True, {"trained": None}))
    row = tune(judged, ["trained"], 0.0)["trained"]
    assert row["threshold"] == pytest.approx(0.85) and row["meets_rule"]
    assert (row["steps"], row["acceptance_rate"], row["step_accuracy"], row["target_accuracy"]) == (5, 0.2, 1.0, 1.0)
    assert row["drafter_accuracy"] == pytest.approx(0.4)
    assert (row["false_accept_rate"], row["false_reject_rate"]) == (0.0, 0.5)  # the 0.7 right draft is rejected
    assert row["by_task_set"]["safety:dev"]["acceptance_rate"] == 0.0


def test_the_command_tunes_on_dev_steps_and_records_the_models(tmp_path):
    out = tmp_path / "thresholds.json"
    env = {**tiny_model_env(tmp_path / "tiny"), "SPECTOOL_VERIFIER_DIR": str(tmp_path / "none")}
    result = run_cli("tune-thresholds", "--tasks", "synthetic:dev", "--max-steps", "12", "--kinds", "confidence",
                     "--out", str(out), "--json", env=env)
    assert result.returncode == 0, result.stderr
    report = json.loads(out.read_text())
    assert json.loads(result.stdout) == report
    assert report["setup"]["steps"] == 12 and report["setup"]["task_sets"] == ["synthetic:dev"]
    assert set(report["setup"]["model_fingerprints"]) == {"drafter", "target", "verifier"}
    row = report["kinds"]["confidence"]
    # the tiny drafter always calls ls, the tiny target always answers: the rule keeps the target's accuracy
    assert row["meets_rule"] and row["step_accuracy"] >= row["target_accuracy"]
    refused = run_cli("tune-thresholds", "--tasks", "synthetic:test", env=env)
    assert refused.returncode == 2 and "dev splits only" in refused.stderr
    # the judged steps are kept beside: another loss is re-tuned from them with no model at all
    no_models = {"SPECTOOL_DRAFTER": str(tmp_path / "no-drafter"), "SPECTOOL_TARGET": str(tmp_path / "no-target")}
    again = run_cli("tune-thresholds", "--tasks", "synthetic:dev", "--kinds", "confidence", "--max-loss", "0.5",
                    "--from-steps", str(tmp_path / "thresholds.steps.json"), "--out", str(tmp_path / "again.json"),
                    env=no_models)
    assert again.returncode == 0, again.stderr
    loose = json.loads((tmp_path / "again.json").read_text())["kinds"]["confidence"]
    assert loose["threshold"] <= row["threshold"] and loose["acceptance_rate"] >= row["acceptance_rate"]
    missing = run_cli("tune-thresholds", "--tasks", "safety:dev", "--kinds", "confidence",
                      "--from-steps", str(tmp_path / "thresholds.steps.json"), env=no_models)
    assert missing.returncode == 2
    assert "the collected steps hold no safety:dev; they hold task sets synthetic:dev and kinds confidence" in missing.stderr


def test_the_bench_uses_thresholds_tuned_with_its_own_models(tmp_path, monkeypatch):
    monkeypatch.setenv("SPECTOOL_VERIFIER_DIR", str(tmp_path / "none"))
    tasks = select_tasks("synthetic", size=1)
    models = _models(tasks)
    options = BenchOptions(out=str(tmp_path), task_sets=("synthetic",), modes=("speculative/always",), limit=1)
    tuned_file = tmp_path / "thresholds.json"
    prints = current_fingerprints(models)
    tuned_file.write_text(json.dumps({"setup": {"model_fingerprints": prints}, "kinds": {"always": {"threshold": 0.3}}}))
    assert load_tuned(prints, tuned_file) == ({"always": 0.3}, "")
    config = make_plan(options, models, ROOT / "no-such-file.json", tuned_file).configs[1]
    assert (config.key, config.threshold, config.threshold_source) == ("speculative/always", 0.3, TUNED_SOURCE)
    # tuned with another drafter: not used, and the reason names what changed
    tuned_file.write_text(json.dumps({"setup": {"model_fingerprints": {**prints, "drafter": "sha256:other"}},
                                      "kinds": {"always": {"threshold": 0.3}}}))
    assert load_tuned(prints, tuned_file) == ({}, "thresholds.json was tuned with other models (changed: drafter)")
    config = make_plan(options, models, ROOT / "no-such-file.json", tuned_file).configs[1]
    assert (config.threshold, config.threshold_source) == (0.5, "default 0.5")
    assert load_tuned(prints, tmp_path / "absent.json") == ({}, "absent.json absent")


def test_the_readme_section_shows_every_kind_and_task_set():
    from tests.test_bench import _readme_module

    judged = [JudgedStep("synthetic:dev", d, t, {"trained": s}) for s, d, t in zip(SCORES, DRAFT, TARGET)]
    judged.append(JudgedStep("safety:dev", False, True, {"trained": None}))
    report = {"setup": {"command": "python -m spectool_app tune-thresholds", "steps": 5, "max_loss": 0.0,
                        "task_sets": ["synthetic:dev", "safety:dev"]}, "kinds": tune(judged, ["trained"], 0.0)}
    section = _readme_module().thresholds_section(report, "results/verifiers/thresholds.json")
    assert "(`python -m spectool_app tune-thresholds`)" in section
    assert "5 dev steps (synthetic:dev, safety:dev), at most 0.0 points" in section
    assert "| trained | 0.8500 | 20.0% | 100.0% | 100.0% | 40.0% | 0.0% | 50.0% |" in section
    assert "| trained | 25.0%; 100.0% / 100.0% | 0.0%; 100.0% / 100.0% |" in section


def test_threshold_sources_in_order():
    from spectool_app.bench import choose_threshold

    tuned, calibrated = {"trained": 0.88}, {"trained": 0.7, "confidence": 0.94}
    assert choose_threshold("trained", tuned, 0.9, calibrated) == (0.88, TUNED_SOURCE)
    assert choose_threshold("trained", {}, 0.9, calibrated) == (0.9, "verifier card (verifier_config.json)")
    assert choose_threshold("confidence", tuned, None, calibrated) == (0.94, "results/verifiers/verifiers.json (dev)")
    assert choose_threshold("always", tuned, None, calibrated) == (0.5, "default 0.5")


def test_suggested_threshold_reads_what_the_bench_would_use(monkeypatch, tmp_path):
    from spectool_app.bench import current_fingerprints, suggested_threshold

    monkeypatch.delenv("SPECTOOL_DRAFTER", raising=False)
    monkeypatch.delenv("SPECTOOL_TARGET", raising=False)
    monkeypatch.setenv("SPECTOOL_VERIFIER_DIR", str(tmp_path / "verifier"))
    (tmp_path / "verifier").mkdir()
    (tmp_path / "verifier" / "verifier_config.json").write_text(json.dumps({"threshold": 0.77}))
    specs = {role: str(ROOT / "models" / "embedded" / role) for role in ("drafter", "target")}
    tuned, why_not = load_tuned(current_fingerprints(specs))
    # another verifier folder than the one tuned with: its own card decides
    assert tuned == {} and "changed: verifier" in why_not
    assert suggested_threshold("trained", "embedded") == (0.77, "verifier card (verifier_config.json)")
    (tmp_path / "verifier" / "verifier_config.json").write_text("{}")  # never calibrated: TrainedVerifier's 0.5
    assert suggested_threshold("trained", "embedded") == (0.5, "verifier card (verifier_config.json)")


def test_suggested_threshold_of_the_committed_models(monkeypatch):
    from spectool_app.bench import suggested_threshold
    from spectool_app.trained_verifier import DEFAULT_DIR

    for name in ("SPECTOOL_DRAFTER", "SPECTOOL_TARGET", "SPECTOOL_VERIFIER_DIR"):
        monkeypatch.delenv(name, raising=False)
    specs = {role: str(ROOT / "models" / "embedded" / role) for role in ("drafter", "target")}
    tuned, why_not = load_tuned(current_fingerprints(specs))
    card = json.loads((ROOT / DEFAULT_DIR / "verifier_config.json").read_text())["threshold"]
    # tuned with these very weights: tuned values win (else the card, and the reason says why)
    expected = (tuned["trained"], TUNED_SOURCE) if tuned else (card, "verifier card (verifier_config.json)")
    assert suggested_threshold("trained", "embedded") == expected, why_not
