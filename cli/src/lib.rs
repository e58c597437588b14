//! The library side of the `rampart` command: the audit, so that fuzz targets and other tools
//! run exactly the scanner the command runs, and the review of a change built on it. The command
//! itself is `src/main.rs`.

pub mod audit;
pub mod review;
