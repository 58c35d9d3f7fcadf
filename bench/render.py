"""Render benchmark: prints figures, asserts nothing.

    python3 bench/render.py                      # 1,000 sources x 200 namespaces = 200,000 mirrors
    python3 bench/render.py --quick              # 100 x 50, a smoke run
    python3 bench/render.py --sources 500 --namespaces 100 --skip-kustomize

Every measured command runs in its own process, so wall time and peak RSS (from `os.wait4`) belong
to that step alone. Steps:

1. `kubectl-mirror render DIR > /dev/null`: wall, mirrors/s, peak RSS.
2. `kubectl-mirror render DIR --output-dir OUT`: wall, peak RSS (target <= 300 MB).
3. The serialization floor: one process renders the same mirrors through the engine, then times
   only PyYAML's C dumper writing them to a null sink. It also times the engine's own phases, so a
   slow run says where its time went. Ratio = step 1 wall / floor (target <= 2x).
4. `kubectl kustomize` over the equivalent tree: a base with the sources, one overlay per namespace
   setting `namespace:`, a top kustomization listing the overlays. Ratio (target: < 1x).
5. Start-up: median of N runs of `kubectl-mirror render examples/basic`, `kubectl-mirror-fn` on a
   ResourceList of the same example, and bare `python -c "import ruamel.yaml, jinja2"`
   (target <= 1.5x each).
6. `-X importtime` on both front doors: neither may import `kubernetes`.
7. Reading YAML (`--reading` runs only this): a generated package of 2,000 ConfigMaps with
   config-file data (~10 MB, one file each, 10 of them sources, 3 target namespaces). Times
   PyYAML's C loader reading every file in one process (the floor), `render` and `render --all`
   on the package (ratio to the floor, target <= 3x), the KRM function on the ResourceList
   `kpt fn source` would make of it, and `kubectl kustomize` on the package (a kustomization.yaml
   listing the files; target: the function no slower). Each is the median of --reading-runs runs.

Figures for step 7 at b43344b (2 CPUs shared with other work, load average 1.1-2.1; three runs
of the default median of 3; the C loader floor moved between 0.21 and 0.26 s):
    package: 2,001 files, 10.5 MB (2,000 ConfigMaps, 10 sources -> 30 mirrors)
    C loader (yaml.load_all, CSafeLoader) over every file, in-process:   0.21 s
    render:                        0.40-0.48 s = 1.8-2.0x the C loader  (target <= 3x: met)
    render --all:                  0.45-0.56 s = 2.1-2.2x the C loader  (target <= 3x: met; unchanged
                                   inputs are copied out as read (0315ba3), no longer dumped)
    kubectl-mirror-fn on the ResourceList (11.5 MB):   0.69-0.73 s, peak RSS 102 MB
    kubectl kustomize on the package:                  4.0-4.2 s; function / kustomize = 0.16-0.18x
  Before the copy: at 554cb7f (load 0.2-0.7, so if anything quieter), render 0.44-0.47 s =
  2.1-2.2x and render --all 0.78-0.80 s = 3.7-3.8x; at e8be26d, render 2.0x and render --all
  0.83 s = 3.9x (writing the 2,034 objects back was 0.53 s in io/emit.py's representers, 0.26 s
  with CSafeDumper alone).
  At e8be26d, without libyaml (the krew archive), reading the package in-process: 4.7 s (ruamel's
  pure loader, used before: 6.5 s).
  Before this work (ruamel: pure safe loader for render, round-trip for the function), on a
  10.5 MB single-file version of the same package: render 6.2 s, function 27.3 s, kustomize 12.2 s.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = REPO / "examples" / "basic"
# The console scripts next to this interpreter: a version manager's shims (pyenv) are shell
# scripts whose own start-up would be counted against ours.
BIN = Path(sys.executable).parent
SOURCE_NAMESPACE = "platform"
TRANSFORM_SHARE = 20  # one source in 20 (5%) carries a Jinja transform
TRANSFORM = '- path: data.owner\n  template: "{{ target.namespace | upper }}"\n'
MB = 1024 * 1024
VALUE_CHARS = "abcdefghijklmnopqrstuvwxyz0123456789-./"


# --- measuring one process -------------------------------------------------------------------


@dataclass(frozen=True)
class Run:
    """One finished process: wall time, peak resident set, exit code, what it said on stderr."""

    wall: float
    peak_rss: int  # bytes
    returncode: int
    stderr: str
    timed_out: bool = False

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and not self.timed_out

    def why(self) -> str:
        if self.timed_out:
            return f"timed out after {self.wall:.0f} s"
        last = self.stderr.strip().splitlines()[-1:] or [""]
        return f"exit {self.returncode}: {last[0][:200]}"


def measure(
    argv: Sequence[str | Path],
    *,
    stdin: Path | None = None,
    stdout: Path | None = None,
    env: dict[str, str] | None = None,
    timeout: float | None = None,
) -> Run:
    """Run argv with stdout to a file or /dev/null; wall and peak RSS from os.wait4."""
    with tempfile.TemporaryFile("w+", encoding="utf-8", errors="replace") as err:
        stdin_handle = open(stdin, "rb") if stdin else subprocess.DEVNULL  # noqa: SIM115
        stdout_handle = open(stdout, "wb") if stdout else subprocess.DEVNULL  # noqa: SIM115
        try:
            start = time.perf_counter()
            proc = subprocess.Popen(
                [str(a) for a in argv],
                stdin=stdin_handle,
                stdout=stdout_handle,
                stderr=err,
                env={**os.environ, **(env or {})},
            )
            killer = threading.Timer(timeout, proc.kill) if timeout else None
            if killer:
                killer.start()
            _, status, usage = os.wait4(proc.pid, 0)
            wall = time.perf_counter() - start
            proc.returncode = os.waitstatus_to_exitcode(status)
            timed_out = timeout is not None and wall >= timeout and proc.returncode < 0
            if killer:
                killer.cancel()
        finally:
            for handle in (stdin_handle, stdout_handle):
                if not isinstance(handle, int):
                    handle.close()
        err.seek(0)
        # ru_maxrss is in KiB on Linux.
        return Run(wall, usage.ru_maxrss * 1024, proc.returncode, err.read(), timed_out)


def median_wall(argv: Sequence[str | Path], *, runs: int, stdin: Path | None = None) -> Run:
    """The run with the median wall time of `runs` runs (one warm-up run first, not counted)."""
    measure(argv, stdin=stdin)
    done = sorted((measure(argv, stdin=stdin) for _ in range(runs)), key=lambda r: r.wall)
    failed = [r for r in done if not r.ok]
    return failed[0] if failed else done[len(done) // 2]


# --- inputs ----------------------------------------------------------------------------------


def transforms_available() -> bool:
    probe = [sys.executable, "-c", "import kubectl_mirror.engine.transforms"]
    return subprocess.run(probe, capture_output=True, check=False).returncode == 0


def _text_value(rng: random.Random, size: int) -> str:
    """A config-file-like value: several lines of key = value, about `size` bytes."""
    lines: list[str] = []
    while sum(len(line) + 1 for line in lines) < size:
        key = "".join(rng.choices("abcdefghijklmnopqrstuvwxyz_", k=rng.randint(6, 16)))
        value = "".join(rng.choices(VALUE_CHARS, k=rng.randint(8, 40)))
        lines.append(f"{key} = {value}")
    return "\n".join(lines) + "\n"


def _base64_value(rng: random.Random, size: int) -> str:
    import base64

    return base64.b64encode(rng.randbytes(size * 3 // 4)).decode()


def make_source(index: int, rng: random.Random, *, transform: bool) -> dict[str, Any]:
    """A ConfigMap (3 in 5) or Secret with three or four data keys of 200-500 bytes each."""
    is_secret = index % 5 >= 3 and not transform
    keys = ["app.conf", "logging.conf", "limits.conf", "endpoints.conf"][: rng.randint(3, 4)]
    if is_secret:
        data = {k.replace(".conf", ".key"): _base64_value(rng, rng.randint(200, 500)) for k in keys}
    else:
        data = {k: _text_value(rng, rng.randint(200, 500)) for k in keys}
        data["owner"] = "platform"
    annotations = {
        "kubectl-mirror.io/targets": "*",
        "team.example.com/contact": f"owner-{index % 17}@example.com",
    }
    if transform:
        annotations["kubectl-mirror.io/transform"] = TRANSFORM
    obj: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Secret" if is_secret else "ConfigMap",
        "metadata": {
            "name": f"{'secret' if is_secret else 'config'}-{index:05d}",
            "namespace": SOURCE_NAMESPACE,
            "labels": {
                "kubectl-mirror.io/source": "true",
                "app.kubernetes.io/part-of": f"service-{index % 23}",
            },
            "annotations": annotations,
        },
        "data": data,
    }
    if is_secret:
        obj["type"] = "Opaque"
    return obj


def make_namespace(index: int) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": f"team-{index:04d}"}
    if index % 4 == 0:
        meta["labels"] = {"env": "prod" if index % 8 == 0 else "staging", "tier": "gold"}
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": meta}


def dump_stream(objs: Sequence[Any]) -> str:
    dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
    return str(yaml.dump_all(objs, Dumper=dumper, sort_keys=False, explicit_start=True))


@dataclass(frozen=True)
class Inputs:
    root: Path
    render_dir: Path  # namespaces.yaml + sources.yaml for kubectl-mirror
    kustomize_top: Path
    sources: int
    namespaces: int
    with_transforms: int


def generate(root: Path, *, sources: int, namespaces: int, transforms: bool) -> Inputs:
    rng = random.Random(20240601)
    flags = [transforms and i % TRANSFORM_SHARE == 0 for i in range(sources)]
    objs = [make_source(i, rng, transform=flag) for i, flag in enumerate(flags)]
    source_text = dump_stream(objs)
    render_dir = root / "input"
    render_dir.mkdir(parents=True)
    (render_dir / "sources.yaml").write_text(source_text)
    (render_dir / "namespaces.yaml").write_text(dump_stream([make_namespace(i) for i in range(namespaces)]))
    top = write_kustomize_tree(root / "kustomize", source_text, namespaces=namespaces)
    return Inputs(root, render_dir, top, sources, namespaces, sum(flags))


def write_kustomize_tree(root: Path, source_text: str, *, namespaces: int) -> Path:
    """base/ holds the sources; overlays/<ns>/ sets `namespace:`; top/ lists every overlay."""
    base = root / "base"
    base.mkdir(parents=True)
    (base / "sources.yaml").write_text(source_text)
    (base / "kustomization.yaml").write_text(_kustomization(["sources.yaml"]))
    overlays: list[str] = []
    for i in range(namespaces):
        name = make_namespace(i)["metadata"]["name"]
        overlay = root / "overlays" / name
        overlay.mkdir(parents=True)
        (overlay / "kustomization.yaml").write_text(_kustomization(["../../base"], namespace=name))
        overlays.append(f"../overlays/{name}")
    top = root / "top"
    top.mkdir()
    (top / "kustomization.yaml").write_text(_kustomization(overlays))
    return top


def _kustomization(resources: list[str], *, namespace: str = "") -> str:
    doc: dict[str, Any] = {"apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization"}
    if namespace:
        doc["namespace"] = namespace
    doc["resources"] = resources
    return yaml.safe_dump(doc, sort_keys=False)


def resource_list(example: Path, target: Path) -> Path:
    """The example's objects wrapped in a ResourceList, as kpt would hand them to the function."""
    items: list[Any] = []
    for file in sorted(example.glob("*.yaml")):
        items.extend(d for d in yaml.safe_load_all(file.read_text()) if d is not None)
    doc = {"apiVersion": "config.kubernetes.io/v1", "kind": "ResourceList", "items": items}
    target.write_text(yaml.safe_dump(doc, sort_keys=False))
    return target


