//! Integration tests: the coordinator in-process (and as a binary for the SIGKILL test) on a real
//! SQLite file, real HTTP through reqwest, fake workers speaking the wire protocol over a real
//! WebSocket and signing with real keys.

mod api;
mod common;
mod restart;
mod sampling;
mod streaming;
mod workers;
