//! Zones compiled for lookup.
