"""Images for the Docker backend, built without a registry and cached by content.

No image can be pulled on the machines splitbrain runs on, so the base image is
made offline: ``docker/debootstrap.sh`` runs ``debootstrap --variant=minbase``
from the Debian mirror the machine's apt already uses (read from
``/etc/apt/sources.list*`` at build time, never hardcoded), and the root
filesystem is ``docker import``-ed as ``splitbrain/base:<recipe hash>`` and
tagged ``splitbrain/base:latest``. The recipe hash covers the suite, the package
list and the script, so an unchanged recipe is never rebuilt (about 45 s cold).

Each target's image is built from ``<target.source_dir>/Dockerfile`` with
``target.build_context`` as build context (default: the project root holding the
Dockerfile; splitbrain's own for built-in targets), ``--build-arg BASE=splitbrain/base:<hash>``. The
Dockerfile starts with ``ARG BASE=python:3.11-slim`` / ``FROM ${BASE}``, so a
user with a registry builds the same file from a public image. The context sent
to the engine holds only the paths the Dockerfile ``COPY``s (no ``.git``, no
``histories/``, no ``__pycache__``), and the image is tagged
``splitbrain/<target>:<hash of that context and the base image's id>``: unchanged code
reuses its image, changed code gets a new one in a few seconds.

Builds take a file lock (``$XDG_CACHE_HOME/splitbrain/images.lock``) so that
parallel runs and tests build each image once.
"""

from __future__ import annotations

import fcntl
import glob
import hashlib
import importlib.metadata
import io
import json
import os
import re
import shutil
import subprocess
import tarfile
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterator

from harness.cluster import EnvironmentError_

if TYPE_CHECKING:
    import docker

    from harness.target import Target

__all__ = [
    "BASE_RECIPE", "BaseRecipe", "ImageBuildError", "Progress", "PROJECT_ROOT", "base_tag", "build_base",
    "context_files", "ensure_base_image", "ensure_target_image", "find_apt_mirror",
    "target_tag",
]

Progress = Callable[[str], None]
"""Receives one line of human-readable progress at a time: milestones
("building splitbrain/x:..."), and build output indented by two spaces, which a
caller may show in a status line or skip."""

PROJECT_ROOT = Path(__file__).resolve().parent.parent
"""The build context root: the folder holding ``harness/``, ``checkers/``, ``targets/``."""

BASE_REPO = "splitbrain/base"
IMAGE_LABEL = "splitbrain.image"
SKIP_NAMES = frozenset({"__pycache__", ".pytest_cache", ".mypy_cache", ".git"})
SKIP_SUFFIXES = (".pyc", ".pyo")


class ImageBuildError(EnvironmentError_):
    """An image could not be built; the message says why and what to do."""


def _quiet(_: str) -> None:
    pass


@dataclass(frozen=True, slots=True, kw_only=True)
class BaseRecipe:
    """What the base image is made of; its :meth:`digest` names the image."""

    suite: str
    packages: tuple[str, ...]
    script: Path
    python_packages: tuple[str, ...] = ()

    def digest(self) -> str:
        h = hashlib.sha256()
        h.update(json.dumps({"suite": self.suite, "packages": sorted(self.packages),
                             "python": sorted(_dist_versions(self.python_packages))}).encode())
        h.update(self.script.read_bytes())
        return h.hexdigest()[:12]


def _dist_versions(names: tuple[str, ...]) -> list[str]:
    return [f"{n}=={importlib.metadata.version(n)}" for n in names]


def _vendor_python_packages(names: tuple[str, ...], root: Path) -> None:
    """Copy the host's installed ``names`` into ROOT's ``dist-packages``, file by file.

    Node processes import the harness's protocol modules, which need a few
    third-party packages (``msgspec``) that Debian 12 does not package. No
    registry is reachable from an image build, so the exact distributions the
    harness runs with here are copied in from this interpreter's site-packages
    (their RECORD lists every file): offline, and the same version on both sides.
    """
    dest = root / "usr" / "local" / "lib" / "python3.11" / "dist-packages"
    for name in names:
        dist = importlib.metadata.distribution(name)
        for f in dist.files or ():
            src = Path(dist.locate_file(f))
            if not src.is_file() or ".." in f.parts:
                continue
            target = dest / f
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, target)


BASE_RECIPE = BaseRecipe(
    suite="bookworm",
    packages=("python3", "iptables", "iproute2", "procps", "faketime", "libfaketime"),
    script=PROJECT_ROOT / "docker" / "debootstrap.sh",
    python_packages=("msgspec",),
)


