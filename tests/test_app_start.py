"""`python app.py` starts and serves a page on localhost."""

from __future__ import annotations

import os
import subprocess
import sys
import urllib.request

from tests.helpers import ROOT, free_port, wait_for_http


def test_app_serves_a_page_on_localhost(tmp_path):
    port = free_port()
    env = {**os.environ, "SPECTOOL_PORT": str(port), "SPECTOOL_DATA_DIR": str(tmp_path)}
    process = subprocess.Popen([sys.executable, "app.py"], cwd=ROOT, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        status = wait_for_http(f"http://127.0.0.1:{port}/", timeout=120)
        assert status == 200
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/") as page:
            assert "SpecTool" in page.read().decode()
    finally:
        process.terminate()
        process.wait(timeout=30)
