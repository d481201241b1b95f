//! The worker channel: a WebSocket at `/v1/workers` speaking the frames of
//! [`assay_protocol::wire`]. The handshake proves the worker controls its staked address; then
//! frames are relayed between the socket and the scheduler.

use std::{sync::atomic::Ordering, time::Duration};

use alloy_primitives::{Address, B256};
use assay_protocol::wire::{
    CoordinatorMsg, PROTOCOL_VERSION, WorkerMsg, hello_digest, recovers_to,
};
use axum::{
    extract::{
        State, WebSocketUpgrade,
        ws::{Message, WebSocket},
    },
    response::Response,
};
use futures::{SinkExt, StreamExt};
use tokio::sync::mpsc;
use tracing::{info, warn};

use crate::{
    metrics::Metrics,
    scheduler::{Departure, Event, Joined},
    state::AppState,
};

/// How long a worker has to answer the challenge.
const HELLO_TIMEOUT: Duration = Duration::from_secs(10);

/// `GET /v1/workers`: upgrades to the worker channel.
pub(crate) async fn upgrade(State(state): State<AppState>, ws: WebSocketUpgrade) -> Response {
    ws.on_upgrade(move |socket| serve(socket, state))
}

fn text(msg: &CoordinatorMsg) -> Message {
    Message::Text(serde_json::to_string(msg).expect("frames serialise").into())
}

/// A handshake that was accepted.
struct Hello {
    worker: Address,
    /// The models its hello names.
    declared: Vec<B256>,
    /// Of those, the ones it serves in the registry.
    models: Vec<B256>,
    slots: u32,
}

async fn handshake(socket: &mut WebSocket, state: &AppState) -> Result<Hello, String> {
    let nonce = B256::random();
    let chain_id = state.chain.chain_id();
    let challenge = CoordinatorMsg::Challenge { nonce, chain_id, protocol: PROTOCOL_VERSION };
    socket.send(text(&challenge)).await.map_err(|e| format!("send: {e}"))?;
    let frame = tokio::time::timeout(HELLO_TIMEOUT, async {
        loop {
            match socket.recv().await {
                Some(Ok(Message::Text(t))) => return Ok(t),
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
                Some(Ok(_)) => return Err("expected a text hello frame".to_string()),
                Some(Err(e)) => return Err(format!("receive: {e}")),
                None => return Err("closed before hello".to_string()),
            }
        }
    })
    .await
    .map_err(|_| "no hello within 10 s".to_string())??;
    let Ok(WorkerMsg::Hello { worker, signature, protocol, models, slots, .. }) =
        serde_json::from_str::<WorkerMsg>(frame.as_str())
    else {
        return Err("the first frame must be a hello".into());
    };
    if protocol != PROTOCOL_VERSION {
        return Err(format!(
            "protocol {protocol} is not supported (this coordinator speaks {PROTOCOL_VERSION})"
        ));
    }
    if !recovers_to(&signature, hello_digest(chain_id, nonce, worker), worker) {
        return Err(format!("hello signature is not {worker}'s over this challenge"));
    }
    match state.chain.is_eligible(worker).await {
        Ok(true) => {}
        Ok(false) => return Err(format!("{worker} is not an eligible staked miner")),
        Err(e) => return Err(format!("cannot check {worker}'s stake: {e}")),
    }
    if models.is_empty() {
        return Err("a worker must serve at least one model".into());
    }
    // Only the models its registry slots cover: a miner displaced or evicted from a model's
    // servers (or that never took a slot) gets none of its jobs.
    let served = match state.chain.served(worker, models.clone()).await {
        Ok(served) => served,
        Err(e) => return Err(format!("cannot check the models {worker} serves: {e}")),
    };
    if served.is_empty() {
        return Err(format!(
            "{worker} serves none of its models on chain (ModelRegistry.serve): {models:?}"
        ));
    }
    if served.len() < models.len() {
        warn!(%worker, declared = models.len(), served = served.len(), "some declared models are not served on chain: left out");
    }
    Ok(Hello { worker, declared: models, models: served, slots })
}

