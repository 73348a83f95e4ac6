"""``./lane package``: the lane as a Debian package, ``build/otolane_<version>_<arch>.deb`` (issue #24 (1)).

The layout (dpkg-deb with a virtual environment inside, as dh-virtualenv makes it, without its
debhelper machinery):

* ``/opt/otolane/releases/<version>/`` — a virtual environment of Debian's own Python 3.11 holding
  otolane and every library it needs at the versions tested; its scripts name this folder;
* ``/opt/otolane/current`` — made by the maintainer script, pointing at the release in use (an
  update installs beside it and switches the link; the releases before stay, R10.8, R10.11);
* ``/usr/bin/otolane`` → ``/opt/otolane/current/bin/otolane``;
* ``/lib/systemd/system/`` — the units of ``kiosk/`` (enabled by the administrator, not here);
* ``/usr/share/otolane/`` — the sshd snippet and an example configuration;
* nothing under ``/etc/otolane`` or ``/var/lib/otolane``: the maintainer script makes the folders
  with their owners and modes when they are missing and never writes into them (the configuration,
  the keys and the evidence are the lane's, not the package's).

Run with any Python; it builds with ``/usr/bin/python3`` (the kiosk's) and ``dpkg-deb``.
"""

from __future__ import annotations

import argparse
import gzip
import os
import platform
import re
import shutil
import subprocess
import sys
from pathlib import Path

from publish import Repo

HERE = Path(__file__).resolve().parent
PROJECT = HERE.parent
PYTHON = "/usr/bin/python3"  # Debian 12's: the kiosk has the same
PREFIX = "/opt/otolane/releases"
DEPENDS = [
    "python3 (>= 3.11)",
    "python3-venv",
    "adduser",
    "restic",
    "cups-client",
    "nftables",
    "fonts-dejavu-core",
    "kbd",
]
RECOMMENDS = ["postgresql-client", "poppler-utils"]
MAINTAINER = "otolane developers <dev@otolane.kz>"
UNITS = [
    "laned.service",
    "otolane-console.service",
    "otolane-backup.service",
    "otolane-backup.timer",
    "otolane-update.service",
    "otolane-update.timer",
]


def version() -> str:
    text = (PROJECT / "pyproject.toml").read_text(encoding="utf-8")
    found = re.search(r'(?m)^version = "([^"]+)"', text)
    if not found:
        raise SystemExit("package: no version in pyproject.toml")
    return found.group(1)


def arch() -> str:
    out = subprocess.run(["dpkg", "--print-architecture"], capture_output=True, text=True, check=False)
    return out.stdout.strip() or {"x86_64": "amd64", "aarch64": "arm64"}.get(platform.machine(), "amd64")


#: the build sees only the environment it makes: a PYTHONPATH naming a checkout (with its
#: otolane.egg-info) would make pip think otolane is installed already and leave it out
CLEAN = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "PYTHONUSERBASE")}


def run(*argv: str | Path, **kw: object) -> None:
    subprocess.run([str(a) for a in argv], check=True, env=CLEAN, **kw)  # type: ignore[call-overload]  # noqa: S603


def control(ver: str, size_kib: int) -> str:
    return (
        f"Package: otolane\nVersion: {ver}\nArchitecture: {arch()}\n"
        "Maintainer: otolane developers <dev@otolane.kz>\n"
        f"Installed-Size: {size_kib}\nDepends: {', '.join(DEPENDS)}\nRecommends: {', '.join(RECOMMENDS)}\n"
        "Section: misc\nPriority: optional\n"
        "Description: software of one lane of a vehicle technical inspection centre\n"
        " otolane drives the lane's stands and cameras, judges every value against\n"
        " the norms of Order No. 532, forms the diagnostic card in Kazakh and\n"
        " Russian, prints it and delivers it to the state system EIS Tekhosmotr:\n"
        " the lane daemon laned and its screen for operators, technicians and\n"
        " administrators.\n"
    )


def build_venv(root: Path, ver: str, wheels: Path) -> Path:
    release = root / PREFIX.lstrip("/") / ver
    run(PYTHON, "-m", "venv", release)
    wheel = next(wheels.glob(f"otolane-{ver}-*.whl"))
    run(release / "bin" / "python", "-m", "pip", "install", "-q", "--disable-pip-version-check", wheel)
    if not (release / "bin" / "otolane").exists():
        raise SystemExit(f"package: otolane was not installed into {release}")
    run(release / "bin" / "python", "-m", "pip", "uninstall", "-q", "-y", "pip", "setuptools")
    # its scripts name the folder it lives in on the kiosk, not this build's
    built, final = str(release), f"{PREFIX}/{ver}"
    for script in (release / "bin").iterdir():
        if script.is_file() and not script.is_symlink():
            data = script.read_bytes()
            if data.startswith(b"#!") and built.encode() in data[:512]:
                script.write_bytes(data.replace(built.encode(), final.encode()))
    for act in (release / "bin").glob("[aA]ctivate*"):
        act.unlink()  # a service's environment is not activated by hand
    for cache in list(release.rglob("__pycache__")):
        shutil.rmtree(cache)
    for direct in release.rglob("direct_url.json"):
        direct.unlink()  # names this build's folder
    for vcs in [*release.rglob(".gitignore"), *release.rglob(".gitattributes")]:
        vcs.unlink()  # a library's own repository files, nothing the lane runs
    # Compiled here, checked against their sources' hashes when loaded (a module changed on the kiosk
    # is not run from a stale cache), named by the kiosk's paths; shipped, so the release manifest
    # covers the code Python actually runs (R10.7). A file of some library's tests that this Python
    # cannot compile is left as it is.
    subprocess.run(
        [release / "bin" / "python", "-m", "compileall", "-q", "-j", "0",
         "--invalidation-mode", "checked-hash", "-s", str(release), "-p", final, str(release / "lib")],
        env=CLEAN, check=False, stdout=subprocess.DEVNULL,
    )  # fmt: skip
    return release


