"""Canned replies (svarskabeloner): a municipality's or a vendor's reusable answers with
placeholders, inserted into a reply box."""
