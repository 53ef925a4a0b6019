//! The API's HTTP-level types, independent of the HTTP library: what a request says
//! ([`ViewRequest`], [`RequestBody`]), what the app answers ([`Reply`]), and the query-string
//! parsing every route shares.

use serde_json::json;

/// What a request says about its body. The API takes none: a request announcing one is
/// refused (`413`) and its connection closed, without the body being read.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum RequestBody {
    /// No body: neither `Content-Length` nor `Transfer-Encoding`, or `Content-Length: 0`.
    #[default]
    None,
    /// `Content-Length: N` with `N > 0`.
    Length(u64),
    /// `Transfer-Encoding` (chunked): a body of unknown length.
    Chunked,
}

/// One request as the viewer sees it, independent of the HTTP library: the method, the request
/// target as sent (path and query), the `Host` header and what the request says of its body.
#[derive(Clone, Copy, Debug)]
pub struct ViewRequest<'a> {
    /// `GET`, `HEAD`, ...
    pub method: &'a str,
    /// Path and query, e.g. `/api/level/3/counts?stride=2`.
    pub target: &'a str,
    /// The `Host` header, if any.
    pub host: Option<&'a str>,
    /// The body the request announces.
    pub body: RequestBody,
}

impl<'a> ViewRequest<'a> {
    /// A `GET` of `target` with this `Host` header and no body.
    pub fn get(target: &'a str, host: &'a str) -> ViewRequest<'a> {
        ViewRequest {
            method: "GET",
            target,
            host: Some(host),
            body: RequestBody::None,
        }
    }
}

/// An HTTP response, before it is written.
#[derive(Debug)]
pub struct Reply {
    /// Status code.
    pub status: u16,
    /// `Content-Type`.
    pub content_type: &'static str,
    /// Other headers.
    pub headers: Vec<(&'static str, String)>,
    /// Body (not sent for `HEAD`).
    pub body: Vec<u8>,
    /// The connection must be closed after this reply (its request announced a body that the
    /// server will not read).
    pub close: bool,
}

impl Reply {
    pub(crate) fn ok(content_type: &'static str, body: Vec<u8>) -> Reply {
        Reply {
            status: 200,
            content_type,
            headers: vec![("Cache-Control", "no-store".to_string())],
            body,
            close: false,
        }
    }

    pub(crate) fn json(value: &serde_json::Value) -> Reply {
        Reply::ok("application/json", value.to_string().into_bytes())
    }

    /// A JSON error `{"error": message}` with `status`.
    pub fn error(status: u16, message: impl Into<String>) -> Reply {
        let mut r = Reply::json(&json!({ "error": message.into(), "status": status }));
        r.status = status;
        r
    }

    pub(crate) fn header(mut self, name: &'static str, value: impl Into<String>) -> Reply {
        self.headers.push((name, value.into()));
        self
    }
}

/// The API has no request bodies: one announced is refused, and the connection closed so that
/// the body is never read.
pub(crate) fn refuse_body(body: RequestBody) -> Option<Reply> {
    let what = match body {
        RequestBody::None => return None,
        RequestBody::Length(n) => format!("a request body of {n} bytes"),
        RequestBody::Chunked => "a chunked request body".to_string(),
    };
    let mut reply = Reply::error(
        413,
        format!("{what}: expected none (the viewer's API takes no request bodies)"),
    );
    reply.close = true;
    Some(reply)
}

/// `key=value&...` into decoded pairs; unknown or repeated keys and bad escapes are errors.
pub(crate) fn parse_query(query: &str, allowed: &[&str]) -> Result<Vec<(String, String)>, Reply> {
    let mut pairs: Vec<(String, String)> = Vec::new();
    for part in query.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = part.split_once('=').unwrap_or((part, ""));
        let key = percent_decode(k)?;
        let value = percent_decode(v)?;
        if !allowed.contains(&key.as_str()) {
            let expected = if allowed.is_empty() {
                "this resource takes no parameters".to_string()
            } else {
                format!("expected {}", allowed.join(", "))
            };
            return Err(Reply::error(
                400,
                format!("unknown parameter {}: {expected}", printable(&key)),
            ));
        }
        if pairs.iter().any(|(k, _)| *k == key) {
            return Err(Reply::error(400, format!("parameter {key} given twice")));
        }
        pairs.push((key, value));
    }
    Ok(pairs)
}

pub(crate) fn percent_decode(s: &str) -> Result<String, Reply> {
    let bad = || {
        Reply::error(
            400,
            format!(
                "malformed query text {}: expected UTF-8 with %XX escapes",
                printable(s)
            ),
        )
    };
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' => {
                let hex = b.get(i + 1..i + 3).ok_or_else(bad)?;
                let hex = std::str::from_utf8(hex).map_err(|_| bad())?;
                out.push(u8::from_str_radix(hex, 16).map_err(|_| bad())?);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8(out).map_err(|_| bad())
}

/// A user-supplied string for an error message: quoted, escaped and cut to 80 characters.
pub(crate) fn printable(s: &str) -> String {
    let cut: String = s.chars().take(80).collect();
    let more = if cut.len() < s.len() { "..." } else { "" };
    format!("{cut:?}{more}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries() {
        let p = parse_query("stride=2&colormap=vir%69dis", &["stride", "colormap"]).unwrap();
        assert_eq!(p[1], ("colormap".into(), "viridis".into()));
        assert_eq!(parse_query("", &[]).unwrap(), vec![]);
        for (q, needle) in [
            ("size=3", "unknown parameter \\\"size\\\""),
            ("stride=1&stride=2", "given twice"),
            ("stride=%zz", "malformed"),
            ("stride=%ff", "malformed"),
            ("stride=%4", "malformed"),
        ] {
            let r = parse_query(q, &["stride"]).unwrap_err();
            let body = String::from_utf8(r.body).unwrap();
            assert_eq!(r.status, 400);
            assert!(body.contains(needle), "{q}: {body}");
        }
    }

    #[test]
    fn printable_cuts_and_escapes() {
        assert_eq!(printable("a\"b"), "\"a\\\"b\"");
        assert_eq!(
            printable(&"x".repeat(100)),
            format!("{:?}...", "x".repeat(80))
        );
    }
}
