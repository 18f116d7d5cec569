"""Rendered fragments cached per worker, keyed by data generations.

Two parts, so the data side never imports the request side:

- `generations` (session side): a *generation* is a named counter in the database
  ("tickets:m12" for the tickets of municipality 12, "cases:v3" for vendor 3's cases,
  "reference:m12" for municipality 12's institutions, people and queues, …). Models
  register which generations a change touches (`track`); the session collects them at
  every flush and bumps them once, just before commit, in the same transaction as the
  change. Models import only this module.
- `fragments` (request side): the per-worker LRU store of rendered fragments, page keys
  (viewer, locale, query string, generations) and the CSRF hole in cached HTML. A page
  reads the generations it depends on and puts their values in its key, so a fragment
  rendered from old data is never served once a change is committed.

This package module imports neither, so importing `supportdesk.cache.generations`
loads no request-side code.
"""
