"""WSGI entry point: `flask --app wsgi …`, `gunicorn wsgi:app`."""

import sys

from supportdesk import create_app
from supportdesk.config import ConfigError

try:
    app = create_app()
except ConfigError as error:  # a clear line, not a traceback
    sys.stderr.write(f"supportdesk: configuration error: {error}\n")
    raise SystemExit(2) from None
