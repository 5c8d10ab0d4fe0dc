"""scripts/run-embedded: the address it tells the portal to put in e-mailed links, and how it
stops."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
from pathlib import Path

import pytest

from complaints.letters import process_exists
from tests.conftest import wait_for

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "run-embedded"

# Stand-ins for the virtualenv's programs: the web server writes down the SITE_URL it was given.
FAKE_PYTHON = """#!/usr/bin/env bash
here="$(dirname "$0")"
case "$*" in *runserver*) printf '%s' "${SITE_URL:-unset}" > "$here/../../site_url" ;; esac
exit 0
"""
FAKE_CELERY = "#!/usr/bin/env bash\nexit 0\n"


def copy_with_fakes(tmp_path: Path, python: str = FAKE_PYTHON, celery: str = FAKE_CELERY) -> Path:
    """A copy of the script whose virtualenv holds the given stand-ins; returns the copy."""
    (tmp_path / "scripts").mkdir()
    shutil.copy(SCRIPT, tmp_path / "scripts" / "run-embedded")
    bin_dir = tmp_path / ".venv" / "bin"
    bin_dir.mkdir(parents=True)
    for name, text in (("python", python), ("celery", celery)):
        (bin_dir / name).write_text(text)
        (bin_dir / name).chmod(0o755)
    (tmp_path / "var").mkdir()
    return tmp_path / "scripts" / "run-embedded"


def site_url_given(tmp_path: Path, **env: str) -> str:
    """Run a copy of the script with fake programs, and return the SITE_URL the server saw."""
    script = copy_with_fakes(tmp_path)
    clean = {k: v for k, v in os.environ.items() if k not in ("HOST", "PORT", "SITE_URL")}
    subprocess.run(
        [str(script)], env={**clean, **env}, capture_output=True, timeout=30, check=False
    )
    return (tmp_path / "site_url").read_text()


@pytest.mark.parametrize(
    "env, expected",
    [
        ({}, "http://127.0.0.1:8000"),
        ({"PORT": "8101"}, "http://127.0.0.1:8101"),
        ({"HOST": "localhost", "PORT": "8102"}, "http://localhost:8102"),
        (
            {"PORT": "8101", "SITE_URL": "https://complaints.example.com"},
            "https://complaints.example.com",
        ),
    ],
)
def test_e_mailed_links_point_at_the_port_the_demo_serves(tmp_path, env, expected):
    assert site_url_given(tmp_path, **env) == expected


# A web server and a worker that write down their process ids and run until they are stopped.
SERVING = (
    "#!/usr/bin/env bash\n"
    'case "$*" in *runserver*) echo $$ > "$(dirname "$0")/../../web.pid"; exec sleep 300 ;; esac\n'
    "exit 0\n"
)
WORKING = '#!/usr/bin/env bash\necho $$ > "$(dirname "$0")/../../worker.pid"\nexec sleep 300\n'


def test_stopped_with_sigterm_it_stops_the_server_and_worker_and_ends_cleanly(tmp_path):
    script = copy_with_fakes(tmp_path, python=SERVING, celery=WORKING)
    demo = subprocess.Popen(
        [str(script)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        for line in demo.stdout:
            if "Press Ctrl-C to stop." in line:
                break
        demo.send_signal(signal.SIGTERM)
        rest, _ = demo.communicate(timeout=30)  # until the stand-ins, too, let go of its output
        assert demo.returncode == 0
    finally:
        demo.kill()
        demo.wait()
    assert "Stopped." in rest
    stand_ins = [int((tmp_path / name).read_text()) for name in ("web.pid", "worker.pid")]
    assert wait_for(lambda: not any(map(process_exists, stand_ins)), 5), "a stand-in left running"


def test_a_web_server_that_fails_ends_the_demo_with_an_error(tmp_path):
    failing = '#!/usr/bin/env bash\ncase "$*" in *runserver*) exit 3 ;; esac\nexit 0\n'
    script = copy_with_fakes(tmp_path, python=failing, celery=WORKING)
    result = subprocess.run([str(script)], capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert "Stopped." in result.stdout
