"""Entry point of the SpecTool web app (also the Hugging Face Space's app_file).

Serves on SPECTOOL_HOST:SPECTOOL_PORT (default 127.0.0.1:7860) with the embedded models.
"""

from spectool_app.config import load_config
from spectool_app.ui.app import build_app

if __name__ == "__main__":
    config = load_config()
    build_app().queue(default_concurrency_limit=1).launch(
        server_name=config.host, server_port=config.port, show_error=True
    )
