"""The service's settings: their defaults, and a bad row limit refused saying what is wrong."""

from __future__ import annotations

from pathlib import Path

import pytest

from kyber.settings import DEFAULT_MAX_ROWS, Settings, SettingsError
from scripts.project import template


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


def test_by_default_a_top_score_below_six_tenths_is_low_confidence_and_nothing_is_captured_or_shadowed():
    settings = Settings.from_environ({})
    assert settings.low_confidence_threshold == 0.6
    assert settings.data_capture_percent == 0.0
    assert settings.shadow_percent == 0.0


def test_the_shadow_share_is_read_as_a_number():
    assert Settings.from_environ({"KYBER_SHADOW_PERCENT": "12.5"}).shadow_percent == 12.5


def test_the_confidence_threshold_and_the_capture_share_are_read_as_numbers():
    settings = Settings.from_environ({"KYBER_LOW_CONFIDENCE_THRESHOLD": "0.75", "KYBER_DATA_CAPTURE_PERCENT": "2.5"})
    assert (settings.low_confidence_threshold, settings.data_capture_percent) == (0.75, 2.5)


@pytest.mark.parametrize(
    ("name", "value", "reason"),
    [
        ("KYBER_LOW_CONFIDENCE_THRESHOLD", "1.5", "between 0 and 1, got 1.5"),
        ("KYBER_LOW_CONFIDENCE_THRESHOLD", "high", "a number, got 'high'"),
        ("KYBER_DATA_CAPTURE_PERCENT", "101", "between 0 and 100, got 101"),
        ("KYBER_DATA_CAPTURE_PERCENT", "-1", "between 0 and 100, got -1"),
        ("KYBER_DATA_CAPTURE_PERCENT", "nan", "between 0 and 100, got nan"),
        ("KYBER_SHADOW_PERCENT", "100.5", "between 0 and 100, got 100.5"),
        ("KYBER_SHADOW_PERCENT", "some", "a number, got 'some'"),
    ],
)
def test_a_threshold_or_share_out_of_its_bounds_says_what_is_wrong(name, value, reason):
    with pytest.raises(SettingsError, match=f"{name} must be {reason}"):
        Settings.from_environ({name: value})


def test_the_labels_the_stack_watches_are_read_as_cloudformation_joins_them_and_none_without():
    assert Settings.from_environ({}).expected_labels is None
    assert Settings.from_environ({"KYBER_LABELS": ""}).expected_labels is None
    assert Settings.from_environ({"KYBER_LABELS": "blue,green, deep violet"}).expected_labels == (
        "blue",
        "green",
        "deep violet",
    )


def test_the_deployed_row_limit_is_the_layers_own_default():
    assert int(template()["Parameters"]["MaxRows"]["Default"]) == DEFAULT_MAX_ROWS
