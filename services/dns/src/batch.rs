//! A change batch checked and applied to a zone all or nothing.