# --- steps -----------------------------------------------------------------------------------


@dataclass
class Report:
    """Lines for the final table: (figure, target or "")."""

    rows: list[tuple[str, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add(self, figure: str, target: str = "") -> None:
        self.rows.append((figure, target))
        print(f"  {figure}" + (f"   [{target}]" if target else ""), flush=True)

    def note(self, text: str) -> None:
        self.notes.append(text)
        print(f"  note: {text}", flush=True)


def render_argv(inputs: Inputs, *extra: str) -> list[str | Path]:
    limit = str(max(100, inputs.namespaces))
    return [BIN / "kubectl-mirror", "render", inputs.render_dir, "--max-targets", limit, *extra]


def step_render_stdout(inputs: Inputs, mirrors: int, report: Report) -> Run:
    print("[1] kubectl-mirror render > /dev/null", flush=True)
    run = measure(render_argv(inputs))
    if not run.ok:
        report.add(f"render to stdout FAILED ({run.why()})")
        return run
    report.add(
        f"render {mirrors:,} mirrors to stdout: {run.wall:.1f} s, "
        f"{mirrors / run.wall:,.0f} mirrors/s, peak RSS {run.peak_rss / MB:,.0f} MB"
    )
    return run


def step_render_output_dir(inputs: Inputs, mirrors: int, report: Report) -> Run:
    print("[2] kubectl-mirror render --output-dir", flush=True)
    out = inputs.root / "out"
    run = measure(render_argv(inputs, "--output-dir", str(out)))
    if not run.ok:
        report.add(f"render --output-dir FAILED ({run.why()})")
        return run
    written = sum(1 for _ in out.rglob("*.yaml")) - 1  # less the kustomization.yaml
    if written != mirrors:
        report.note(f"--output-dir wrote {written:,} mirror files, expected {mirrors:,}")
    rss = run.peak_rss / MB
    report.add(
        f"render --output-dir ({written:,} files): {run.wall:.1f} s, "
        f"{written / run.wall:,.0f} mirrors/s, peak RSS {rss:,.0f} MB",
        f"RSS <= 300 MB: {'met' if rss <= 300 else 'NOT met'}",
    )
    shutil.rmtree(out, ignore_errors=True)
    return run


def step_floor(inputs: Inputs, render: Run | None, report: Report) -> dict[str, float]:
    print("[3] serialization floor (CSafeDumper) and engine phases, in one process", flush=True)
    out = inputs.root / "phases.json"
    argv = [sys.executable, Path(__file__).resolve(), "--phases", inputs.render_dir, "--json", out]
    run = measure([*argv, "--max-targets", str(max(100, inputs.namespaces))])
    if not run.ok:
        report.add(f"floor FAILED ({run.why()})")
        return {}
    phases: dict[str, float] = json.loads(out.read_text())
    floor = phases["floor_csafedumper"]
    count = int(phases["mirrors"])
    report.add(
        f"floor: CSafeDumper dump_all of the same {count:,} mirrors: {floor:.1f} s, "
        f"{count / floor:,.0f} mirrors/s"
    )
    if render is not None and render.ok:
        ratio = render.wall / floor
        report.add(
            f"ratio render (stdout) / floor: {ratio:.2f}x",
            f"target <= 2x: {'met' if ratio <= 2 else 'NOT met'}",
        )
    breakdown = ", ".join(
        f"{k} {phases[k]:.2f} s"
        for k in ("read_inputs", "render_all", "yaml_stream", "to_yaml_each")
        if k in phases
    )
    report.add(f"phases in-process: {breakdown}")
    return phases


def step_kustomize(inputs: Inputs, render: Run | None, timeout: float, report: Report) -> None:
    """kustomize grows much faster than linearly with the object count (5,000 objects take
    ~12 s here, 10,000 take ~120 s), so at full size it is stopped after `timeout` seconds and
    the ratio is reported as a bound."""
    print(f"[4] kubectl kustomize over the overlay tree (limit {timeout:.0f} s)", flush=True)
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        report.note("kubectl not on PATH: kustomize comparison skipped")
        return
    run = measure([kubectl, "kustomize", inputs.kustomize_top], timeout=timeout)
    shape = f"{inputs.namespaces} overlays x {inputs.sources} sources"
    rss = f"peak RSS {run.peak_rss / MB:,.0f} MB"
    if run.timed_out:
        report.add(f"kubectl kustomize ({shape}): not done after {run.wall:.0f} s, {rss} so far")
    elif not run.ok:
        report.add(f"kubectl kustomize ({shape}): FAILED ({run.why()})")
        return
    else:
        objects = inputs.sources * inputs.namespaces
        report.add(
            f"kubectl kustomize ({shape}): {run.wall:.1f} s, {objects / run.wall:,.0f} objects/s, {rss}"
        )
    if render is None or not render.ok:
        return
    ratio = render.wall / run.wall
    bound = "< " if run.timed_out else ""
    report.add(
        f"ratio render (stdout) / kubectl kustomize: {bound}{ratio:.2f}x",
        f"target < 1x (faster): {'met' if ratio < 1 else 'NOT met'}",
    )


def startup_example(root: Path) -> Path:
    """examples/basic as it is, or without its transform annotations when transforms are absent."""
    if transforms_available():
        return EXAMPLE
    copy = root / "example-no-transforms"
    copy.mkdir()
    for file in EXAMPLE.glob("*.yaml"):
        docs = [d for d in yaml.safe_load_all(file.read_text()) if d is not None]
        for doc in docs:
            doc.get("metadata", {}).get("annotations", {}).pop("kubectl-mirror.io/transform", None)
        (copy / file.name).write_text(dump_stream(docs))
    return copy


def step_startup(root: Path, runs: int, report: Report) -> tuple[Path, Path]:
    print(f"[5] start-up, median of {runs} runs each", flush=True)
    example = startup_example(root)
    if example != EXAMPLE:
        report.note("transforms module missing: start-up uses examples/basic without transforms")
    rl = resource_list(example, root / "resource-list.yaml")
    # pip and pipx byte-compile what they install; an editable checkout only has bytecode if
    # Python may write it (PYTHONDONTWRITEBYTECODE unset). Without it every run compiles our
    # modules again (~20 ms here), which no installed user pays: compile them first.
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(REPO / "kubectl_mirror")], check=True)
    bare = median_wall([sys.executable, "-c", "import ruamel.yaml, jinja2"], runs=runs)
    report.add(f"bare python -c 'import ruamel.yaml, jinja2': {bare.wall * 1000:.0f} ms")
    fronts: list[tuple[str, list[str | Path], Path | None]] = [
        ("kubectl-mirror render examples/basic", [BIN / "kubectl-mirror", "render", example], None),
        ("kubectl-mirror-fn < ResourceList(examples/basic)", [BIN / "kubectl-mirror-fn"], rl),
    ]
    for label, argv, stdin in fronts:
        run = median_wall(argv, runs=runs, stdin=stdin)
        if not run.ok:
            report.add(f"{label}: FAILED ({run.why()})")
            continue
        ratio = run.wall / bare.wall
        report.add(
            f"{label}: {run.wall * 1000:.0f} ms = {ratio:.2f}x bare",
            f"target <= 1.5x: {'met' if ratio <= 1.5 else 'NOT met'}",
        )
    return example, rl


