//! JSON-RPC 2.0 messages, whatever carries them: a body of one request or a batch, a request
//! object parsed and dispatched, the result or error envelope. The HTTP server and the WebSocket
//! sessions both hand their messages here.

use axum::body::Bytes;
use serde_json::{Value, json};
use tracing::debug;

use super::{Request, dispatch};
use crate::{error::Error, node::Node};

/// Handles a raw body: one request or a batch.
pub(super) fn handle_body(node: &Node, body: &Bytes) -> Value {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Array(batch)) if batch.is_empty() => {
            error_response(Value::Null, &Error::InvalidRequest("empty batch".into()))
        }
        Ok(Value::Array(batch)) => {
            Value::Array(batch.into_iter().map(|item| handle_value(node, item)).collect())
        }
        Ok(single) => handle_value(node, single),
        Err(err) => error_response(Value::Null, &Error::Parse(err.to_string())),
    }
}

/// Handles one request object.
pub(super) fn handle_value(node: &Node, value: Value) -> Value {
    let Value::Object(mut object) = value else {
        return error_response(Value::Null, &Error::InvalidRequest("not an object".into()));
    };
    let id = object.remove("id").unwrap_or(Value::Null);
    let Some(Value::String(method)) = object.remove("method") else {
        return error_response(id, &Error::InvalidRequest("missing method".into()));
    };
    let _span = tracing::debug_span!("rpc", %method).entered();
    debug!("request");
    match Request::parse(&method, object.remove("params"))
        .and_then(|request| dispatch::execute(node, request))
    {
        Ok(result) => json!({"jsonrpc": "2.0", "id": id, "result": result}),
        Err(err) => {
            debug!(%method, %err, "request failed");
            error_response(id, &err)
        }
    }
}

/// A JSON-RPC error response.
pub(super) fn error_response(id: Value, err: &Error) -> Value {
    let mut error = json!({"code": err.code(), "message": err.to_string()});
    if let Some(data) = err.data() {
        error["data"] = json!(data);
    }
    json!({"jsonrpc": "2.0", "id": id, "error": error})
}
