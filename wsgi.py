"""WSGI entry point: `flask --app wsgi …`, `gunicorn wsgi:app`."""

import sys

from supportdesk import create_app
from supportdesk.cli import install_excepthook
from supportdesk.config import ConfigError

install_excepthook()

try:
    app = create_app()
except ConfigError as error:  # a clear line, not a traceback
    sys.stderr.write(f"supportdesk: configuration error: {error}\n")
    raise SystemExit(2) from None
