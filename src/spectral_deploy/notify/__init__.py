"""Communications of a rollback: the ops chat, the release page, the incident log."""
