"""Entry point of the SpecTool web app (also the Hugging Face Space's app_file).

Serves on SPECTOOL_HOST:SPECTOOL_PORT (default 127.0.0.1:7860). Wiring only: the app is built
by ``spectool_app.ui.app``; models load on the first run, never here.
"""

from spectool_app.ui.app import build_app, launch_kwargs

if __name__ == "__main__":
    build_app().launch(**launch_kwargs())
