"""scripts/run-embedded: the address it tells the portal to put in e-mailed links."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "run-embedded"

# Stand-ins for the virtualenv's programs: the web server writes down the SITE_URL it was given.
FAKE_PYTHON = """#!/usr/bin/env bash
here="$(dirname "$0")"
case "$*" in *runserver*) printf '%s' "${SITE_URL:-unset}" > "$here/../../site_url" ;; esac
exit 0
"""
FAKE_CELERY = "#!/usr/bin/env bash\nexit 0\n"


def site_url_given(tmp_path: Path, **env: str) -> str:
    """Run a copy of the script with fake programs, and return the SITE_URL the server saw."""
    (tmp_path / "scripts").mkdir()
    shutil.copy(SCRIPT, tmp_path / "scripts" / "run-embedded")
    bin_dir = tmp_path / ".venv" / "bin"
    bin_dir.mkdir(parents=True)
    for name, text in (("python", FAKE_PYTHON), ("celery", FAKE_CELERY)):
        (bin_dir / name).write_text(text)
        (bin_dir / name).chmod(0o755)
    (tmp_path / "var").mkdir()
    clean = {k: v for k, v in os.environ.items() if k not in ("HOST", "PORT", "SITE_URL")}
    subprocess.run(
        [str(tmp_path / "scripts" / "run-embedded")],
        env={**clean, **env},
        capture_output=True,
        timeout=30,
        check=False,
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
