"""The fusion head's own optimizers (crisisdesk.core.fusion.optimizers): the same updates
as torch.optim's SGD and AdamW (foreach), so a training gives the weights it gave with
them, and a training never imports torch._dynamo (torch.optim does, ~150-230 MB)."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from offline_python import run_offline
from test_fusion_model import N_CLASSES, head, inputs, small_config
from test_fusion_train import learnable
from test_training_job import _project

from crisisdesk.core.fusion import train as train_module
from crisisdesk.core.fusion.optimizers import SGD, AdamW
from crisisdesk.core.fusion.train import Recipe, fit

OURS = {"sgd": lambda params, lr, momentum, weight_decay:
        SGD(params, lr=lr, momentum=momentum, weight_decay=weight_decay),
        "adamw": lambda params, lr, momentum, weight_decay:
        AdamW(params, lr=lr, weight_decay=weight_decay)}
TORCH = {"sgd": lambda params, lr, momentum, weight_decay:
         torch.optim.SGD(params, lr=lr, momentum=momentum, weight_decay=weight_decay,
                         foreach=True),
         "adamw": lambda params, lr, momentum, weight_decay:
         torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay, foreach=True)}
CASES = [("sgd", 1e-2, 0.0), ("sgd", 1e-2, 1e-2), ("adamw", 3e-3, 1e-2)]


def _exactly_equal(ours: torch.nn.Module, theirs: torch.nn.Module) -> None:
    for (name, a), (_, b) in zip(ours.state_dict().items(), theirs.state_dict().items()):
        torch.testing.assert_close(a, b, rtol=0, atol=0, msg=lambda m, n=name: f"{n}: {m}")


@pytest.mark.parametrize(("name", "lr", "weight_decay"), CASES)
def test_steps_give_the_parameters_torch_optim_gives(name: str, lr: float,
                                                     weight_decay: float) -> None:
    """Same start, same gradients, 12 steps: the same parameters, bit for bit. Every third
    step one parameter has no gradient (torch.optim then leaves it and its state alone)."""
    ours = head(seed=3, dropout=0.0).train()
    theirs, start = copy.deepcopy(ours), copy.deepcopy(ours.state_dict())
    opt_ours = OURS[name](ours.parameters(), lr, 0.9, weight_decay)
    opt_theirs = TORCH[name](theirs.parameters(), lr, 0.9, weight_decay)
    image, text = inputs(96, seed=4)
    labels = torch.arange(96) % N_CLASSES
    # Some items lack an image, some a text: the "missing" tokens learn too.
    image_present, text_present = torch.arange(96) % 3 != 0, torch.arange(96) % 4 != 1
    skipped = [n for n, _ in ours.named_parameters()].index("classifier.weight")
    for step in range(12):
        part = slice(step % 3 * 32, step % 3 * 32 + 32)
        opt_ours.zero_grad()
        opt_theirs.zero_grad(set_to_none=True)
        logits = ours(image[part], text[part], image_present[part], text_present[part])
        F.cross_entropy(logits, labels[part]).backward()
        for p, q in zip(ours.parameters(), theirs.parameters()):
            q.grad = p.grad.clone()  # the very same gradients
        if step % 3 == 2:
            list(ours.parameters())[skipped].grad = None
            list(theirs.parameters())[skipped].grad = None
        opt_ours.step()
        opt_theirs.step()
    _exactly_equal(ours, theirs)
    # And the step moved them (the comparison is not of two untouched heads).
    assert all(not torch.equal(start[n], p) for n, p in ours.named_parameters())


def test_zero_grad_drops_the_gradients() -> None:
    model = head(seed=1)
    optimizer = SGD(model.parameters(), lr=0.1, momentum=0.9)
    image, text = inputs(8)
    model(image, text).sum().backward()
    optimizer.zero_grad()
    assert all(p.grad is None for p in model.parameters())


@pytest.mark.parametrize(("name", "lr", "weight_decay"), CASES)
def test_a_whole_fit_gives_what_it_gave_with_torch_optim(monkeypatch, name: str, lr: float,
                                                         weight_decay: float) -> None:
    """fit() with dropout, shuffling and early stopping: the same epochs, losses and
    best weights as with torch.optim (exact: the updates are the same ops)."""
    recipe = Recipe(optimizer=name, lr=lr, weight_decay=weight_decay, batch_size=32,
                    max_epochs=8, patience=3, seed=7)
    config = small_config()
    train, val = learnable(160, seed=1), learnable(64, seed=2)
    ours = fit(config, recipe, train, val)
    monkeypatch.setattr(train_module, "make_optimizer",
                        lambda n, params, **kw: TORCH[n](params, **kw))
    theirs = fit(config, recipe, train, val)
    assert (ours.best_epoch, ours.epochs_run) == (theirs.best_epoch, theirs.epochs_run)
    assert [(h.train_loss, h.val_loss) for h in ours.history] == \
        [(h.train_loss, h.val_loss) for h in theirs.history]
    _exactly_equal(ours.model, theirs.model)


def test_training_never_imports_torch_dynamo(tmp_path: Path) -> None:
    """A fit with each optimizer and a TrainJob on a tiny project, in a fresh interpreter:
    torch._dynamo (sympy, triton, inductor: the app's retrain grew by ~230 MB) stays out."""
    project = _project(tmp_path, n=90)
    code = (
        "import json, sys\n"
        "import torch\n"
        "from crisisdesk.core.fusion.model import FusionConfig\n"
        "from crisisdesk.core.fusion.train import Recipe, Tensors, fit\n"
        "from crisisdesk.core.fusion.training import TrainJob\n"
        "from crisisdesk.core.project import Project\n"
        "seen = {'imports': 'torch._dynamo' in sys.modules}\n"
        "x, y = torch.randn(64, 6), torch.arange(64) % 2\n"
        "ones = torch.ones(64, dtype=torch.bool)\n"
        "data = Tensors(x, x.flip(1), ones, ones, y)\n"
        "config = FusionConfig(n_classes=2, image_dim=6, text_dim=6, hidden=8, tokens=2,"
        " heads=2)\n"
        "for name in ('sgd', 'adamw'):\n"
        "    fit(config, Recipe(optimizer=name, max_epochs=2, weight_decay=0.01),"
        " data, data)\n"
        "    seen[name] = 'torch._dynamo' in sys.modules\n"
        f"project = Project.open({str(project.root)!r})\n"
        "job = TrainJob(project, 'damage', image_encoder='img-enc', text_encoder='txt-enc',"
        " recipe=Recipe(optimizer='adamw', max_epochs=2))\n"
        "list(job.run())\n"
        "seen['train_job'] = 'torch._dynamo' in sys.modules\n"
        "seen['version'] = job.report.model_name\n"
        "print(json.dumps(seen))\n")
    out = run_offline(code)
    assert out.returncode == 0, out.stderr
    seen = json.loads(out.stdout.strip().splitlines()[-1])
    assert seen["version"]  # the job trained and registered a head
    assert {k: v for k, v in seen.items() if k != "version"} == {
        "imports": False, "sgd": False, "adamw": False, "train_job": False}