SCRIPTS = {
    "postinst": """#!/bin/sh
# otolane: the lane's user and folders (made when missing, never written into), the release in use
set -e
VER="@VER@"
ROOT="${DPKG_ROOT:-}"
if [ "$1" = configure ]; then
  if [ -z "$ROOT" ]; then
    getent group otolane >/dev/null || addgroup --system otolane
    getent passwd otolane >/dev/null || adduser --system --ingroup otolane --home /var/lib/otolane \\
      --no-create-home --shell /usr/sbin/nologin otolane
    getent passwd otolane-kiosk >/dev/null || adduser --system --ingroup otolane \\
      --home /var/lib/otolane-console --no-create-home --shell /usr/sbin/nologin otolane-kiosk
    adduser otolane dialout >/dev/null 2>&1 || true
  fi
  [ -d "$ROOT/etc/otolane" ] || install -d -m 0750 "$ROOT/etc/otolane"
  [ -d "$ROOT/var/lib/otolane" ] || install -d -m 0700 "$ROOT/var/lib/otolane"
  if [ -z "$ROOT" ]; then
    chown root:otolane /etc/otolane
    chown otolane:otolane /var/lib/otolane
  fi
  ln -sfn "releases/$VER" "$ROOT/opt/otolane/current"
  if [ -z "$ROOT" ] && [ -d /run/systemd/system ]; then
    systemctl daemon-reload || true
    deb-systemd-invoke try-restart laned.service >/dev/null || true
  fi
  if [ ! -f "$ROOT/etc/otolane/lane.toml" ]; then
    echo "otolane: write /etc/otolane/lane.toml (example: /usr/share/otolane/lane.toml.example), then"
    echo "otolane: otolane config check /etc/otolane/lane.toml; the first administrator: otolane user add"
  fi
fi
exit 0
""",
    "prerm": """#!/bin/sh
# otolane: the daemon stops before its files go; the evidence in /var/lib/otolane stays
set -e
if [ "$1" = remove ] && [ -z "${DPKG_ROOT:-}" ] && [ -d /run/systemd/system ]; then
  deb-systemd-invoke stop laned.service otolane-console.service otolane-backup.timer >/dev/null || true
fi
exit 0
""",
    "postrm": """#!/bin/sh
# otolane: a purge never deletes the lane's data or keys (evidence under Order No. 532); it says where
set -e
if [ "$1" = purge ]; then
  echo "otolane: /etc/otolane and /var/lib/otolane are kept (the lane's keys and evidence):"
  echo "otolane: remove them by hand"
fi
if [ "$1" = remove ] || [ "$1" = purge ]; then
  [ -e "${DPKG_ROOT:-}/opt/otolane/releases/@VER@" ] || rm -f "${DPKG_ROOT:-}/opt/otolane/current"
fi
exit 0
""",
}

LINTIAN_OVERRIDES = """\
# The virtual environment in /opt holds the wheels of the libraries the lane was tested with, as
# their projects built them (as dh-virtualenv ships them): what lintian finds in them is theirs.
# ReportLab's own fonts (Vera, the standard fourteen's metrics) and its scripts' #!/bin/env:
otolane: license-problem-font-adobe-copyrighted-fragment-no-credit
otolane: license-problem-font-adobe-copyrighted-fragment
otolane: duplicate-font-file
otolane: truetype-font-prohibits-installable-embedding
otolane: script-uses-bin-env
# numpy's test data, compressed by numpy's authors:
otolane: package-contains-timestamped-gzip
# the wheels' extension modules find their bundled libraries by their own RPATH ($ORIGIN) and link
# libc through the interpreter that loads them:
otolane: custom-library-search-path
otolane: missing-dependency-on-libc
otolane: library-not-linked-against-libc
otolane: unstripped-binary-or-object
otolane: embedded-library
otolane: shared-library-lacks-prerequisites
otolane: executable-not-elf-or-script
otolane: script-not-executable
# The releases live side by side in /opt/otolane/releases/<version> and /opt/otolane/current
# points at the one in use: an update installs beside it and a rollback is a link switched back
# (R10.8, R10.11), which /usr cannot hold under dpkg's file ownership.
otolane: dir-or-file-in-opt
# compiled at build time with checked-hash invalidation, so the signed release manifest covers the
# code Python runs (R10.7) and a changed module is never run from a stale cache; not Debian's
# python3 dist-packages, whose byte-code the python3 tooling would own
otolane: package-installs-python-pycache-dir
# the environment's scripts start the environment's own interpreter
otolane: unusual-interpreter
# otolane --help and each command's --help; the manuals are docs/ (operations, protocols, EIS)
otolane: no-manual-page
# the project's licence is not a free one: the copyright file says so
otolane: copyright-without-copyright-notice
"""


