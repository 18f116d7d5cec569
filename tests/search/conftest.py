"""Search tests use the FAQ fixtures (demo systems, municipalities, a clean index)."""

from tests.faq.conftest import CONTENT, faq_world, write_article  # noqa: F401