def imported_modules(argv: Sequence[str | Path], *, stdin: Path | None = None) -> set[str]:
    run = measure(argv, stdin=stdin, env={"PYTHONPROFILEIMPORTTIME": "1"})
    names: set[str] = set()
    for line in run.stderr.splitlines():
        if line.startswith("import time:") and line.count("|") == 2:
            names.add(line.rsplit("|", 1)[1].strip())
    return names


def step_importtime(example: Path, rl: Path, report: Report) -> None:
    print("[6] -X importtime: does a front door import `kubernetes`?", flush=True)
    fronts: list[tuple[str, list[str | Path], Path | None]] = [
        ("render CLI", [BIN / "kubectl-mirror", "render", example], None),
        ("KRM function", [BIN / "kubectl-mirror-fn"], rl),
    ]
    for label, argv, stdin in fronts:
        names = imported_modules(argv, stdin=stdin)
        hit = sorted(n for n in names if n == "kubernetes" or n.startswith("kubernetes."))
        verdict = f"yes ({len(hit)} modules, e.g. {hit[0]})" if hit else "no"
        report.add(
            f"{label} imports kubernetes: {verdict} ({len(names)} modules imported)",
            f"target no: {'met' if not hit else 'NOT met'}",
        )


# --- reading YAML (step 7) ----------------------------------------------------------------------

