"""``./lane deposit``: the deposit package a registry evaluator asks for (issue #25 (6); seed
``002_…``, the rules of depositing software for state registration — repealed, their content still
what is asked): one archive of

* the source at a commit (``git archive``: what the repository holds, the documentation with it),
* ``DEPOSIT/dependencies.json`` — every library the lane runs on, at the version tested, with its
  licence as its own metadata says it (the runtime's, not the tests'),
* ``DEPOSIT/manifest.json`` — the full list of the deposit's materials: each file's size and
  SHA-256, the commit, when it was made — and ``DEPOSIT/manifest.sig``, that list signed with the
  release (targets) key of ``kiosk/publish.py``, as the releases are.

``python kiosk/deposit.py verify ARCHIVE --root ROOT.json`` checks a deposit against the update
repository's root (the one the package pins): the signature, then every file of the list.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import io
import json
import re
import subprocess
import sys
import tarfile
from importlib import metadata
from pathlib import Path
from typing import Any

from publish import signer
from securesystemslib.signer import Signature
from tuf.api.metadata import Metadata, Root

from app.release.manifest import canonical

HERE = Path(__file__).resolve().parent
PROJECT = HERE.parent
DEPOSIT = "DEPOSIT"


def _licence(dist: metadata.Distribution) -> str:
    """The licence as the library's metadata states it: its SPDX expression, else its classifiers,
    else the first line of its License field."""
    meta = dist.metadata
    if meta.get("License-Expression"):
        return str(meta["License-Expression"]).strip()[:200]
    classifiers = [
        c.split("::")[-1].strip() for c in meta.get_all("Classifier") or [] if c.startswith("License ::")
    ]
    if classifiers:
        return "; ".join(classifiers)[:200]
    first = (meta.get("License") or "").strip().splitlines()
    return first[0][:200] if first else "not stated in its metadata"


def dependencies(root: str = "otolane") -> list[dict[str, str]]:
    """The runtime's libraries: otolane's requirements without extras, followed to their ends."""
    seen: dict[str, dict[str, str]] = {}
    todo = [root]
    while todo:
        name = todo.pop()
        key = re.sub(r"[-_.]+", "-", name).lower()
        if key in seen:
            continue
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue
        seen[key] = {"name": dist.metadata["Name"], "version": dist.version, "licence": _licence(dist)}
        for req in dist.requires or []:
            if "extra ==" in req:
                continue
            marker_ok = True
            if ";" in req:
                from packaging.markers import Marker

                marker_ok = Marker(req.split(";", 1)[1]).evaluate()
            if marker_ok:
                todo.append(re.split(r"[ <>=!~;\[(]", req.strip(), maxsplit=1)[0])
    seen.pop("otolane", None)
    return sorted(seen.values(), key=lambda d: d["name"].lower())


def _add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = 0o644
    tar.addfile(info, io.BytesIO(data))


def build(out: Path, keys: Path, commit: str) -> Path:
    sha = subprocess.run(
        ["git", "rev-parse", commit], cwd=PROJECT, capture_output=True, text=True, check=True
    ).stdout.strip()
    source = subprocess.run(
        ["git", "archive", "--format=tar", f"--prefix=otolane-{sha[:12]}/", sha],
        cwd=PROJECT, capture_output=True, check=True,
    ).stdout  # fmt: skip
    files: dict[str, dict[str, Any]] = {}
    prefix = f"otolane-{sha[:12]}"
    out.mkdir(parents=True, exist_ok=True)
    archive = out / f"otolane-deposit-{sha[:12]}.tar.gz"
    deps = json.dumps(dependencies(), indent=1, ensure_ascii=False).encode()
    with tarfile.open(fileobj=io.BytesIO(source)) as src, tarfile.open(archive, "w:gz") as tar:
        for m in src:
            data = src.extractfile(m).read() if m.isfile() else None  # type: ignore[union-attr]
            if data is not None:
                files[m.name] = {"size": len(data), "sha256": hashlib.sha256(data).hexdigest()}
                tar.addfile(m, io.BytesIO(data))
            else:
                tar.addfile(m)
        dep_name = f"{prefix}/{DEPOSIT}/dependencies.json"
        files[dep_name] = {"size": len(deps), "sha256": hashlib.sha256(deps).hexdigest()}
        _add(tar, dep_name, deps)
        signed = {
            "type": "otolane-deposit",
            "commit": sha,
            "made": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "files": dict(sorted(files.items())),
        }
        sig = signer(keys, "targets").sign(canonical(signed)).to_dict()
        _add(tar, f"{prefix}/{DEPOSIT}/manifest.json", json.dumps(signed, indent=1).encode())
        _add(tar, f"{prefix}/{DEPOSIT}/manifest.sig", json.dumps(sig).encode())
    return archive


def verify(archive: Path, root_file: Path) -> list[str]:
    """What is wrong with a deposit against the repository's root; empty when it holds."""
    root = Metadata[Root].from_file(str(root_file)).signed
    role = root.get_delegated_role("targets")
    with tarfile.open(archive, "r:gz") as tar:
        members = {m.name: m for m in tar if m.isfile()}
        man = next((n for n in members if n.endswith(f"/{DEPOSIT}/manifest.json")), None)
        sig = next((n for n in members if n.endswith(f"/{DEPOSIT}/manifest.sig")), None)
        if not man or not sig:
            return ["no DEPOSIT/manifest.json and manifest.sig"]
        signed = json.loads(tar.extractfile(members[man]).read())  # type: ignore[union-attr]
        signature = Signature.from_dict(json.loads(tar.extractfile(members[sig]).read()))  # type: ignore[union-attr]
        try:
            if signature.keyid not in role.keyids:
                raise ValueError("a key the root does not name for releases")
            root.get_key(signature.keyid).verify_signature(signature, canonical(signed))
        except Exception as exc:  # any failure of the signature is the answer
            return [f"the list is not signed by a release key: {exc}"]
        problems = []
        for name, want in signed["files"].items():
            m = members.get(name)
            data = tar.extractfile(m).read() if m else None  # type: ignore[union-attr]
            if data is None:
                problems.append(f"missing: {name}")
            elif hashlib.sha256(data).hexdigest() != want["sha256"]:
                problems.append(f"changed: {name}")
        listed = set(signed["files"]) | {man, sig}
        problems += [f"not in the list: {n}" for n in members if n not in listed]
    return problems


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="action")
    v = sub.add_parser("verify", help="check a deposit against the repository's root")
    v.add_argument("archive", type=Path)
    v.add_argument("--root", required=True, type=Path, help="the update repository's root.json")
    ap.add_argument("--out", default=str(PROJECT / "build"), type=Path)
    ap.add_argument("--keys", default=str(PROJECT / "build" / "release-keys"), type=Path)
    ap.add_argument("--commit", default="HEAD")
    a = ap.parse_args()
    if a.action == "verify":
        problems = verify(a.archive, a.root)
        for p in problems:
            print(p)
        print("deposit: OK" if not problems else f"deposit: {len(problems)} problem(s)")
        return 0 if not problems else 1
    if not (a.keys / "targets.pem").exists():
        print(f"deposit: development release keys made in {a.keys}: not for a deposit", file=sys.stderr)
    print(build(a.out, a.keys, a.commit))
    return 0


if __name__ == "__main__":
    sys.exit(main())
