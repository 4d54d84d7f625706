"""The service's settings: their defaults, and a bad row limit refused saying what is wrong."""

from __future__ import annotations

from pathlib import Path

import pytest

from kyber.settings import DEFAULT_MAX_ROWS, Settings, SettingsError


def test_settings_defaults_are_the_layer_folder_ten_thousand_rows_and_no_model_source():
    settings = Settings.from_environ({})
    assert settings.models_dir == Path("/opt/models")
    assert settings.max_rows == DEFAULT_MAX_ROWS == 10_000
    assert settings.model_source == ""
    assert settings.download_dir == Path("/tmp/kyber-models")


def test_a_row_limit_of_one_is_allowed():
    assert Settings.from_environ({"KYBER_MAX_ROWS": "1"}).max_rows == 1


@pytest.mark.parametrize(
    ("value", "reason"),
    [("0", "at least 1, got 0"), ("-5", "at least 1, got -5"), ("many", "an integer, got 'many'")],
)
def test_a_bad_row_limit_says_what_is_wrong(value, reason):
    with pytest.raises(SettingsError, match=f"KYBER_MAX_ROWS must be {reason}"):
        Settings.from_environ({"KYBER_MAX_ROWS": value})
