"""The integrity check (R3.13, R3.10): ``otolane integrity check``.

In order, each problem named with its table and row:

1. the database engine's own check (in a full check);
2. every chained table present, and each chain walked: links and row hashes (``chains.py``);
3. the chains held against every signed checkpoint in the checkpoint file, and the file itself
   (signatures, links): a cut tail, an emptied or dropped table, a row changed and the rest re-hashed
   are each found and named (``app/storage/anchor.py``);
4. every card's own anchor (the signed heads it was formed on) against the chains, and its delivery;
5. the state tables against the chained journal (``state.py``, ``app/ledger.py``): outbox,
   inspections (start time, the facts R12 and the card rest on, status, done steps), accounts;
6. every photo's encrypted file against the hashes chained when it was taken (R3.10).

It streams — a page of rows at a time, each row opened once, memory flat in the length of history —
tells its progress, saves its position as it goes (an interrupted check resumes), and can check
only what is new since the last good check (``position.py``).
"""

from app.integrity.check import check

__all__ = ["check"]
