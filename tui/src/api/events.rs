//! The admin API's events, webhooks and per-device cancel, every path from shared's route table.

use super::{check, decode, ApiClient, ApiError};
use fota_shared::api::events::{
    DeliveryList, EventPage, Redelivery, WebhookList, WebhookSaved, WebhookSpec, MAX_WAIT_S,
};
use fota_shared::api::ota::{CancelResult, CancelSpec};
use fota_shared::api::query::EventQuery;
use fota_shared::api::routes::{path, RouteId};
use reqwest::Method;
use std::time::Duration;

impl ApiClient {
    /// The project's events after `after`; with `wait` the server holds the answer up to that
    /// many seconds (at most 30) until one arrives.
    pub async fn events(
        &self,
        project: &str,
        after: Option<u64>,
        wait: u32,
    ) -> Result<EventPage, ApiError> {
        let url = self.url(&path(RouteId::Events, &[project]));
        let query = EventQuery {
            after,
            wait: (wait > 0).then_some(wait.min(MAX_WAIT_S)),
            limit: None,
        };
        // A long poll may take its whole wait: the client's own timeout is longer.
        let request = self
            .authorized(self.http.get(&url))
            .query(&query)
            .timeout(Duration::from_secs(u64::from(wait) + 15));
        let response = self.send(request).await?;
        decode(check(response, &url).await?, &url).await
    }

    pub async fn webhooks(&self, project: &str) -> Result<WebhookList, ApiError> {
        self.json(Method::GET, path(RouteId::ListWebhooks, &[project]))
            .await
    }

    pub async fn put_webhook(
        &self,
        project: &str,
        name: &str,
        spec: &WebhookSpec,
    ) -> Result<WebhookSaved, ApiError> {
        let route = path(RouteId::PutWebhook, &[project, name]);
        self.json_with_body(Method::PUT, route, spec).await
    }

    pub async fn delete_webhook(&self, project: &str, name: &str) -> Result<(), ApiError> {
        self.empty(
            Method::DELETE,
            path(RouteId::DeleteWebhook, &[project, name]),
        )
        .await
    }

    pub async fn rotate_webhook(
        &self,
        project: &str,
        name: &str,
    ) -> Result<WebhookSaved, ApiError> {
        self.json(Method::POST, path(RouteId::RotateWebhook, &[project, name]))
            .await
    }

    pub async fn webhook_deliveries(
        &self,
        project: &str,
        name: &str,
    ) -> Result<DeliveryList, ApiError> {
        let route = path(RouteId::WebhookDeliveries, &[project, name]);
        self.json(Method::GET, route).await
    }

    pub async fn redeliver(
        &self,
        project: &str,
        name: &str,
        delivery: u64,
    ) -> Result<Redelivery, ApiError> {
        let id = delivery.to_string();
        let route = path(RouteId::Redeliver, &[project, name, &id]);
        self.json(Method::POST, route).await
    }

    /// Cancels (or, with `cancel` false, uncancels) a device's upgrade: in one plan, or in
    /// every plan that reaches it.
    pub async fn cancel_device(
        &self,
        project: &str,
        id: &str,
        firmware_name: Option<&str>,
        cancel: bool,
    ) -> Result<CancelResult, ApiError> {
        let route = if cancel {
            RouteId::CancelDevice
        } else {
            RouteId::UncancelDevice
        };
        let spec = CancelSpec {
            firmware_name: firmware_name.map(str::to_string),
        };
        self.json_with_body(Method::POST, path(route, &[project, id]), &spec)
            .await
    }
}
