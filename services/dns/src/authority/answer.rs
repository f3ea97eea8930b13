//! Answers to one query from the snapshot.
