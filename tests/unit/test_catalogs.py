"""Three languages: every catalog has every key, and every code the daemon can send has a sentence."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tui.i18n import LANGS, catalog, translate

ROOT = Path(__file__).resolve().parents[2]


def _source(folder: str) -> str:
    return "\n".join(p.read_text() for p in (ROOT / folder).rglob("*.py"))


def test_every_language_has_the_same_keys() -> None:
    keys = {lang: set(catalog(lang)) for lang in LANGS}
    for lang in LANGS:
        assert keys[lang] == keys["en"], (lang, keys["en"] ^ keys[lang])


def test_every_error_code_the_daemon_raises_has_a_sentence() -> None:
    src = _source("app")
    codes = set(re.findall(r'OtolaneError\(\s*"([a-z_]+)"', src))
    codes |= set(re.findall(r'Refused\(\s*"([a-z_]+)"', src))
    codes |= set(re.findall(r'EdsError\(\s*"([a-z_]+)"', src))
    from app.eds.certs import REASONS

    codes |= {f"eds_{r}" for r in REASONS}  # raised as f"eds_{reason}"
    # Said only by the command line at start-up, in English, before any screen exists:
    codes -= {"key_file_open", "key_file_missing", "key_file_bad", "profile_unknown", "kind_unknown"}
    codes -= {"eis_key_missing", "speed_refused", "demo_failed", "demo_timeout"}
    codes -= {"scenario_unknown", "password_mismatch", "password_missing", "sim_unreachable", "stand_away"}
    codes -= {"password_file", "eds_no_trust", "bad_time"}  # otolane eds check
    codes -= {"export_unreadable", "tls_incomplete", "eis_faults_bad"}  # journal verify, eis-sim, demo
    codes -= {"account_file_unreadable"}  # camera-sim
    codes -= {"eis_system_key_password"}  # journalled at start (eis_system_key_refused), never a screen
    # The store refuses to open, or the daemon to start, before any screen can connect (issue #7):
    codes -= {"data_key_missing", "data_key_wrong", "signing_key_missing", "signing_key_bad", "lane_busy"}
    codes -= {"db_path_is_dir", "db_read_only", "db_unreachable"}
    # Codes made by a function rather than written at the raise:
    codes |= {"storage_failed"} | set(re.findall(r'return "(password_[a-z_]+)"', src))
    assert codes, "no codes found: the pattern is stale"
    missing = {c for c in codes if f"error.{c}" not in catalog("en")}
    assert not missing


def test_every_hold_has_a_sentence() -> None:
    src = _source("app")
    holds = set(re.findall(r'Hold\(\s*"([a-z_]+)"', src))
    holds |= set(re.findall(r'"code": "([a-z_]+)"', _source("app/lane")))  # holds built as dicts
    holds |= set(re.findall(r'notice="([a-z_]+)"', src)) | set(re.findall(r'"(step_[a-z_]+)", "step_', src))
    assert holds >= {"min_duration", "device_not_connected"}
    assert {h for h in holds if f"hold.{h}" not in catalog("en")} == set()


@pytest.mark.parametrize("lang", LANGS)
def test_every_key_the_screens_use_exists(lang: str) -> None:
    used = set(re.findall(r'\bt\(\s*"([a-z_]+\.[a-z_.]+)"', _source("tui")))
    used |= set(re.findall(r'"(keys\.[a-z]+)"', _source("tui")))
    assert used
    assert {k for k in used if k not in catalog(lang)} == set()


def test_a_missing_key_shows_the_key_not_a_crash() -> None:
    assert translate("kk", "no.such.key") == "no.such.key"
    assert translate("ru", "hold.min_duration").startswith("Минимальное время")
    assert "{left}" in translate("en", "hold.min_duration")  # a missing parameter stays visible


def test_every_card_item_and_step_has_a_name() -> None:
    """A new norm or step cannot reach the screen without its name in all three languages."""
    from app.domain import inspection as rules
    from app.domain.norms import ITEMS
    from drivers.glass.profiles import GENERIC_MODBUS as GLASS
    from drivers.registry import KINDS

    glass = {f"glass.{f.channel.split('.', 1)[1]}" for f in GLASS.replies[0].fields}
    for lang in LANGS:
        cat = catalog(lang)
        assert {f"item.{i}" for i in ITEMS} <= set(cat), lang  # items are named by their norm's item
        assert glass <= set(cat), lang  # … a window by its channel
        assert {"side.left", "side.right"} <= set(cat), lang
        for kind in KINDS:
            assert f"dev.{kind}" in cat, (lang, kind)
        steps = rules.plan("M1", 2, "petrol", tuple(KINDS)) + rules.plan("N3", 3, "diesel", tuple(KINDS))
        for s in steps:
            key = "step." + ("brakes_axle" if s.axle and s.id.startswith("brakes") else
                             "suspension_axle" if s.axle else s.id)  # fmt: skip
            assert key in cat, (lang, key)


def test_every_reason_a_stand_or_camera_can_give_is_said_in_three_languages() -> None:
    """A stand's or camera's reason (line lost, frozen sensor, wrong serial, a camera refusing its
    account …) reaches the screen as a code, and each catalog says it with the same parameters the
    daemon sends (no English driver text on an operator's screen)."""
    from drivers.base import REASONS
    from drivers.camera.base import CAMERA_REASONS

    assert not set(REASONS) & set(CAMERA_REASONS)  # one code, one meaning
    for code, english in (REASONS | CAMERA_REASONS).items():
        params = set(re.findall(r"{(\w+)}", english)) - {"detail"}  # the detail stays for the log
        for lang in LANGS:
            text = catalog(lang).get(f"reason.{code}")
            assert text, (lang, code)
            assert set(re.findall(r"{(\w+)}", text)) <= params | {"detail"}, (lang, code)
            assert translate(lang, f"reason.{code}", **dict.fromkeys(params | {"detail"}, "x"))


@pytest.mark.parametrize("lang", LANGS)
def test_the_widest_key_bar_fits_an_80_column_console(lang: str) -> None:
    """The operator's key bar (the longest) on one 80-column line, in every language."""
    keys = ("new", "step", "card", "print", "lang", "logout")
    names = ("F2", "F5", "F8", "F7", "F10", "^Q")
    bar = "  ".join(f" {k}  {translate(lang, 'keys.' + label)}" for k, label in zip(names, keys, strict=True))
    assert len(bar) <= 80, bar


@pytest.mark.parametrize(
    ("lang", "left_s", "said"),
    [
        ("ru", 1048, "Минимальное время осмотра не истекло: осталось 17 мин 28 с (приказ № 532, п. 12)."),
        ("kk", 45, "Тексерудің ең аз уақыты өтпеді: 45 с қалды (№ 532 бұйрық, 12-т.)."),
        ("en", 60.4, "Minimum inspection time not reached: 1 min 0 s left (Order No. 532, p. 12)."),
    ],
)
def test_a_time_left_is_said_in_minutes_and_seconds_with_the_clause_in_words(
    lang: str, left_s: float, said: str
) -> None:
    """Issue #23 item 4: "1048 с" and "(Order No. 532, p. 12 (R12))" on a Russian screen, no more."""
    from tui.app import make_app

    app = make_app("/nonexistent.sock", lang)
    hold = {"code": "min_duration", "params": {"left_s": left_s, "clause": "Order No. 532, p. 12 (R12)"}}
    assert app.hold_text(hold) == said


def test_a_stand_in_a_hold_is_named_in_words_not_by_its_id() -> None:
    """Issue #23 item 4: "Устройство gas" no more."""
    from tui.app import make_app

    app = make_app("/nonexistent.sock", "ru")
    app.state = {"devices": [{"id": "gas", "kind": "gas"}]}
    said = app.hold_text({"code": "device_not_connected", "params": {"device": "gas", "reason": "нет связи"}})
    assert said.startswith("Устройство Газоанализатор") and " gas " not in f" {said} "
    assert "gas" not in app.hold_text({"code": "device_missing", "params": {"kind": "gas"}})


def test_every_sentence_of_the_screens_ends_as_a_sentence() -> None:
    """Issue #23 (5): holds and errors are said one after another ("Шаг не может начаться: …");
    each ends with its full stop, so they never run together — or with a colon, when what follows
    is the list of reasons."""
    import tomllib
    from pathlib import Path

    root = Path(__file__).parents[2] / "tui" / "i18n"
    bad = []
    for lang in ("kk", "ru", "en"):
        catalog = tomllib.loads((root / f"{lang}.toml").read_text(encoding="utf-8"))
        for section in ("hold", "error"):
            for key, text in catalog[section].items():
                if isinstance(text, str) and not text.rstrip().endswith((".", "?", "!", ":")):
                    bad.append(f"{lang} {section}.{key}: …{text[-30:]}")
    assert not bad, bad
