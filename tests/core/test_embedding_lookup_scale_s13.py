"""Looking embeddings up by key reads those keys' rows, not the whole table.

``missing_keys`` and ``get_embeddings`` ask 500 keys at a time. SQLite answered each
slice through the (encoder, kind, dim) index, which the intact-row check's ``dim > 0``
made look useful, reading every vector of the encoder: predict at 100,000 items spent
48 of its 53 s there (each 500-key slice read 100,000 rows), and it grew with the square
of the project. Measured as SQLite's own work (virtual machine steps), not time."""

from __future__ import annotations

import numpy as np

from crisisdesk.core.project import Project


def _fill(project: Project, n: int) -> list[str]:
    keys = [f"k{i:07d}" for i in range(n)]
    vectors = np.random.default_rng(0).standard_normal((n, 8)).astype(np.float32)
    with project.open_store() as store:
        store.put_embeddings("text", "enc", keys, vectors)
    return keys


def _steps(project: Project, call) -> int:
    """SQLite VM steps (in thousands) that ``call(store)`` takes."""
    counted = [0]

    def tick() -> int:
        counted[0] += 1
        return 0

    with project.open_store() as store:
        store.conn.set_progress_handler(tick, 1000)
        call(store)
        store.conn.set_progress_handler(None, 1000)
    return counted[0]


def test_a_lookup_does_not_read_the_whole_table(tmp_path):
    small, big = (Project.open(tmp_path / name, create=True) for name in ("small", "big"))
    asked = _fill(small, 1000)[:50]
    _fill(big, 20_000)
    wanted = [*asked, "not-stored"]
    for call in (lambda s: s.missing_keys("text", "enc", wanted),
                 lambda s: s.get_embeddings("text", "enc", wanted)):
        # Same answer from both...
        assert _steps_result(small, call) == _steps_result(big, call)
        # ... for about the same work, though the big store holds 20 times the rows.
        assert _steps(big, call) <= 2 * _steps(small, call) + 5


def _steps_result(project: Project, call):
    with project.open_store() as store:
        result = call(store)
    return sorted(result)  # the missing keys, or the keys of the vectors found
