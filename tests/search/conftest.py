"""Search tests use the FAQ fixtures (demo systems, municipalities, a clean index)."""

from tests.faq.conftest import (  # noqa: F401
    CONTENT,
    faq_world,
    postgres_backend,
    search_backend,
    write_article,
)