async fn serve(mut socket: WebSocket, state: AppState) {
    let hello = match handshake(&mut socket, &state).await {
        Ok(h) => h,
        Err(reason) => {
            warn!(reason, "worker handshake rejected");
            Metrics::inc(&state.shared.metrics.handshakes_rejected);
            socket.send(text(&CoordinatorMsg::Rejected { reason })).await.ok();
            socket.send(Message::Close(None)).await.ok();
            return;
        }
    };
    let weight = match state.chain.weights(vec![hello.worker]).await {
        Ok(w) => w.first().copied().unwrap_or_default(),
        Err(e) => {
            warn!(worker = %hello.worker, error = %e, "cannot read weight: using 1");
            alloy_primitives::U256::from(1)
        }
    };
    let conn = state.next_conn.fetch_add(1, Ordering::Relaxed);
    let welcome = CoordinatorMsg::Welcome {
        worker: hello.worker,
        heartbeat_secs: state.config.heartbeat_secs,
    };
    if socket.send(text(&welcome)).await.is_err() {
        return;
    }
    info!(worker = %hello.worker, conn, "worker connected");
    let declared = hello.declared.clone();
    let (tx, mut rx) = mpsc::unbounded_channel::<CoordinatorMsg>();
    let joined = Joined {
        conn,
        address: hello.worker,
        models: hello.models,
        slots: hello.slots,
        weight,
        tx,
    };
    if state.events.send(Event::Joined(joined)).is_err() {
        return;
    }
    let (mut sink, mut stream) = socket.split();
    // Each side says how the connection ended: only a close frame from the worker is a graceful
    // end; anything else while it runs a job counts against that job (`Departure::Lost`).
    let writer = async {
        while let Some(msg) = rx.recv().await {
            if let Err(e) = sink.send(text(&msg)).await {
                return Departure::Lost(format!("sending to it failed: {e}"));
            }
        }
        // The scheduler dropped this worker (and has dealt with its jobs already).
        sink.send(Message::Close(None)).await.ok();
        Departure::Closed
    };
    let events = state.events.clone();
    let reader = async {
        loop {
            let t = match stream.next().await {
                Some(Ok(Message::Text(t))) => t,
                Some(Ok(Message::Close(_))) => return Departure::Closed,
                Some(Ok(_)) => continue,
                Some(Err(e)) => {
                    return Departure::Lost(format!("connection ended without a close frame: {e}"));
                }
                None => return Departure::Lost("connection ended without a close frame".into()),
            };
            match serde_json::from_str::<WorkerMsg>(t.as_str()) {
                Ok(msg) => {
                    if events.send(Event::Message { conn, msg: Box::new(msg) }).is_err() {
                        return Departure::Closed;
                    }
                }
                Err(e) => warn!(conn, error = %e, "unreadable worker frame ignored"),
            }
        }
    };
    // Stake, reputation and registry slots change on chain (rewards, slashes, freezes, a heavier
    // miner displacing this one): keep the weight and the models current.
    let refresher = async {
        let mut every = tokio::time::interval(state.config.weights_refresh());
        every.tick().await;
        loop {
            every.tick().await;
            let weight = state.chain.weights(vec![hello.worker]).await;
            let models = state.chain.served(hello.worker, declared.clone()).await;
            match (weight, models) {
                (Ok(w), Ok(models)) => {
                    let weight = w.first().copied().unwrap_or_default();
                    if events.send(Event::Weight { conn, weight, models }).is_err() {
                        return Departure::Closed;
                    }
                }
                (Err(e), _) | (_, Err(e)) => {
                    warn!(worker = %hello.worker, error = %e, "cannot re-read weight and models");
                }
            }
        }
    };
    let departure = tokio::select! {
        d = writer => d,
        d = reader => d,
        d = refresher => d,
    };
    state.events.send(Event::Left { conn, departure }).ok();
}
