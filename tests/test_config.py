"""Config defaults, SPECTOOL_* overrides and their errors."""

import pytest

from spectool_app.config import load_config


def test_environment_overrides_defaults(monkeypatch):
    # an integer and a string field from the environment
    monkeypatch.setenv("SPECTOOL_PORT", "8123")
    monkeypatch.setenv("SPECTOOL_DB_URL", "sqlite:///x.db")
    config = load_config()
    assert config.port == 8123
    assert config.database_url == "sqlite:///x.db"


def test_default_database_is_an_sqlite_file_in_the_data_dir(monkeypatch, tmp_path):
    monkeypatch.delenv("SPECTOOL_DB_URL", raising=False)
    config = load_config(data_dir=str(tmp_path))
    assert config.database_url == f"sqlite:///{tmp_path / 'spectool.db'}"


def test_bad_integer_names_the_variable(monkeypatch):
    monkeypatch.setenv("SPECTOOL_PORT", "eighty")
    with pytest.raises(ValueError, match="SPECTOOL_PORT must be an integer, got 'eighty'"):
        load_config()


def test_unknown_override_names_allowed_fields():
    with pytest.raises(ValueError, match="unknown config field.*allowed: data_dir"):
        load_config(colour="blue")
