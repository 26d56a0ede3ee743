//! Tokens and the audit log. (Being written: see the access helper.)

use super::Call;
use crate::error::{AppError, AppResult};
use worker::Response;

pub async fn list_tokens(_call: &mut Call<'_>) -> AppResult<Response> {
    Err(AppError::NotFound("route".into()))
}

pub async fn create_token(_call: &mut Call<'_>) -> AppResult<Response> {
    Err(AppError::NotFound("route".into()))
}

pub async fn revoke_token(_call: &mut Call<'_>) -> AppResult<Response> {
    Err(AppError::NotFound("route".into()))
}

pub async fn audit(_call: &mut Call<'_>) -> AppResult<Response> {
    Err(AppError::NotFound("route".into()))
}

pub async fn openapi(_call: &mut Call<'_>) -> AppResult<Response> {
    Err(AppError::NotFound("route".into()))
}
