"""The ceiling for `make bench`: what bare Flask + Jinja + one query does on this machine."""
