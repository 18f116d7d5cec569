"""The vendor-maintained FAQ: articles, versions, files, feedback and deflection."""
