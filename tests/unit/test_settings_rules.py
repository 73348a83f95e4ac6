"""Issue #23 (7), D5: the settings an administrator changes from the screen are held to the same
rules as the configuration file — a number within its range (both ends taken, one past refused), a
route among the routes, a printer's name in the characters CUPS names take, an EIS address that is
https (plain http only to this machine), never a production EIS on a training lane however its host
is spelled, and never with an account in it (the journal keeps every value)."""

from __future__ import annotations

from pathlib import Path

import pytest

from app import settings
from app.config import parse as parse_config
from app.errors import OtolaneError

TOML = """
[lane]
name = "L1"
training = {training}
[eis]
url = "https://eis-test.example.kz/api/v1"
"""


def _cfg(training: bool = True):  # type: ignore[no-untyped-def]
    return parse_config(TOML.format(training=str(training).lower()), "lane.toml", Path("/nonexistent"))


def _refused(key: str, text: str, training: bool = True) -> str:
    with pytest.raises(OtolaneError) as err:
        settings.parse(settings.setting(key), text, _cfg(training))
    return err.value.code


def test_a_number_is_taken_at_both_ends_of_its_range_and_refused_one_past() -> None:
    s = settings.setting("security.lockout_after")
    assert settings.parse(s, "3", _cfg()) == 3 and settings.parse(s, " 20 ", _cfg()) == 20
    assert _refused("security.lockout_after", "2") == "setting_out_of_range"
    assert _refused("security.lockout_after", "21") == "setting_out_of_range"
    assert _refused("security.lockout_after", "5.5") == "setting_not_whole"
    assert _refused("security.password_min_length", "7") == "setting_out_of_range"
    assert settings.parse(settings.setting("lane.latitude"), "51,1801", _cfg()) == pytest.approx(51.1801)
    for bad in ("nan", "inf", "-inf"):
        assert _refused("lane.latitude", bad) == "setting_out_of_range"
    assert _refused("eis.poll_s", "soon") == "setting_not_number"


def test_a_route_is_one_of_the_routes_and_a_printer_name_has_no_spaces_or_slashes() -> None:
    assert settings.parse(settings.setting("eis.transport"), "soap", _cfg()) == "soap"
    assert settings.parse(settings.setting("eis.transport"), "SOAP", _cfg()) == "soap"
    assert _refused("eis.transport", "soapy") == "setting_not_choice"
    assert settings.parse(settings.setting("printer.queue"), "lane1-printer", _cfg()) == "lane1-printer"
    assert settings.parse(settings.setting("printer.queue"), "", _cfg()) == ""  # no printer
    for bad in ("lane 1", "a/b", "q#1", "$(reboot)"):
        assert _refused("printer.queue", bad) == "setting_characters"
    assert settings.parse(settings.setting("printer.server"), "/run/cups/cups.sock", _cfg())
    assert _refused("printer.server", "host;rm") == "setting_characters"
    assert _refused("printer.queue", "x" * 301) == "setting_too_long"


@pytest.mark.parametrize(
    ("url", "training", "code"),
    [
        ("https://eis.gov.kz/api", True, "eis_url_production"),
        ("https://eis。gov。kz/api", True, "eis_url_production"),  # ideographic dots: IDNA's full stops
        ("http://eis-test.example.kz/api", False, "eis_url_plain"),
        ("ftp://127.0.0.1/api", False, "eis_url_scheme"),
        ("https://[::1/api", False, "eis_url_scheme"),
        ("https://lane:secret@eis-test.example.kz/api", False, "setting_url_account"),
    ],
)
def test_an_eis_address_the_file_would_refuse_is_refused_on_the_screen_too(
    url: str, training: bool, code: str
) -> None:
    assert _refused("eis.url", url, training) == code


def test_an_eis_address_the_file_would_take_is_taken() -> None:
    s = settings.setting("eis.url")
    assert settings.parse(s, "http://127.0.0.1:8080/api", _cfg()) == "http://127.0.0.1:8080/api"
    assert settings.parse(s, "https://eis.gov.kz/api", _cfg(training=False)) == "https://eis.gov.kz/api"


def test_an_unknown_setting_is_refused_by_name() -> None:
    for key in ("lane.training", "storage.key_file", "eis.environment", "nonsense"):
        with pytest.raises(OtolaneError) as err:
            settings.setting(key)
        assert err.value.code == "setting_unknown"
