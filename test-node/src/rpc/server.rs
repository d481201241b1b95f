//! HTTP and WebSocket transport on one port: POST bodies are single or batch JSON-RPC requests;
//! a WebSocket upgrade on `/` serves the same methods plus `eth_subscribe`; `GET /health`
//! answers `ok`.

use axum::{
    Router,
    extract::{FromRequestParts, State, WebSocketUpgrade},
    http::{Request as HttpRequest, header},
    response::{IntoResponse, Response},
    routing::{any, get},
};
use serde_json::Value;

use super::{
    jsonrpc::{error_response, handle_body},
    pubsub,
};
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
