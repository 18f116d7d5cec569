"""Administration screens: municipal (users, institutions, entitlements) and system."""
