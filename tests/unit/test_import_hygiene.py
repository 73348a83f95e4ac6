"""D6: the layering of DESIGN.md holds at run time: ``app`` never loads Textual or ``tui``; ``drivers``
never loads ``app`` or ``tui``; ``tui`` uses only the API client of ``app``."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _loaded(module: str) -> set[str]:
    code = f"import sys, {module}; print('\\n'.join(sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return set(out.stdout.split())


def test_the_daemon_loads_no_screen_code() -> None:
    mods = _loaded("app.daemon")
    assert not any(m == "textual" or m.startswith(("textual.", "tui")) for m in mods)


def test_drivers_stand_alone() -> None:
    mods = _loaded("drivers.registry") | _loaded("drivers.sim.device") | _loaded("drivers.sim.modbus")
    assert not any(m.startswith(("app", "tui", "textual")) for m in mods)


def test_tui_imports_only_the_api_client_from_app() -> None:
    for path in (ROOT / "tui").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("app"):
                assert node.module == "app.api.client", f"{path}: imports {node.module}"


def test_no_module_of_app_or_drivers_imports_the_screens() -> None:
    """Not even lazily: ``otolane tui`` and the demo start the screen as its own program."""
    for package in ("app", "drivers"):
        for path in (ROOT / package).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text())):
                names = []
                if isinstance(node, ast.ImportFrom) and node.module:
                    names = [node.module]
                elif isinstance(node, ast.Import):
                    names = [a.name for a in node.names]
                for name in names:
                    assert not name.startswith(("tui", "textual")), f"{path}: imports {name}"
                    if package == "drivers":
                        assert not name.startswith("app"), f"{path}: imports {name}"


def test_the_daemon_loads_no_heavy_library_before_it_needs_one() -> None:
    """Issue #20 item 5: OpenCV, PyAV, numpy, Pillow, reportlab and onnxruntime are loaded when a
    camera, a photo, a document or a plate first needs them, not when the daemon starts (idle RSS
    on a 2–4 GB kiosk)."""
    mods = _loaded("app.daemon")
    heavy = {"cv2", "av", "numpy", "PIL", "reportlab", "onnxruntime", "rapidocr"}
    assert not heavy & {m.split(".")[0] for m in mods}
