//! WebSocket connections: ordinary requests plus `eth_subscribe` (`newHeads`, `logs`) and
//! `eth_unsubscribe`.

use std::{collections::HashMap, sync::Arc};

use alloy_rpc_types_eth::Filter;
use axum::extract::ws::{Message, WebSocket};
use serde_json::{Value, json};
use tokio::sync::broadcast::error::RecvError;

use super::{convert, jsonrpc};
use crate::{chain::Block, error::Error, node::Node};

/// What a subscription wants.
enum Kind {
    NewHeads,
    Logs(Box<Filter>),
}

/// Serves one WebSocket until the client goes away.
pub(super) async fn serve(node: Node, mut socket: WebSocket) {
    let mut blocks = node.subscribe_blocks();
    let mut subscriptions: HashMap<String, Kind> = HashMap::new();
    let mut next_id: u64 = 1;
    loop {
        tokio::select! {
            message = socket.recv() => {
                let Some(Ok(message)) = message else { return };
                let text = match message {
                    Message::Text(text) => text.to_string(),
                    Message::Binary(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
                    Message::Close(_) => return,
                    Message::Ping(_) | Message::Pong(_) => continue,
                };
                let reply = handle_text(&node, &text, &mut subscriptions, &mut next_id).await;
                if socket.send(Message::Text(reply.to_string().into())).await.is_err() {
                    return;
                }
            }
            block = blocks.recv() => {
                let block = match block {
                    Ok(block) => block,
                    Err(RecvError::Lagged(_)) => continue,
                    Err(RecvError::Closed) => return,
                };
                for notification in notifications(&block, &subscriptions) {
                    if socket.send(Message::Text(notification.to_string().into())).await.is_err() {
                        return;
                    }
                }
            }
        }
    }
}

async fn handle_text(
    node: &Node,
    text: &str,
    subscriptions: &mut HashMap<String, Kind>,
    next_id: &mut u64,
) -> Value {
    let parsed: Value = match serde_json::from_str(text) {
        Ok(value) => value,
        Err(err) => return jsonrpc::error_response(Value::Null, &Error::Parse(err.to_string())),
    };
    let method = parsed.get("method").and_then(Value::as_str).unwrap_or_default();
    let id = parsed.get("id").cloned().unwrap_or(Value::Null);
    let params = parsed.get("params").and_then(Value::as_array).cloned().unwrap_or_default();
    match method {
        "eth_subscribe" => match subscribe(&params) {
            Ok(kind) => {
                let sub_id = format!("{:#x}", *next_id);
                *next_id += 1;
                subscriptions.insert(sub_id.clone(), kind);
                json!({"jsonrpc": "2.0", "id": id, "result": sub_id})
            }
            Err(err) => jsonrpc::error_response(id, &err),
        },
        "eth_unsubscribe" => {
            let removed = params
                .first()
                .and_then(Value::as_str)
                .is_some_and(|sub| subscriptions.remove(sub).is_some());
            json!({"jsonrpc": "2.0", "id": id, "result": removed})
        }
        _ => {
            let node = node.clone();
            tokio::task::spawn_blocking(move || jsonrpc::handle_value(&node, parsed))
                .await
                .unwrap_or_else(|err| {
                    jsonrpc::error_response(id, &Error::Internal(err.to_string()))
                })
        }
    }
}

fn subscribe(params: &[Value]) -> Result<Kind, Error> {
    match params.first().and_then(Value::as_str) {
        Some("newHeads") => Ok(Kind::NewHeads),
        Some("logs") => {
            let filter = match params.get(1) {
                Some(value) => serde_json::from_value(value.clone())
                    .map_err(|err| Error::InvalidParams(err.to_string()))?,
                None => Filter::default(),
            };
            Ok(Kind::Logs(Box::new(filter)))
        }
        other => Err(Error::InvalidParams(format!("unsupported subscription {other:?}"))),
    }
}

fn notifications<'a>(
    block: &'a Arc<Block>,
    subscriptions: &'a HashMap<String, Kind>,
) -> impl Iterator<Item = Value> + 'a {
    subscriptions.iter().flat_map(move |(id, kind)| {
        let results: Vec<Value> = match kind {
            Kind::NewHeads => vec![json!(convert::header(block))],
            Kind::Logs(filter) => block
                .txs
                .iter()
                .enumerate()
                .flat_map(|(i, tx)| convert::logs(block, i, tx))
                .filter(|log| filter.rpc_matches(log))
                .map(|log| json!(log))
                .collect(),
        };
        results.into_iter().map(move |result| {
            json!({
                "jsonrpc": "2.0",
                "method": "eth_subscription",
                "params": {"subscription": id, "result": result},
            })
        })
    })
}
