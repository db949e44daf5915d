"""Core messages the app shows that name a command-line option with no control in the app:
they say what the app's user can do, and mark a command as one to run in a terminal.

- A retrain whose training diverged said "lower the learning rate (--lr, now 0.001)" in
  the app's retrain report: the app has no learning rate, and its Retrain trains the
  same way each time (seed 0, the default recipe), so "train again" gave the same result.
- A fetched image's reason, shown in the detail panel and the list's tooltip, said
  "--retry-unreadable asks again" / "(--allow-network)": options of a command the app
  does not have, named without the command.
- An embed refused for another model under a stored encoder's name said "crisisdesk
  models add ... --encoder NEW_NAME" in the app's job row, where Settings does both.
"""

from __future__ import annotations

import ipaddress
from http.server import BaseHTTPRequestHandler

import numpy as np
import pytest
from fetch_helpers import serving
from test_embed_job import FakeEncoder
from test_embed_job import _project as embed_project
from test_retrain import _project

from crisisdesk.core.embed import EmbedJob
from crisisdesk.core.encoders.base import EncoderError
from crisisdesk.core.fusion.train import Recipe
from crisisdesk.core.http_get import FetchError, refused
from crisisdesk.core.media_fetch import FetchLimits, _Budget, fetch_one
from crisisdesk.core.retrain import RetrainJob


def test_a_diverged_retrain_says_what_the_app_user_can_do(tmp_path) -> None:
    project = _project(tmp_path, n=120)
    job = RetrainJob(project, ["damage"], image_encoder="img-enc", text_encoder="txt-enc",
                     recipe=Recipe(optimizer="sgd", lr=1e12, max_epochs=3, patience=1))
    list(job.run())
    skipped = job.report.tasks["damage"].skipped
    assert "training diverged" in skipped
    # Retraining in the app gives the same result: the way out is a terminal's train at
    # a lower learning rate, named as a command with the task and a learning rate.
    assert "same result" in skipped, skipped
    assert "in a terminal" in skipped and "crisisdesk train" in skipped, skipped
    assert "--task damage --lr 1e+11" in skipped, skipped


class _Gone(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
        self.send_response(410)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


def test_a_fetch_reason_names_the_command_to_run_in_a_terminal(tmp_path, monkeypatch) -> None:
    limits = FetchLimits(timeout=2, allowed_networks=(ipaddress.ip_network("127.0.0.0/8"),))
    with serving(_Gone, monkeypatch) as address, pytest.raises(FetchError) as gone:
        fetch_one(f"http://{address}/a.jpg", tmp_path, limits, _Budget(10**6))
    assert gone.value.status == "unreadable" and "HTTP 410" in str(gone.value)
    assert "in a terminal: crisisdesk media fetch PROJECT --retry-unreadable" \
        in str(gone.value), str(gone.value)
    private = str(refused("intranet.example", ipaddress.ip_address("10.1.2.3")))
    assert "in a terminal: crisisdesk media fetch PROJECT --allow-network 10.1.2.3" \
        in private, private


def test_another_model_under_an_encoders_name_says_the_settings_way_out(tmp_path) -> None:
    """An embed job refused for another model under a stored encoder's name (the app's
    embed job shows it in its row): the app registers a folder in Settings and picks the
    encoder there; "crisisdesk models add ... --encoder NEW_NAME" alone named neither."""
    project = embed_project(tmp_path)
    with project.open_store() as store:
        first = store.item_texts()[0]
        store.put_embeddings("text", "fake", [first.key], np.ones((1, 4), np.float32))
    with pytest.raises(EncoderError) as caught:
        list(EmbedJob(project, FakeEncoder()).run())
    said = str(caught.value)
    assert "Settings" in said and "Add a model folder" in said, said
    assert "in a terminal: crisisdesk models add NEW_NAME PATH" in said, said
