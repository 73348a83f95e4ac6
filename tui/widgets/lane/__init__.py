"""The panels of the lane screen, each a widget that draws itself from ``app.state``: the header
(EIS queue, alarms, language), the inspection (steps, timers, the last card), the stands and
cameras, and the live values of the running step. The screen tells them when to draw (its
redraw throttle); none of them computes a rule — derived values come from the daemon."""
