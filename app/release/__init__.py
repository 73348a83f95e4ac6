"""The lane's releases (issue #24): what was shipped and signed (``manifest.py``), what protection a
release gives (``baseline.py``), the trusted update repository (``trust.py``), installing, checking
and switching releases with rollback (``update.py``), and a release's health (``health.py``)."""

#: what ``otolane update note`` may journal: the updater's own entries, nothing else
ACTIONS = ("update_applied", "update_refused", "update_deferred", "update_rolled_back")