def build(out: Path, keys: Path, edition: str = "production") -> Path:
    ver = version()
    stage = out / "stage"
    shutil.rmtree(stage, ignore_errors=True)
    wheels = out / "wheels"
    shutil.rmtree(wheels, ignore_errors=True)
    pip = (sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--disable-pip-version-check")
    run(*pip, "-w", wheels, PROJECT)
    root = stage / "root"
    release = build_venv(root, ver, wheels)
    # the release signed (its manifest with the targets key) and published in the update repository
    # beside the package; the package pins that repository's root of trust (issue #24 (4), (5))
    repo = Repo(out / "repo", keys)
    if not (repo.meta / "1.root.json").exists():
        repo.init()
    repo.release(release, ver, edition=edition)
    usr = root / "usr"
    (usr / "bin").mkdir(parents=True)
    (usr / "bin" / "otolane").symlink_to("/opt/otolane/current/bin/otolane")
    units = root / "lib" / "systemd" / "system"
    units.mkdir(parents=True)
    for unit in UNITS:
        shutil.copy(HERE / unit, units / unit)
        (units / unit).chmod(0o644)
    share = usr / "share" / "otolane"
    share.mkdir(parents=True)
    shutil.copy(HERE / "sshd-otolane.conf", share / "sshd-otolane.conf")
    shutil.copy(HERE / "lane.toml.example", share / "lane.toml.example")
    shutil.copy(repo.meta / "1.root.json", share / "update-root.json")
    shutil.copy(HERE / "novt.map", share / "novt.map")
    doc = usr / "share" / "doc" / "otolane"
    doc.mkdir(parents=True)
    (doc / "copyright").write_text(
        "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n"
        "Upstream-Name: otolane\n\nFiles: *\nCopyright: otolane developers\nLicense: proprietary\n"
        " All rights reserved. The libraries in /opt/otolane/releases carry their own licences\n"
        " (their dist-info folders).\n"
    )
    with gzip.GzipFile(doc / "changelog.gz", "wb", mtime=0) as f:
        when = "Thu, 03 Dec 2026 00:00:00 +0000"
        entry = f"otolane ({ver}) stable; urgency=medium\n\n  * Release {ver}.\n\n -- {MAINTAINER}  {when}\n"
        f.write(entry.encode())
    overrides = usr / "share" / "lintian" / "overrides"
    overrides.mkdir(parents=True)
    (overrides / "otolane").write_text(LINTIAN_OVERRIDES)
    debian = root / "DEBIAN"
    debian.mkdir()
    for name, text in SCRIPTS.items():
        (debian / name).write_text(text.replace("@VER@", ver))
        (debian / name).chmod(0o755)
    size = sum(p.stat().st_size for p in root.rglob("*") if p.is_file() and not p.is_symlink()) // 1024
    (debian / "control").write_text(control(ver, size))
    for p in root.rglob("*"):  # what the package installs is root's, readable by all; scripts run
        if p.is_symlink():
            continue
        if p.is_dir():
            p.chmod(0o755)
        elif p.suffix == ".so" or ".so." in p.name:
            p.chmod(0o644)  # a shared library is loaded, not run
        elif p.parent.name == "bin" or os.access(p, os.X_OK):
            p.chmod(0o755)
        else:
            p.chmod(0o644)
    deb = out / f"otolane_{ver}_{arch()}.deb"
    run("dpkg-deb", "--root-owner-group", "-Zgzip", "-z1", "--build", root, deb, stdout=subprocess.DEVNULL)
    shutil.rmtree(stage, ignore_errors=True)
    return deb


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(PROJECT / "build"), help="where the .deb is written")
    ap.add_argument(
        "--keys",
        default=None,
        help="the release keys (kiosk/publish.py); default OUT/release-keys, made if missing: "
        "development keys, not for lanes in service",
    )
    ap.add_argument(
        "--edition",
        choices=("production", "training"),
        default="production",
        help="production: no simulator runs from it (T1); training: the demo and simulators too",
    )
    args = ap.parse_args()
    for tool in (PYTHON, shutil.which("dpkg-deb") or "/usr/bin/dpkg-deb"):
        if not Path(tool).exists():
            raise SystemExit(f"package: {tool} is missing (apt-get install python3-venv dpkg-dev)")
    out = Path(args.out)
    keys = Path(args.keys) if args.keys else out / "release-keys"
    if not args.keys:
        print(f"package: release keys of development in {keys}: not for lanes in service", file=sys.stderr)
    deb = build(out, keys, args.edition)
    print(f"package: the update repository is {out / 'repo'} (serve it over HTTPS)", file=sys.stderr)
    print(deb)
    return 0


if __name__ == "__main__":
    sys.exit(main())