def base_tag(recipe: BaseRecipe = BASE_RECIPE) -> str:
    return f"{BASE_REPO}:{recipe.digest()}"


# --- the apt mirror ---------------------------------------------------------------

APT_SOURCES = (Path("/etc/apt/sources.list"), Path("/etc/apt/sources.list.d"))


def _apt_entries(paths: tuple[Path, ...]) -> Iterator[tuple[str, list[str], Path]]:
    """(uri, suites, file) for every ``deb`` entry in one-line and deb822 sources."""
    files: list[Path] = []
    for p in paths:
        if p.is_dir():
            files += sorted(q for q in p.iterdir() if q.suffix in (".list", ".sources"))
        elif p.is_file():
            files.append(p)
    for f in files:
        try:
            text = f.read_text()
        except OSError:
            continue
        if f.suffix == ".sources":
            for stanza in re.split(r"\n\s*\n", text):
                fields: dict[str, str] = {}
                for line in stanza.splitlines():
                    if line.startswith("#") or ":" not in line or line[:1].isspace():
                        continue
                    k, v = line.split(":", 1)
                    fields[k.strip().lower()] = v.strip()
                if "deb" not in fields.get("types", "").split():
                    continue
                if fields.get("enabled", "yes").lower() == "no":
                    continue
                for uri in fields.get("uris", "").split():
                    yield uri, fields.get("suites", "").split(), f
        else:
            for line in text.splitlines():
                words = re.sub(r"\[[^\]]*\]", "", line.split("#", 1)[0]).split()
                if len(words) >= 3 and words[0] == "deb":
                    yield words[1], [words[2]], f


def find_apt_mirror(suite: str = BASE_RECIPE.suite,
                    paths: tuple[Path, ...] = APT_SOURCES) -> str:
    """The mirror URL that apt on this machine uses for Debian ``suite``.

    ``$SPLITBRAIN_APT_MIRROR`` overrides it. Raises :class:`ImageBuildError`
    when no entry serves ``suite``.
    """
    if env := os.environ.get("SPLITBRAIN_APT_MIRROR"):
        return env
    for uri, suites, _ in _apt_entries(paths):
        if suite in suites and uri.startswith(("http://", "https://", "file:/")):
            return uri
    where = ", ".join(str(p) for p in paths)
    raise ImageBuildError(
        f"no apt source for Debian {suite!r} found in {where}: add one, or set "
        f"SPLITBRAIN_APT_MIRROR to a Debian mirror URL.")


# --- locking and small engine helpers ----------------------------------------------

def _lock_path() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "splitbrain" / "images.lock"


@contextmanager
def _build_lock() -> Iterator[None]:
    path = _lock_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def _has_image(client: "docker.DockerClient", tag: str) -> bool:
    import docker.errors

    try:
        client.images.get(tag)
        return True
    except docker.errors.ImageNotFound:
        return False


# --- the base image -----------------------------------------------------------------

def ensure_base_image(client: "docker.DockerClient", *, force: bool = False,
                      recipe: BaseRecipe = BASE_RECIPE,
                      progress: Progress = _quiet) -> str:
    """Return the base image's tag, building it first unless it exists (or ``force``)."""
    tag = base_tag(recipe)
    if not force and _has_image(client, tag):
        return tag
    with _build_lock():
        if not force and _has_image(client, tag):
            return tag  # another process built it while we waited
        build_base(client, recipe, tag, progress)
        client.images.get(tag).tag(BASE_REPO, "latest")
        progress(f"built {tag}")
    return tag


