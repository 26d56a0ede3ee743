//! Push: one Durable Object per device holds the WebSocket a device keeps open at
//! `/ota/device/channel/{productKey}/{deviceName}`. An operator's check-now reaches it through
//! `POST /push`, which sends the command to every socket the device holds and says how many
//! were reached. Sockets use the hibernation API, so an idle device costs nothing.

use worker::{
    durable_object, DurableObject, Env, Method, Request, Response, Result, State, WebSocket,
    WebSocketIncomingMessage, WebSocketPair,
};

#[durable_object]
pub struct DeviceChannel {
    state: State,
}

impl DurableObject for DeviceChannel {
    fn new(state: State, _env: Env) -> Self {
        Self { state }
    }

    async fn fetch(&self, mut req: Request) -> Result<Response> {
        let path = req.path();
        match (req.method(), path.as_str()) {
            (Method::Get, "/connect") => {
                let pair = WebSocketPair::new()?;
                self.state.accept_web_socket(&pair.server);
                Response::from_websocket(pair.client)
            }
            (Method::Post, "/push") => {
                let command = req.text().await?;
                let reached = self
                    .state
                    .get_websockets()
                    .iter()
                    .filter(|ws| ws.send_with_str(&command).is_ok())
                    .count();
                Response::from_json(&serde_json::json!({ "reached": reached }))
            }
            _ => Response::error("not found", 404),
        }
    }

    async fn websocket_message(
        &self,
        ws: WebSocket,
        message: WebSocketIncomingMessage,
    ) -> Result<()> {
        // Devices may ping to keep NAT mappings open; anything else is ignored.
        if let WebSocketIncomingMessage::String(text) = message {
            if text.trim() == "ping" {
                ws.send_with_str("pong")?;
            }
        }
        Ok(())
    }

    async fn websocket_close(
        &self,
        ws: WebSocket,
        code: usize,
        reason: String,
        _was_clean: bool,
    ) -> Result<()> {
        let code = if (1000..5000).contains(&code) && code != 1005 && code != 1006 {
            code as u16
        } else {
            1000
        };
        let _ = ws.close(Some(code), Some(reason));
        Ok(())
    }

    async fn websocket_error(&self, _ws: WebSocket, _error: worker::Error) -> Result<()> {
        Ok(())
    }
}
