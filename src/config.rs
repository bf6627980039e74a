//! See the crate-level Layout.