def build_base(client: "docker.DockerClient", recipe: BaseRecipe, tag: str,
               progress: Progress = _quiet) -> None:
    """debootstrap ``recipe`` and import it as ``tag``, unconditionally (no cache, no lock)."""
    if os.geteuid() != 0:
        raise ImageBuildError(
            "building the base image needs root (debootstrap creates device nodes and "
            "chroots): run `sudo splitbrain images build` once.")
    debootstrap = shutil.which("debootstrap") or shutil.which("debootstrap", path="/usr/sbin:/sbin")
    if debootstrap is None:
        raise ImageBuildError(
            "debootstrap is not installed: run `apt-get install -y debootstrap`, then "
            "`splitbrain images build`.")
    mirror = find_apt_mirror(recipe.suite)
    env = dict(os.environ, PATH=os.environ.get("PATH", "") + ":/usr/sbin:/sbin")
    with tempfile.TemporaryDirectory(prefix="splitbrain-base-", dir="/var/tmp") as tmp:
        root = Path(tmp) / "root"
        root.mkdir()
        progress(f"debootstrap {recipe.suite} from {mirror} "
                 f"(+{','.join(recipe.packages)}), about a minute")
        tail: list[str] = []
        proc = subprocess.Popen(
            ["sh", str(recipe.script), str(root), recipe.suite, mirror, ",".join(recipe.packages)],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
        try:
            assert proc.stdout is not None
            for line in proc.stdout:
                line = line.rstrip()
                tail = (tail + [line])[-15:]
                if line:
                    progress("  " + line)  # detail: indented, a caller may skip it
            rc = proc.wait()
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            _unmount_under(root)  # an interrupted debootstrap leaves proc/sys mounted in ROOT
        if rc != 0:
            raise ImageBuildError(
                f"{recipe.script} failed (exit {rc}) building the base image from {mirror}; "
                f"its last lines:\n  " + "\n  ".join(tail) +
                "\nCheck that the mirror is reachable, or set SPLITBRAIN_APT_MIRROR.")
        _vendor_python_packages(recipe.python_packages, root)
        progress("packing the root filesystem")
        archive = Path(tmp) / "root.tar"
        subprocess.run(["tar", "--numeric-owner", "-C", str(root), "-cf", str(archive), "."],
                       check=True)
        progress(f"importing as {tag}")
        repo, _, version = tag.partition(":")
        client.api.import_image(
            src=str(archive), repository=repo, tag=version,
            changes=[
                'CMD ["sleep", "infinity"]',
                "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                "ENV LANG=C.UTF-8",
                f"LABEL {IMAGE_LABEL}=base",
            ])


def _unmount_under(root: Path) -> None:
    """Lazily unmount every mount point below ``root``, deepest first, before it is removed."""
    prefix = str(root.resolve()) + "/"
    try:
        mounts = [line.split()[1] for line in Path("/proc/mounts").read_text().splitlines()]
    except OSError:
        return
    points = [m.encode().decode("unicode_escape") for m in mounts]
    for m in sorted((m for m in points if m.startswith(prefix)), key=len, reverse=True):
        subprocess.run(["umount", "-l", m], check=False, capture_output=True)


# --- target images ----------------------------------------------------------------

_COPY = re.compile(r"^\s*(COPY|ADD)\s+(.*)$", re.IGNORECASE)


def _instructions(text: str) -> Iterator[str]:
    """Dockerfile instructions with line continuations joined and comments dropped."""
    buf = ""
    for line in text.splitlines():
        if not buf and line.lstrip().startswith("#"):
            continue
        if line.rstrip().endswith("\\"):
            buf += line.rstrip()[:-1] + " "
            continue
        yield buf + line
        buf = ""
    if buf:
        yield buf


def context_files(dockerfile: Path, root: Path = PROJECT_ROOT) -> list[Path]:
    """The files (relative to ``root``) a Dockerfile's ``COPY``/``ADD`` take from the context.

    Raises :class:`ImageBuildError` naming the Dockerfile line of a source that
    does not exist.
    """
    found: set[Path] = set()
    for instr in _instructions(dockerfile.read_text()):
        m = _COPY.match(instr)
        if not m:
            continue
        rest = m.group(2).strip()
        if rest.startswith("["):
            args = json.loads(rest)
        else:
            args = rest.split()
        args = [a for a in args if not a.startswith("--")] if not any(
            a.startswith("--from") for a in args) else []
        for src in args[:-1]:
            matches = sorted(glob.glob(src, root_dir=root)) if glob.has_magic(src) else [src]
            if not matches or not (root / matches[0]).exists():
                raise ImageBuildError(
                    f"{dockerfile}: `{instr.strip()}` copies {src!r}, which is not in the "
                    f"build context {root}; fix the path (it is relative to the project root).")
            for rel in matches:
                p = root / rel
                if p.is_dir():
                    for dirpath, dirnames, filenames in os.walk(p):
                        dirnames[:] = sorted(d for d in dirnames if d not in SKIP_NAMES)
                        for fn in filenames:
                            if not fn.endswith(SKIP_SUFFIXES):
                                found.add((Path(dirpath) / fn).relative_to(root))
                else:
                    found.add(Path(rel))
    return sorted(found)


def _dockerfile(target: "Target") -> Path:
    if target.source_dir is None or not (Path(target.source_dir) / "Dockerfile").is_file():
        raise ImageBuildError(
            f"target {target.name!r} has no Dockerfile (looked in {target.source_dir}): "
            f"write one like targets/quorum_store/Dockerfile, or use --backend local.")
    return Path(target.source_dir).resolve() / "Dockerfile"


def _context_root(target: "Target", dockerfile: Path) -> Path:
    """The build context: ``target.build_context`` if set, else the project root holding
    ``dockerfile`` (ours, or the nearest parent with a pyproject)."""
    if target.build_context is not None:
        root = Path(target.build_context).resolve()
        if not root.is_dir() or not dockerfile.is_relative_to(root):
            raise ImageBuildError(
                f"target {target.name!r}: build_context {root} must be a folder holding its "
                f"Dockerfile ({dockerfile}); set build_context to that folder or a parent of it.")
        return root
    if dockerfile.is_relative_to(PROJECT_ROOT):
        return PROJECT_ROOT
    for parent in dockerfile.parents:
        if (parent / "pyproject.toml").exists():
            return parent
    return dockerfile.parent


def target_tag(target: "Target", base: str) -> str:
    """``splitbrain/<target>:<hash of the Dockerfile, the copied files and the base>``.

    ``base`` identifies the base image (its id, as :func:`ensure_target_image` passes).
    """
    dockerfile = _dockerfile(target)
    root = _context_root(target, dockerfile)
    h = hashlib.sha256()
    h.update(base.encode() + b"\0")
    h.update(str(dockerfile.relative_to(root)).encode() + b"\0" + dockerfile.read_bytes())
    for rel in context_files(dockerfile, root):
        p = root / rel
        h.update(b"\0" + str(rel).encode() + b"\0" + str(os.access(p, os.X_OK)).encode())
        h.update(p.read_bytes())
    return f"splitbrain/{_repo_name(target.name)}:{h.hexdigest()[:12]}"


def _repo_name(name: str) -> str:
    return re.sub(r"[^a-z0-9._-]+", "-", name.lower()).strip("-._") or "target"


def _context_tar(dockerfile: Path, root: Path) -> io.BytesIO:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for rel in [dockerfile.relative_to(root), *context_files(dockerfile, root)]:
            info = tar.gettarinfo(str(root / rel), arcname=str(rel))
            info.mtime, info.uid, info.gid, info.uname, info.gname = 0, 0, 0, "", ""
            with open(root / rel, "rb") as f:
                tar.addfile(info, f)
    buf.seek(0)
    return buf


def ensure_target_image(client: "docker.DockerClient", target: "Target", *, base: str,
                        force: bool = False, progress: Progress = _quiet) -> str:
    """Return ``target``'s image tag, building it on ``base`` unless it exists (or ``force``)."""
    tag = target_tag(target, client.images.get(base).id)  # a rebuilt base -> a new tag
    if not force and _has_image(client, tag):
        return tag
    with _build_lock():
        if not force and _has_image(client, tag):
            return tag
        dockerfile = _dockerfile(target)
        root = _context_root(target, dockerfile)
        progress(f"building {tag} from {dockerfile.relative_to(root)}")
        tail: list[str] = []
        for chunk in client.api.build(
                fileobj=_context_tar(dockerfile, root), custom_context=True,
                dockerfile=str(dockerfile.relative_to(root)), tag=tag,
                buildargs={"BASE": base}, labels={IMAGE_LABEL: target.name},
                rm=True, forcerm=True, pull=False, decode=True):
            if "error" in chunk:
                raise ImageBuildError(
                    f"{dockerfile}: the build failed: {chunk['error'].strip()}\n  "
                    + "\n  ".join(tail) + "\nFix the Dockerfile and run `splitbrain images build`.")
            for line in str(chunk.get("stream", "")).splitlines():
                if line.strip():
                    tail = (tail + [line])[-10:]
                    progress("  " + line.strip())
        repo = tag.partition(":")[0]
        client.images.get(tag).tag(repo, "latest")
        _prune_old(client, repo, keep=KEEP_TARGET_IMAGES)
    progress(f"built {tag}")
    return tag


KEEP_TARGET_IMAGES = 3
"""Per target, how many of the newest content-tagged images to keep (older ones are
removed after a build, unless a container still uses them)."""


def _prune_old(client: "docker.DockerClient", repo: str, *, keep: int) -> None:
    import docker.errors

    images = [i for i in client.images.list(name=repo, filters={"label": IMAGE_LABEL})]
    images.sort(key=lambda i: i.attrs.get("Created", ""), reverse=True)
    for img in images[keep:]:
        for t in img.tags:
            if t.startswith(repo + ":") and not t.endswith(":latest"):
                try:
                    client.images.remove(t, noprune=False)
                except docker.errors.APIError:
                    pass  # in use by a container (a run going on), or already gone
