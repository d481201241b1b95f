//! JSON-RPC: the request enum, its dispatch, conversions to RPC shapes, and the HTTP/WebSocket
//! server.

mod anvil;
mod convert;
mod dispatch;
mod eth;
mod filter_store;
mod filters;
mod jsonrpc;
mod pubsub;
mod request;
mod server;

pub(crate) use filter_store::Filters;
pub(crate) use request::Request;
pub(crate) use server::router;
