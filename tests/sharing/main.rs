//! Authorization by relation: the notes service's sharing contract over loopback HTTP, and the SQL
//! relations store in SQLite and PostgreSQL. Its own test binary: its many SQL queries and audit
//! events run on other threads than the `http` binary's tests that capture audit lines on theirs.
#![allow(clippy::unwrap_used, reason = "test code: a panic is a failed test")]

mod contract;
mod store;
