//! Plugin registry.
