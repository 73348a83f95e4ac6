"""The lane screen's inspection panel: the vehicle, the timers (R12), the steps with the results of
the last finished one; with no inspection open, the last card with its items and its delivery. It
never judges a value: verdicts, holds and derived values are the daemon's."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rich.markup import escape
from rich.text import Text
from textual.widgets import Static

from tui.screens.base import AppMixin

#: final results shown under a done step, beside the brakes' own line
RESULTS = {
    "sideslip.result": "",
    "suspension.efficiency.left": "L",
    "suspension.efficiency.right": "R",
    "smoke.k_mean": "k̄",
}
STEP_MARK = {"done": "[green]✓[/green]", "running": "[b yellow]▶[/b yellow]", "pending": "·"}


def mmss(seconds: float) -> str:
    seconds = max(0, int(seconds))
    return f"{seconds // 60:02d}:{seconds % 60:02d}"


def item_lines(
    t: Callable[..., str], item: dict[str, Any], unit: Callable[[str], str] = lambda u: u
) -> list[str]:
    """One card item: its name, then measured value, norm and verdict (with the deviation); ``unit``
    says a unit as people here write it."""
    params = dict(item.get("params", {}))
    if "side" in params:
        params["side"] = t(f"side.{params['side']}")
    if "glass" in params:
        params["glass"] = t(f"glass.{params['glass']}")
    mark = "[green]●[/green]" if item["passed"] else f"[red]✗ {item['deviation']:+g}[/red]"
    if item["item"].startswith("visual."):
        value = t("item.defect" if item["value"] else "item.no_defect")
        if item["value"]:  # a defect found is said as the checklist said it, not as the check's name
            found = t(f"visual.defect.{item['item'].removeprefix('visual.')}")
            return [f"[red]✗[/red] {found}", f"    {value}"]
    else:
        u, norm = item["unit"], item["norm"]
        if u and norm.endswith(u):  # the norm's text ends with the device's unit: said ours
            norm = norm[: -len(u)] + unit(u)
        value = t("item.measured", value=f"{item['value']:g}", unit=unit(u), norm=norm)
    return [f"{mark} {t('item.' + item['item'], **params)}", f"    {value}"]


def results_text(t: Callable[..., str], step: dict[str, Any]) -> str:
    """A finished step's results on one line; a brake step's with the imbalance the daemon derived."""
    res = step.get("results", {})
    imbalance = (step.get("derived") or {}).get("imbalance")
    if imbalance is not None:
        left, right = res["brake.force.left.max"], res["brake.force.right.max"]
        return t("step.results", left=f"{left:.2f}", right=f"{right:.2f}", imb=f"{imbalance:.1f}")
    return " · ".join(f"{RESULTS[ch]} {v:g}".strip() for ch, v in res.items() if ch in RESULTS)


class InspectionPanel(AppMixin, Static):
    def show(self, st: dict[str, Any]) -> None:
        insp = st.get("inspection")
        self.update(self._open(insp) if insp else self._idle(st.get("last_card")))

    def _idle(self, last: dict[str, Any] | None) -> str:
        t = self.app_.t
        lines = [f"[b]{t('lane.inspection')}[/b]", "", t("lane.none")]
        if last:
            lines += [
                "",
                t(
                    "lane.last_card",
                    card=f"№{last.get('number')} {escape(last.get('plate', ''))}",
                    verdict=t(f"verdict.{last['verdict']}"),
                    eis=t(f"eis.{last['eis']}"),
                ),
            ]
            if last.get("eis_error") and last["eis"] != "accepted":  # D4: told, never waiting on it
                key = "lane.eis_retrying" if last["eis"] == "pending" else "lane.eis_refused"
                reason = escape(last["eis_error"][:120])
                lines.append(f"[yellow]{t(key, attempts=last.get('eis_attempts', 0), reason=reason)}[/]")
            for item in last.get("items", []):
                lines += item_lines(t, item, self.app_.unit)
        return "\n".join(lines)

    def _open(self, insp: dict[str, Any]) -> str:
        t = self.app_.t
        elapsed = insp["elapsed_s"]  # the daemon publishes the inspection every second
        minimum = insp["minimum_s"]
        timer = t("lane.elapsed", elapsed=mmss(elapsed), minimum=mmss(minimum))
        if elapsed >= minimum:
            timer += " · " + t("lane.min_reached")
        fuel = t("fuel." + insp["fuel"])
        lines = [f"[b]{escape(insp['plate'])}[/b] · {insp['category']} · {fuel} · №{insp['number']}", timer]
        # Results under the last finished step only: the whole list stays on an 80×24 screen;
        # every result is on the card review and in the card itself.
        done = [x["id"] for x in insp["steps"] if x["status"] == "done" and x.get("results")]
        last_done = done[-1] if done else None
        steps: list[list[str]] = []  # each step's lines: its own, and the results of the last done
        for i, s in enumerate(insp["steps"], 1):
            steps.append([f"{STEP_MARK[s['status']]} {i} {self.app_.step_name(s['id'])}"])
            if s["id"] == last_done and (said := results_text(t, s)):
                steps[-1].append("    " + said)
        return "\n".join(lines + self._fit(insp["steps"], steps, sum(self._rows(ln) for ln in lines)))

    def _rows(self, line: str) -> int:
        """How many rows a line takes in the panel (a long one wraps)."""
        width = max(1, self.size.width)
        return max(1, -(-Text.from_markup(line).cell_len // width))

    def _fit(self, all_steps: list[dict[str, Any]], steps: list[list[str]], above: int) -> list[str]:
        """The steps in the panel's height (issue #23: a lane's 14 steps did not fit 80×24, the last
        never seen): the first finished steps folded into one line, the ones still to come kept."""
        flat = [ln for step in steps for ln in step]
        room = self.size.height - above
        if room <= 0 or sum(map(self._rows, flat)) <= room:
            return flat
        first_open = next((i for i, s in enumerate(all_steps) if s["status"] != "done"), len(all_steps))
        fold = 0
        while fold < first_open and 1 + sum(self._rows(ln) for x in steps[fold:] for ln in x) > room:
            fold += 1
        if fold < 2:
            return flat
        folded = STEP_MARK["done"] + " " + self.app_.t("lane.steps_done", first=1, last=fold)
        return [folded, *(ln for step in steps[fold:] for ln in step)]
