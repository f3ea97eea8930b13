//! Shared fixtures of the end-to-end suite.
