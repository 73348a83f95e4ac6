"""Backups of the lane and their verified restore (R3.11, R3.12): ``make.py``, ``restore.py``,
``swap.py``; the repository: ``restic.py``."""
