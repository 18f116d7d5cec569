"""The shipped gunicorn.conf.py: what each worker does once the app is loaded."""

from __future__ import annotations

import gc
import runpy
from pathlib import Path

CONFIG = Path(__file__).resolve().parent.parent / "gunicorn.conf.py"


def test_a_worker_freezes_what_loading_the_app_created():
    """The app's long-lived objects leave the garbage collector's generations, so a
    request's collections no longer walk them."""
    settings = runpy.run_path(str(CONFIG))
    gc.unfreeze()
    try:
        assert gc.get_freeze_count() == 0
        settings["post_worker_init"](None)
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
