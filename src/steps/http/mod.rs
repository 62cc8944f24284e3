//! `http`: a connector that sends a request per payload and emits the JSON response,
//! one payload per page, with bounded retries, timeouts and a response size limit.
//!
//! [`spec`] reads the options; [`request`] builds the URL, credentials and keys;
//! [`redirect`] follows redirects and keeps credentials to the step's origin; [`retry`]
//! repeats failed requests; [`attempt`] sends one and decodes its response.

mod attempt;
mod redirect;
mod request;
mod retry;
mod spec;

pub(crate) use retry::backoff;
pub(crate) use spec::{KIND, webhook};

use super::{Step, StepCx, StepError};
use crate::jq::Jq;
use crate::secrets::Secrets;
use request::{basic_auth, idempotency_key, next_url, with_query};
use serde_json::Value;
use spec::{BodyMode, HttpSpec};
use std::sync::Arc;
use url::Url;

/// An `http` step, its placeholders resolved.
pub(crate) struct Http {
    /// The options as written: those without placeholders are used as they are.
    o: HttpSpec,
    pub(crate) url: String,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) query: Vec<(String, String)>,
    pub(crate) next: Option<Arc<Jq>>,
    pub(crate) agent: ureq::Agent,
    pub(crate) notes: Vec<Value>,
    /// The run's secrets: masked out of error excerpts before they are cut.
    pub(crate) secrets: Arc<Secrets>,
}

/// An agent that leaves status handling to the step.
#[must_use]
pub(crate) fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        // Redirects are followed by the step, hop by hop, so that every hop is recorded
        // and credentials never follow a redirect to another origin.
        .max_redirects(0)
        .user_agent(concat!("flowrun/", env!("CARGO_PKG_VERSION")))
        .build()
        .new_agent()
}

/// One request as sent: where, how, and which of the step's headers go with it.
struct Hop {
    url: Url,
    method: String,
    body: Option<Vec<u8>>,
}

impl Step for Http {
    fn process(&mut self, input: Value, cx: &StepCx<'_>) -> Result<Vec<Value>, StepError> {
        let body = match self.o.body {
            BodyMode::Payload => {
                Some(serde_json::to_vec(&input).expect("a payload always serialises"))
            }
            BodyMode::None => None,
        };
        let key = self.o.idempotency_key.then(|| idempotency_key(cx));
        let first = with_query(&self.url, &self.query);
        let mut url = Url::parse(&first)
            .map_err(|e| StepError::new(format!("{} {first}: invalid URL: {e}", self.o.method)))?;
        let basic = basic_auth(&mut url);
        let home = url.origin();
        let mut pages = Vec::new();
        for page in 1..=self.o.max_pages {
            let key = key.as_ref().map(|k| {
                if page == 1 {
                    k.clone()
                } else {
                    format!("{k}-p{page}")
                }
            });
            let hop = Hop {
                url: url.clone(),
                method: self.o.method.clone(),
                body: body.clone(),
            };
            let (final_url, raw, content_type) =
                self.follow(hop, &home, basic.as_deref(), key.as_deref(), page, cx)?;
            let value = self.decode(final_url.as_str(), &raw, content_type.as_deref())?;
            let next = match &self.next {
                Some(jq) => next_url(jq, &value, &final_url, &self.secrets)?,
                None => None,
            };
            pages.push(value);
            match next {
                Some(n) => url = n,
                None => return Ok(pages),
            }
        }
        Err(StepError::new(format!(
            "pagination did not end after {} pages (max_pages); check the `next` filter",
            self.o.max_pages
        )))
    }

    fn take_notes(&mut self) -> Vec<Value> {
        std::mem::take(&mut self.notes)
    }
}
