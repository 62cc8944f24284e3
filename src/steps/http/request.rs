//! What goes into a request besides the step's options: the query string, basic auth
//! from the URL, the idempotency key, and the next page's URL.

use crate::jq::Jq;
use crate::names::url_part;
use crate::secrets::Secrets;
use crate::steps::{StepCx, StepError};
use serde_json::Value;
use url::Url;

/// Takes `user:password@` out of `url`, returning the `Authorization` value it stands for.
pub(super) fn basic_auth(url: &mut Url) -> Option<String> {
    use base64::Engine as _;
    let (user, password) = crate::steps::userinfo(url)?;
    let pair = format!("{user}:{password}");
    let _ = url.set_password(None);
    let _ = url.set_username("");
    Some(format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(pair)
    ))
}

/// The key a payload carries in every run: same flow, step and payload → same key.
pub(super) fn idempotency_key(cx: &StepCx<'_>) -> String {
    let mut h = blake3::Hasher::new();
    for part in ["flowrun-idempotency", cx.flow, cx.step_id, cx.input_hash] {
        h.update(part.as_bytes());
        h.update(b"\0");
    }
    h.finalize().to_hex()[..32].to_owned()
}

pub(super) fn with_query(url: &str, query: &[(String, String)]) -> String {
    if query.is_empty() {
        return url.to_owned();
    }
    let mut out = url.to_owned();
    let mut sep = if url.contains('?') { '&' } else { '?' };
    for (k, v) in query {
        out.push(sep);
        out.push_str(&url_part(k));
        out.push('=');
        out.push_str(&url_part(v));
        sep = '&';
    }
    out
}

/// Runs `next` over a page: a URL, absolute or relative to the page's (`/items?page=2`,
/// `?page=2`, `page2`), or null.
pub(super) fn next_url(
    jq: &Jq,
    page: &Value,
    current: &Url,
    secrets: &Secrets,
) -> Result<Option<Url>, StepError> {
    let out = jq
        .run(page)
        .map_err(|e| StepError::new(format!("`next`: {e}")))?;
    match out.into_iter().next() {
        None | Some(Value::Null | Value::Bool(false)) => Ok(None),
        Some(Value::String(s)) if s.is_empty() => Ok(None),
        Some(Value::String(s)) => current
            .join(&s)
            .map(Some)
            .map_err(|e| StepError::new(format!("`next` gave `{s}`, which is not a URL: {e}"))),
        Some(other) => Err(StepError::new(format!(
            "`next` must give a URL string or null, not {}",
            crate::json::brief(&secrets.mask_value(&other).unwrap_or(other), 80)
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn query_is_encoded() {
        let q = vec![("a b".to_owned(), "x&y".to_owned())];
        assert_eq!(with_query("http://h/p", &q), "http://h/p?a%20b=x%26y");
        assert_eq!(
            with_query("http://h/p?z=1", &q),
            "http://h/p?z=1&a%20b=x%26y"
        );
    }

    #[test]
    fn next_links_resolve_against_the_page() {
        let jq = Jq::compile(".next").unwrap();
        let page = Url::parse("http://h:1/api/items?page=1").unwrap();
        let next = |v: &str| {
            next_url(&jq, &json!({"next": v}), &page, Secrets::none())
                .unwrap()
                .map(String::from)
        };
        assert_eq!(next("?page=2").unwrap(), "http://h:1/api/items?page=2");
        assert_eq!(next("/other").unwrap(), "http://h:1/other");
        assert_eq!(next("more").unwrap(), "http://h:1/api/more");
        assert_eq!(next("https://x/y").unwrap(), "https://x/y");
        assert_eq!(next(""), None);
    }
}
