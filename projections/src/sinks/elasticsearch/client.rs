//! The HTTP calls, and which failures are worth a retry.

use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::{Error, Result};

/// A thin JSON-over-HTTP client for one node.
#[derive(Debug, Clone)]
pub(crate) struct Client {
    http: reqwest::Client,
    base: String,
}

/// A reply: its status and its body as JSON (`Null` when empty or not JSON).
pub(crate) struct Reply {
    pub(crate) status: StatusCode,
    pub(crate) body: Value,
}

impl Client {
    /// A client for `base` (the node URL) with a per-call timeout.
    pub(crate) fn new(base: &str, timeout: std::time::Duration) -> Result<Self> {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .build()
            .map_err(|e| Error::Config {
                key: "url",
                reason: e.to_string(),
            })?;
        Ok(Self {
            http,
            base: base.trim_end_matches('/').to_owned(),
        })
    }

    /// Sends a request; connection failures, timeouts, 429 and 5xx are [`Error::Unavailable`],
    /// other statuses are returned for the caller to judge.
    pub(crate) async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<Body>,
    ) -> Result<Reply> {
        let mut request = self.http.request(method, format!("{}/{path}", self.base));
        match body {
            Some(Body::Json(json)) => request = request.json(&json),
            Some(Body::NdJson(text)) => {
                request = request
                    .header(reqwest::header::CONTENT_TYPE, "application/x-ndjson")
                    .body(text);
            }
            None => {}
        }
        let response = request.send().await.map_err(unavailable)?;
        let status = response.status();
        let bytes = response.bytes().await.map_err(unavailable)?;
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        if status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error() {
            return Err(Error::Unavailable {
                sink: "elasticsearch",
                reason: format!("{status}: {}", reason(&body)),
            });
        }
        Ok(Reply { status, body })
    }
}

/// A request body.
pub(crate) enum Body {
    /// A JSON document.
    Json(Value),
    /// Newline-delimited JSON (`_bulk`).
    NdJson(String),
}

/// The `error.reason` (or `error.type`) of an error reply, else the whole body.
pub(crate) fn reason(body: &Value) -> String {
    let error = &body["error"];
    match (error["type"].as_str(), error["reason"].as_str()) {
        (Some(kind), Some(reason)) => format!("{kind}: {reason}"),
        (None, Some(reason)) => reason.to_owned(),
        _ => body.to_string(),
    }
}

/// A refusal that retrying will not fix.
pub(crate) fn refused(what: &str, reply: &Reply) -> Error {
    Error::Refused {
        sink: "elasticsearch",
        reason: format!("{what}: {} {}", reply.status, reason(&reply.body)),
    }
}

fn unavailable(error: reqwest::Error) -> Error {
    Error::Unavailable {
        sink: "elasticsearch",
        reason: error.to_string(),
    }
}
