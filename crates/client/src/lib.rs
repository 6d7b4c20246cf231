//! The Ferry client engine (see ARCHITECTURE.md).
