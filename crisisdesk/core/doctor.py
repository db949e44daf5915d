"""``crisisdesk doctor``: what this installation can do, and why not, for support.

Each check gives one line: ok, warning (works, but less well: no GPU, a model not yet
installed) or problem (something that stops crisisdesk: the app cannot open, the demo
cannot be built, settings cannot be saved), with the fix. The GPU and bitsandbytes probes
(and the caller's extra probes: the CLI adds the Qt check of ``crisisdesk.gui.qt_check``)
run in child processes, so a crashing driver or a missing Qt plugin (which aborts the
process) is reported instead of taking the doctor down; they run side by side while the
quick checks run here. Nothing here imports Qt or knows about it.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

OK, WARNING, PROBLEM = "ok", "warning", "problem"
PROBE_TIMEOUT_S = 180  # importing torch on a busy machine can take a minute

#: Prints one JSON line: torch, its CUDA build, and the GPU seen (name, free memory, or
#: the error of a GPU that CUDA lists but cannot open: busy, full, a driver fault; that
#: is a finding about the GPU, not a torch that does not import).
TORCH_PROBE = r"""
import json, sys, torch
out = {"torch": torch.__version__, "cuda_build": torch.version.cuda, "gpus": []}
if torch.cuda.is_available():
    for index in range(torch.cuda.device_count()):
        gpu = {"name": f"GPU {index}"}
        try:
            gpu["name"] = torch.cuda.get_device_name(index)
            free, total = torch.cuda.mem_get_info(index)
            gpu.update(free_gb=free / 2**30, total_gb=total / 2**30)
        except Exception as exc:
            gpu["error"] = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]
        out["gpus"].append(gpu)
mps = getattr(torch.backends, "mps", None)
out["mps"] = bool(mps and mps.is_available())
print(json.dumps(out))
"""

#: A tiny 4-bit (nf4) layer forward on the GPU if there is one, else on the CPU.
BNB_PROBE = r"""
import json, torch, bitsandbytes as bnb
device = "cuda" if torch.cuda.is_available() else "cpu"
dtype = torch.float16 if device == "cuda" else torch.float32
layer = bnb.nn.Linear4bit(64, 64, compute_dtype=dtype, quant_type="nf4").to(device)
y = layer(torch.randn(2, 64, device=device, dtype=dtype))
assert y.shape == (2, 64) and bool(torch.isfinite(y).all()), "4-bit output is not finite"
print(json.dumps({"device": device, "bitsandbytes": bnb.__version__}))
"""

@dataclass
class Check:
    """One line of the doctor's report."""

    name: str
    status: str  # ok, warning or problem
    summary: str
    fix: str = ""
    details: dict[str, Any] = field(default_factory=dict)


