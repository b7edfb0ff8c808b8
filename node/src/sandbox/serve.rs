//! The `serve` call shape: an HTTP request routed to the sandbox's
//! `nexus_http` export, through the same lifecycle gate as every call.

use nexus_abi::{HttpRequest, HttpResponse};
use std::time::Instant;

use tracing::info;

use super::call::log_failure;
use super::SandboxManager;
use crate::metrics::outcome_of;
use nexus_engine::CallError;
use nexus_errors::{Coded, ErrorCode, UserError};

impl SandboxManager {
    /// Runs `request` through the entry module's HTTP handler (a fresh
    /// instance per request, within the profile's wall time) and returns
    /// its response. A suspended or frozen sandbox is resumed first.
    pub async fn serve(
        &self,
        tenant_id: &str,
        sandbox_id: &str,
        request: HttpRequest,
    ) -> Result<HttpResponse, UserError> {
        let started = Instant::now();
        let result = self.run_http(tenant_id, sandbox_id, request).await;
        let outcome = match &result {
            Ok(_) => "ok".to_owned(),
            Err(e) => outcome_of(e.code),
        };
        self.metrics.call("http", &outcome, started.elapsed());
        result
    }

    async fn run_http(
        &self,
        tenant_id: &str,
        sandbox_id: &str,
        request: HttpRequest,
    ) -> Result<HttpResponse, UserError> {
        let call = self.prepare(tenant_id, sandbox_id, None).await?;
        let wall = call.profile.wall_time;
        let run = async {
            let handler = self
                .engine
                .http_handler_with(&call.module, &call.profile, call.context.clone())
                .await?;
            handler.call(&request.encode()).await
        };
        let output = tokio::time::timeout(wall, run)
            .await
            .unwrap_or(Err(CallError::Timeout { limit: wall }))
            .map_err(|e| {
                info!(sandbox = sandbox_id, code = e.code().as_str(), error = %e, "http call failed");
                let error = e.to_user_error();
                log_failure(call.guard.activity().log(), &error);
                error
            });
        self.ship_after(&call.sandbox).await?;
        let output = output?;
        let response = HttpResponse::decode(&output).map_err(|e| {
            UserError::new(
                ErrorCode::CallBadResponse,
                format!("sandbox {sandbox_id} answered with a malformed HTTP response: {e}"),
            )
        })?;
        info!(
            sandbox = sandbox_id,
            method = %request.method,
            status = response.status,
            "http call finished"
        );
        Ok(response)
    }
}
