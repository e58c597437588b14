//! Procedural macros of Rampart. Use them through the `rampart` crate, which documents them.
