//! HTTP and WebSocket transport on one port: POST bodies are single or batch JSON-RPC requests;
//! a WebSocket upgrade on `/` serves the same methods plus `eth_subscribe`; `GET /health`
//! answers `ok`.

use axum::{
    Router,
    body::Bytes,
    extract::{FromRequestParts, State, WebSocketUpgrade},
    http::{Request as HttpRequest, header},
    response::{IntoResponse, Response},
    routing::{any, get},
};
use serde_json::{Value, json};
use tracing::debug;

use super::{Request, dispatch, pubsub};
use crate::{error::Error, node::Node};

/// The router serving JSON-RPC on `/` and a liveness probe on `/health`.
pub(crate) fn router(node: Node) -> Router {
    Router::new().route("/", any(entry)).route("/health", get(|| async { "ok" })).with_state(node)
}

async fn entry(State(node): State<Node>, request: HttpRequest<axum::body::Body>) -> Response {
    let (mut parts, body) = request.into_parts();
    if parts.headers.contains_key(header::UPGRADE) {
        return match WebSocketUpgrade::from_request_parts(&mut parts, &node).await {
            Ok(upgrade) => {
                upgrade.on_upgrade(move |socket| pubsub::serve(node, socket)).into_response()
            }
            Err(rejection) => rejection.into_response(),
        };
    }
    let body = match axum::body::to_bytes(body, 64 * 1024 * 1024).await {
        Ok(body) => body,
        Err(err) => {
            return json_response(&error_response(
                Value::Null,
                &Error::InvalidRequest(err.to_string()),
            ));
        }
    };
    let node = node.clone();
    let response = tokio::task::spawn_blocking(move || handle_body(&node, &body))
        .await
        .unwrap_or_else(|err| error_response(Value::Null, &Error::Internal(err.to_string())));
    json_response(&response)
}

fn json_response(value: &Value) -> Response {
    ([(header::CONTENT_TYPE, "application/json")], value.to_string()).into_response()
}

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
