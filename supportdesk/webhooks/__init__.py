"""Signed outgoing webhooks: vendors' ITSM tools and municipalities' own tools follow cases."""