class Probe:
    """A snippet of Python run in a child process whose last stdout line is JSON."""

    def __init__(self, code: str, env: dict[str, str] | None = None,
                 in_frozen_app: bool = True) -> None:
        self.code, self.in_frozen_app = code, in_frozen_app
        self.process: subprocess.Popen[str] | None = None
        self.error = ""
        self.started = True  # False when the child process could not be started
        if getattr(sys, "frozen", False):
            return  # the frozen app's executable is not python: result() runs it here
        try:
            self.process = subprocess.Popen(
                [sys.executable, "-c", code], stdout=subprocess.PIPE,
                stderr=subprocess.PIPE, text=True, env={**os.environ, **(env or {})})
        except OSError as exc:
            # The interpreter gone or not runnable is itself the finding: report it
            # on the probe's line rather than end the doctor with a traceback.
            self.error = f"cannot start {sys.executable}: {exc.strerror or exc}"[:300]
            self.started = False

    def result(self) -> dict[str, Any] | None:
        """The probe's JSON, or None with ``error`` saying what went wrong."""
        if not self.started:
            return None
        if self.process is None:
            return self._in_process()
        try:
            out, err = self.process.communicate(timeout=PROBE_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.communicate()
            self.error = f"no answer within {PROBE_TIMEOUT_S} s"
            return None
        lines = out.strip().splitlines()
        if self.process.returncode == 0 and lines:
            try:
                return json.loads(lines[-1])
            except ValueError:
                pass
        tail = [line for line in err.strip().splitlines() if line.strip()]
        self.error = (tail[-1] if tail else f"exit status {self.process.returncode}")[:300]
        return None


    def _in_process(self) -> dict[str, Any] | None:
        """Run the probe in this process (frozen app), its output captured."""
        if not self.in_frozen_app:
            self.error = "not probed in the frozen app"
            return None
        out = io.StringIO()
        try:
            # stderr too: libraries' import chatter would break up the report
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
                exec(compile(self.code, "<doctor probe>", "exec"), {})
            return json.loads(out.getvalue().strip().splitlines()[-1])
        except Exception as exc:  # noqa: BLE001 - what failed is the finding
            self.error = f"{type(exc).__name__}: {exc}"[:300]
            return None


def check_python() -> Check:
    """The interpreter (pip refuses to install crisisdesk under Python 3.11)."""
    version = ".".join(map(str, sys.version_info[:3]))
    details = {"version": version, "executable": sys.executable}
    return Check("python", OK, f"Python {version} ({sys.executable})", details=details)


def check_torch(info: dict[str, Any] | None, error: str) -> Check:
    """Whether torch imports, its version and the CUDA version it was built for."""
    if info is None:
        return Check("torch", PROBLEM, f"torch does not import: {error}",
                     "pip install torch torchvision (see the README, Installing)")
    build = f"CUDA {info['cuda_build']} build" if info["cuda_build"] else "CPU-only build"
    return Check("torch", OK, f"torch {info['torch']} ({build})", details=info)


def check_gpu(info: dict[str, Any] | None) -> Check:
    """The GPU jobs will use, with its free memory; none is a warning with the fix."""
    if info is None:
        return Check("gpu", WARNING, "unknown (torch does not import)",
                     "fix torch first (see the torch line)")
    if info["gpus"]:
        gpu = info["gpus"][0]
        if "error" in gpu:  # the one jobs pick (cuda:0) is seen but cannot be opened
            return Check("gpu", WARNING, f"{gpu['name']} is seen but cannot be used: "
                         f"{gpu['error']}", "another program may hold it or fill its "
                         "memory (nvidia-smi lists them; an exclusive compute mode lets "
                         "one program in); until it is free, run jobs with --device cpu",
                         info)
        summary = (f"{gpu['name']}: {gpu['free_gb']:.1f} of {gpu['total_gb']:.1f} GB free"
                   + (f" (+{len(info['gpus']) - 1} more)" if len(info["gpus"]) > 1 else ""))
        if gpu["free_gb"] < 6:
            return Check("gpu", WARNING, summary, "LLaVA-1.5-7B in 4-bit needs about 5.5 GB "
                         "free: close other GPU programs, or caption with a server "
                         "(crisisdesk caption --server URL)", info)
        return Check("gpu", OK, summary, details=info)
    if info["mps"]:
        return Check("gpu", WARNING, "Apple GPU (MPS) found, but crisisdesk's jobs do not "
                     "use it yet: embedding and captions run on the CPU",
                     "for large projects, caption on a GPU server (crisisdesk caption "
                     "--server URL) or import embeddings computed elsewhere", info)
    if info["cuda_build"]:
        fix = ("install or update the NVIDIA driver (nvidia-smi must list the GPU) and "
               "check CUDA_VISIBLE_DEVICES")
    else:
        fix = ("on a machine with an NVIDIA GPU, install a CUDA build of torch: "
               "pip install torch torchvision --index-url https://download.pytorch.org/whl/cu128")
    return Check("gpu", WARNING, "no GPU: embedding and captions run on the CPU (slower; "
                 "the small CPU captioner)", fix, info)


def check_bitsandbytes(info: dict[str, Any] | None, error: str, gpu: bool,
                       gpu_usable: bool = True) -> Check:
    """Whether a 4-bit layer runs here (LLaVA-7B on a GPU is loaded in 4-bit)."""
    if info is not None:
        return Check("4-bit", OK, f"bitsandbytes {info['bitsandbytes']}: a 4-bit layer runs "
                     f"on the {info['device'].upper()}", details=info)
    if gpu and not gpu_usable:
        return Check("4-bit", WARNING, f"bitsandbytes 4-bit fails on the GPU: {error}",
                     "fix the GPU first (see the gpu line)", {"error": error})
    if gpu:
        return Check("4-bit", WARNING, f"bitsandbytes 4-bit fails on the GPU: {error}",
                     "pip install -U bitsandbytes; meanwhile caption with --quant 8bit, "
                     "--quant none (16 GB) or a server", {"error": error})
    return Check("4-bit", WARNING, f"bitsandbytes 4-bit does not run here: {error}",
                 "only needed for LLaVA-7B on a CUDA GPU; without one, captions use the "
                 "small CPU model or a server", {"error": error})


def _size_mb(path: Path) -> float:
    """Megabytes on disk of a file or folder (symlinks followed: hub cache snapshots)."""
    if path.is_file():
        return path.stat().st_size / 1e6
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 1e6


def check_models() -> list[Check]:
    """One line per known model: installed (where, size) or missing (size, the fix)."""
    from crisisdesk.core.models.registry import (
        REGISTERED,
        ModelMissing,
        RegisteredPathGone,
        RegistrationsUnreadable,
        all_specs,
        locate,
    )

    checks = []
    for spec in all_specs().values():
        try:
            where = locate(spec)
        except ModelMissing as exc:
            fixes = str(exc).split("Fix it with:\n", 1)[-1].strip().splitlines()
            # Say what models list says: a registered folder gone (a drive not mounted)
            # or an unreadable models.json is not a model to download again.
            if isinstance(exc, RegisteredPathGone):
                summary = f"missing ({exc.reason})"
            elif isinstance(exc, RegistrationsUnreadable):
                summary = f"unknown: {REGISTERED} cannot be read"
                fixes = [f"fix {REGISTERED} first (see the settings {REGISTERED} line)"]
            else:
                size = f" ({spec.download_mb:,.0f} MB to download)" if spec.download_mb \
                    else ""
                summary = f"not installed{size}"
            # The demo and the bundled heads embed with MiniLM: without it crisisdesk
            # cannot give a first prediction, so that one is a problem.
            status = PROBLEM if spec.name == "minilm" else WARNING
            # A fix line of the message may itself start with "or": do not say it twice.
            fix = "; or ".join(" ".join(f.split()).removeprefix("or ") for f in fixes)
            checks.append(Check(f"model {spec.name}", status, summary, fix,
                                {"kind": spec.kind, "download_mb": spec.download_mb}))
            continue
        size = _size_mb(where.path)
        checks.append(Check(f"model {spec.name}", OK, f"installed, {size:,.0f} MB "
                            f"({where.route}: {where.path})",
                            details={"kind": spec.kind, "route": where.route,
                                     "path": str(where.path), "size_mb": round(size, 1)}))
    return checks


def _writable(folder: Path) -> bool:
    """Whether ``folder`` can be written, or created under its nearest existing parent."""
    probe = folder
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    return probe.is_dir() and os.access(probe, os.W_OK | os.X_OK)


def check_folders() -> list[Check]:
    """Where settings, data and the Hugging Face cache live, and that they can be written."""
    from crisisdesk.core.models.registry import hub_cache_dir
    from crisisdesk.core.settings import config_dir, user_data_dir

    checks = []
    for name, folder, variable in (("settings", config_dir(), "CRISISDESK_CONFIG_DIR"),
                                   ("data", user_data_dir(), "CRISISDESK_DATA_DIR")):
        if _writable(folder):
            checks.append(Check(name, OK, str(folder), details={"path": str(folder)}))
        else:
            checks.append(Check(name, PROBLEM, f"{folder} cannot be written",
                                f"fix its permissions, or set {variable} to a writable "
                                "folder", {"path": str(folder)}))
    cache = hub_cache_dir()
    if _writable(cache):
        checks.append(Check("hf cache", OK, str(cache), details={"path": str(cache)}))
    else:
        checks.append(Check("hf cache", WARNING, f"{cache} cannot be written: "
                            "crisisdesk models download will fail",
                            "set HF_HOME (or HF_HUB_CACHE) to a writable folder",
                            {"path": str(cache)}))
    return checks


def check_settings_files() -> list[Check]:
    """The settings files that are there but unreadable (a hand edit gone wrong): their
    content is ignored, so say so. Nothing when they are fine or absent."""
    from crisisdesk.core.models.registry import REGISTERED
    from crisisdesk.core.settings import APP_SETTINGS, SettingsError, read_settings_strict

    # An unreadable models.json stops every model look-up (registry.locate is strict:
    # a registered name must not fall through to another copy), it is not skipped.
    ignored = {REGISTERED: ("no model can be found until it is fixed (jobs cannot tell "
                            "which registered models it holds)",
                            "correct the file, or delete it and register the models again "
                            "(crisisdesk models add NAME PATH)"),
               APP_SETTINGS: ("the last project in it is forgotten",
                              "correct the file, or delete it")}
    checks = []
    for name, (effect, fix) in ignored.items():
        try:
            read_settings_strict(name)
        except SettingsError as exc:
            checks.append(Check(f"settings {name}", WARNING, f"{exc}: {effect}", fix))
    return checks


def check_offline() -> Check:
    """Whether the Hugging Face libraries stay offline (crisisdesk only downloads on request)."""
    value = os.environ.get("HF_HUB_OFFLINE", "")
    if value.strip().lower() in ("1", "true", "yes", "on"):
        return Check("offline", OK, "HF_HUB_OFFLINE=1: nothing is fetched except by "
                     "crisisdesk models download")
    return Check("offline", WARNING, f"HF_HUB_OFFLINE={value!r}: libraries may reach the "
                 "Hugging Face hub on their own", "unset HF_HUB_OFFLINE (crisisdesk then "
                 "sets it to 1)")


def _guarded(check: Callable[[], Check | list[Check]], name: str) -> list[Check]:
    """Run a check; a check that itself crashes becomes a warning, never a traceback."""
    try:
        result = check()
    except Exception as exc:  # noqa: BLE001 - the doctor must always finish its report
        return [Check(name, WARNING, f"could not check: {type(exc).__name__}: {exc}")]
    return result if isinstance(result, list) else [result]


@dataclass(frozen=True)
class ProbeCheck:
    """A check that needs a child process: its probe's code and how to judge the result
    (the parsed JSON or None, and the probe's error)."""

    name: str
    code: str
    judge: Callable[[dict[str, Any] | None, str], Check]
    in_frozen_app: bool = True


def run_checks(extra: Sequence[ProbeCheck] = ()) -> list[Check]:
    """Every check, in report order (about 10-30 s: the probes import torch); ``extra``
    probes run beside the built-in ones and are reported after them."""
    torch_probe, bnb_probe = Probe(TORCH_PROBE), Probe(BNB_PROBE)
    extra_probes = [Probe(e.code, in_frozen_app=e.in_frozen_app) for e in extra]
    checks = _guarded(check_python, "python")
    checks += _guarded(check_offline, "offline")
    checks += _guarded(check_folders, "folders")
    checks += _guarded(check_settings_files, "settings files")
    checks += _guarded(check_models, "models")
    torch_info = torch_probe.result()
    bnb_info = bnb_probe.result()
    has_gpu = bool(torch_info and torch_info["gpus"])
    gpu_usable = has_gpu and "error" not in torch_info["gpus"][0]
    probed = (_guarded(lambda: check_torch(torch_info, torch_probe.error), "torch")
              + _guarded(lambda: check_gpu(torch_info), "gpu")
              + _guarded(lambda: check_bitsandbytes(bnb_info, bnb_probe.error, has_gpu,
                                                    gpu_usable), "4-bit"))
    for check, probe in zip(extra, extra_probes, strict=True):
        info = probe.result()
        probed += _guarded(lambda c=check, p=probe, i=info: c.judge(i, p.error), check.name)
    checks[1:1] = probed
    return checks


def exit_code(checks: list[Check]) -> int:
    """0 unless a check found a problem (1)."""
    return 1 if any(c.status == PROBLEM for c in checks) else 0


def report_text(checks: list[Check]) -> str:
    """The report as aligned lines, each fix under its line."""
    width = max(len(c.name) for c in checks)
    lines = []
    for check in checks:
        lines.append(f"{check.status:8} {check.name:{width}}  {check.summary}")
        if check.fix and check.status != OK:
            lines.append(f"{'':8} {'':{width}}  fix: {check.fix}")
    problems = [c.name for c in checks if c.status == PROBLEM]
    warnings = sum(c.status == WARNING for c in checks)
    lines.append(f"{len(problems)} problem(s)" + (f" ({', '.join(problems)})" if problems
                                                   else "") + f", {warnings} warning(s)")
    return "\n".join(lines)


def report_json(checks: list[Check]) -> str:
    """The report as JSON (for bug reports): the checks and the crisisdesk version."""
    from crisisdesk import __version__

    return json.dumps({"crisisdesk": __version__, "platform": sys.platform,
                       "exit_code": exit_code(checks),
                       "checks": [asdict(c) for c in checks]}, indent=2, ensure_ascii=False)
