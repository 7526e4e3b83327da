"""The Gradio web app. The only part of ``spectool_app`` that imports gradio."""
