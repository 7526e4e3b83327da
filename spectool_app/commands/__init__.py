"""One module per command group; each exposes ``add_parser(commands)`` (found automatically)."""
