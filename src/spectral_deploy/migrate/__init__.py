"""The app's forward-only migrations."""