READ_CONFIGMAPS = 2000
READ_SOURCES = 10  # one ConfigMap in 200 is a source
READ_TARGETS = ("team-a", "team-b", "team-c")


def make_configmap(index: int, rng: random.Random) -> dict[str, Any]:
    """A ConfigMap as applications ship them: five config files of 0.6-1.2 KB, common labels."""
    meta: dict[str, Any] = {
        "name": f"app-{index:05d}-config",
        "namespace": SOURCE_NAMESPACE,
        "labels": {
            "app.kubernetes.io/name": f"app-{index:05d}",
            "app.kubernetes.io/part-of": f"service-{index % 23}",
        },
        "annotations": {"team.example.com/contact": f"owner-{index % 17}@example.com"},
    }
    if index % (READ_CONFIGMAPS // READ_SOURCES) == 0:
        meta["labels"]["kubectl-mirror.io/source"] = "true"
        meta["annotations"]["kubectl-mirror.io/targets"] = "team-*"
    data = {
        f"{name}.conf": _text_value(rng, rng.randint(600, 1200))
        for name in ("app", "db", "cache", "log", "auth")
    }
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": data}


@dataclass(frozen=True)
class Package:
    root: Path  # the files and their kustomization.yaml
    resource_list: Path  # what `kpt fn source` makes of them
    files: int
    size: int  # bytes of YAML in the package


def generate_package(root: Path) -> Package:
    """One object per file, as kpt packages are laid out, plus the ResourceList kpt would send.
    The files are in package/objects/ (what render reads); package/kustomization.yaml lists them."""
    rng = random.Random(20240602)
    pkg = root / "package"
    (pkg / "objects").mkdir(parents=True)
    objs = [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": n}} for n in READ_TARGETS]
    objs.insert(0, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": SOURCE_NAMESPACE}})
    files: list[str] = ["objects/namespaces.yaml"]
    (pkg / files[0]).write_text(dump_stream(objs))
    items = [_at(obj, files[0], i) for i, obj in enumerate(objs)]
    for i in range(READ_CONFIGMAPS):
        obj = make_configmap(i, rng)
        name = f"objects/{obj['metadata']['name']}.yaml"
        (pkg / name).write_text(dump_stream([obj]))
        files.append(name)
        items.append(_at(obj, name, 0))
    (pkg / "kustomization.yaml").write_text(_kustomization(files))
    rl = root / "package-resource-list.yaml"
    doc = {"apiVersion": "config.kubernetes.io/v1", "kind": "ResourceList", "items": items}
    rl.write_text(yaml.dump(doc, Dumper=getattr(yaml, "CSafeDumper", yaml.SafeDumper), sort_keys=False))
    size = sum((pkg / f).stat().st_size for f in files)
    return Package(pkg, rl, len(files), size)


def _at(obj: dict[str, Any], path: str, index: int) -> dict[str, Any]:
    """`obj` with the annotations kpt puts on every item it reads from a file."""
    annotations = {
        **obj["metadata"].get("annotations", {}),
        "config.kubernetes.io/index": str(index),
        "config.kubernetes.io/path": path,
        "internal.config.kubernetes.io/index": str(index),
        "internal.config.kubernetes.io/path": path,
    }
    return {**obj, "metadata": {**obj["metadata"], "annotations": annotations}}


def c_loader_seconds(pkg: Path, runs: int) -> float:
    """Median time for PyYAML's C loader to read every file of the package, in one process."""
    code = (
        "import sys, time, pathlib, yaml\n"
        "texts = [f.read_text() for f in sorted(pathlib.Path(sys.argv[1]).glob('*.yaml'))]\n"
        "times = []\n"
        "for _ in range(int(sys.argv[2])):\n"
        "    start = time.perf_counter()\n"
        "    for t in texts:\n"
        "        list(yaml.load_all(t, Loader=yaml.CSafeLoader))\n"
        "    times.append(time.perf_counter() - start)\n"
        "print(sorted(times)[len(times) // 2])\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code, str(pkg), str(runs)], capture_output=True, text=True, check=True
    )
    return float(proc.stdout)


def step_reading(root: Path, runs: int, report: Report) -> None:
    print(f"[7] reading YAML: {READ_CONFIGMAPS:,} ConfigMaps, median of {runs} runs", flush=True)
    if not getattr(yaml, "__with_libyaml__", False):
        report.note("PyYAML has no libyaml here: the C loader floor cannot be measured, step 7 skipped")
        return
    pkg = generate_package(root / "reading")
    report.add(f"package: {pkg.files:,} files, {pkg.size / MB:.1f} MB")
    floor = c_loader_seconds(pkg.root / "objects", runs)
    report.add(f"C loader (yaml.load_all, CSafeLoader) over every file, in-process: {floor:.2f} s")
    for label, extra in (("render", ()), ("render --all", ("--all",))):
        run = median_wall([BIN / "kubectl-mirror", "render", pkg.root / "objects", *extra], runs=runs)
        if not run.ok:
            report.add(f"{label} FAILED ({run.why()})")
            continue
        ratio = run.wall / floor
        report.add(
            f"{label} on the package: {run.wall:.2f} s = {ratio:.1f}x the C loader, "
            f"peak RSS {run.peak_rss / MB:,.0f} MB",
            f"target <= 3x: {'met' if ratio <= 3 else 'NOT met'}",
        )
    fn = median_wall([BIN / "kubectl-mirror-fn"], runs=runs, stdin=pkg.resource_list)
    rl_size = pkg.resource_list.stat().st_size / MB
    if not fn.ok:
        report.add(f"kubectl-mirror-fn FAILED ({fn.why()})")
        return
    report.add(
        f"kubectl-mirror-fn on the ResourceList ({rl_size:.1f} MB): {fn.wall:.2f} s, "
        f"peak RSS {fn.peak_rss / MB:,.0f} MB"
    )
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        report.note("kubectl not on PATH: kustomize comparison of step 7 skipped")
        return
    kustomize = median_wall([kubectl, "kustomize", pkg.root], runs=runs)
    if not kustomize.ok:
        report.add(f"kubectl kustomize on the package FAILED ({kustomize.why()})")
        return
    ratio = fn.wall / kustomize.wall
    report.add(
        f"kubectl kustomize on the package: {kustomize.wall:.2f} s; function / kustomize = {ratio:.2f}x",
        f"target <= 1x: {'met' if ratio <= 1 else 'NOT met'}",
    )


# --- the in-process phase timer (run as a child by step_floor) ---------------------------------


class NullSink:
    """A stream that drops everything: the floor measures the emitter, not the disk."""

    def write(self, data: str) -> int:
        return len(data)


def timed(phases: dict[str, float], name: str, fn: Callable[[], Any]) -> Any:
    start = time.perf_counter()
    value = fn()
    phases[name] = time.perf_counter() - start
    return value


def phases_main(render_dir: Path, out: Path, max_targets: int) -> None:
    """Render through the engine, then time the C dumper alone, then the package's emitters."""
    from kubectl_mirror.engine.plan import render_all
    from kubectl_mirror.io.documents import read_inputs
    from kubectl_mirror.io.emit import to_yaml, yaml_stream
    from kubectl_mirror.options import RawOptions, build_engine_options

    phases: dict[str, float] = {}
    options = build_engine_options(RawOptions({"max-targets": max_targets}))
    items = timed(phases, "read_inputs", lambda: read_inputs([str(render_dir)]))
    outcome = timed(phases, "render_all", lambda: render_all(items, options))
    mirrors = list(outcome.mirrors)
    phases["mirrors"] = len(mirrors)
    timed(
        phases,
        "floor_csafedumper",
        lambda: yaml.dump_all(
            mirrors,
            NullSink(),
            Dumper=yaml.CSafeDumper,
            sort_keys=False,
            default_flow_style=False,
            allow_unicode=True,
            width=1 << 30,
            explicit_start=True,
        ),
    )
    timed(phases, "yaml_stream", lambda: len(yaml_stream(mirrors)))
    timed(phases, "to_yaml_each", lambda: sum(len(to_yaml(m)) for m in mirrors))
    out.write_text(json.dumps(phases))


# --- main ------------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sources", type=int, default=1000)
    parser.add_argument("--namespaces", type=int, default=200)
    parser.add_argument("--quick", action="store_true", help="100 sources x 50 namespaces")
    parser.add_argument("--skip-kustomize", action="store_true")
    parser.add_argument("--kustomize-timeout", type=float, default=300.0, metavar="SECONDS")
    parser.add_argument("--startup-runs", type=int, default=10)
    parser.add_argument("--keep", action="store_true", help="keep the generated inputs")
    parser.add_argument("--reading", action="store_true", help="only step 7 (reading YAML)")
    parser.add_argument("--reading-runs", type=int, default=3)
    # Internal: the floor/phase child process of step 3.
    parser.add_argument("--phases", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--json", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--max-targets", type=int, default=1000, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.quick:
        args.sources, args.namespaces = 100, 50
    return args


def header(args: argparse.Namespace, inputs: Inputs, transforms: bool) -> None:
    print(
        f"kubectl-mirror render bench: {args.sources:,} sources x {args.namespaces} namespaces = "
        f"{args.sources * args.namespaces:,} mirrors"
    )
    print(
        f"python {platform.python_version()}, PyYAML {yaml.__version__} "
        f"(libyaml: {'yes' if hasattr(yaml, 'CSafeDumper') else 'NO'}), "
        f"{os.cpu_count()} CPUs, inputs in {inputs.root}"
    )
    # Wall times are only comparable on a quiet machine; say how busy this one was.
    print(f"load average at start: {os.getloadavg()[0]:.2f} (on {os.cpu_count()} CPUs)")
    if transforms:
        print(f"{inputs.with_transforms} sources carry a Jinja transform (data.owner)")
    else:
        print("note: kubectl_mirror.engine.transforms is missing: transforms skipped")
    print(flush=True)


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    if args.phases is not None:
        phases_main(args.phases, args.json, args.max_targets)
        return
    root = Path(tempfile.mkdtemp(prefix="kubectl-mirror-bench-"))
    if args.reading:
        try:
            print(f"python {platform.python_version()}, PyYAML {yaml.__version__}, {os.cpu_count()} CPUs")
            print(f"load average at start: {os.getloadavg()[0]:.2f}\n", flush=True)
            report = Report()
            step_reading(root, args.reading_runs, report)
            print_table(report)
        finally:
            _cleanup(root, keep=args.keep)
        return
    try:
        transforms = transforms_available()
        inputs = generate(root, sources=args.sources, namespaces=args.namespaces, transforms=transforms)
        header(args, inputs, transforms)
        report = Report()
        if not transforms:
            report.notes.append("transforms skipped (kubectl_mirror.engine.transforms missing)")
        mirrors = args.sources * args.namespaces
        render = step_render_stdout(inputs, mirrors, report)
        step_render_output_dir(inputs, mirrors, report)
        step_floor(inputs, render, report)
        if args.skip_kustomize:
            report.note("kustomize comparison skipped (--skip-kustomize)")
        else:
            step_kustomize(inputs, render, args.kustomize_timeout, report)
        example, rl = step_startup(root, args.startup_runs, report)
        step_importtime(example, rl, report)
        step_reading(root, args.reading_runs, report)
        print_table(report)
    finally:
        _cleanup(root, keep=args.keep)


def _cleanup(root: Path, *, keep: bool) -> None:
    if keep:
        print(f"inputs kept in {root}")
    else:
        shutil.rmtree(root, ignore_errors=True)


def print_table(report: Report) -> None:
    width = max(len(figure) for figure, _ in report.rows)
    print("\nSummary")
    print("-" * (width + 30))
    for figure, target in report.rows:
        print(f"{figure:<{width}}  {target}".rstrip())
    for note in report.notes:
        print(f"note: {note}")
    print(f"load average at end: {os.getloadavg()[0]:.2f} (wall times are noisy when it is high)")


if __name__ == "__main__":
    main()
