"""The sample shop: a web app that takes orders and emits events, and its workers."""
