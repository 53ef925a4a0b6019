//! Arbitrary bytes as an HTTP request to the viewer (target, method, Host header, announced
//! body): answering never panics, every answer has a known status, errors are JSON naming the
//! problem, a request announcing a body is refused with the connection closed, and a 200 for a
//! level's counts (or smooth values) holds exactly the frame's pixels.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use zoomstack_engine::ZoomStack;
use zoomstack_kernel::StackParams;
use zoomstack_view::{Limits, RequestBody, ServerOptions, View, ViewApp, ViewRequest};

fn app() -> &'static ViewApp {
    static APP: OnceLock<ViewApp> = OnceLock::new();
    APP.get_or_init(|| {
        // A small stack keeps renders cheap; a small cache exercises eviction.
        let params = StackParams {
            height: 12,
            width: 20,
            max_iter: 64,
            ..StackParams::default()
        };
        let view =
            View::from_select(ZoomStack::new(1000, params).unwrap(), "[::3, 1:, ::2]").unwrap();
        let options = ServerOptions {
            threads: 1,
            limits: Limits {
                max_frame_pixels: 60,
                cache_bytes: 2000,
                ..Limits::default()
            },
            ..ServerOptions::default()
        };
        ViewApp::new(view, &options).unwrap()
    })
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut parts = text.splitn(4, '\n');
    let target = parts.next().unwrap_or("");
    let method = parts.next().unwrap_or("GET");
    let host = parts.next();
    // The fourth line, if any: `chunked`, or a Content-Length.
    let body = match parts.next() {
        None => RequestBody::None,
        Some("chunked") => RequestBody::Chunked,
        Some(n) => match n.parse::<u64>() {
            Ok(0) | Err(_) => RequestBody::None,
            Ok(n) => RequestBody::Length(n),
        },
    };
    let request = ViewRequest {
        method,
        target,
        host,
        body,
    };
    let reply = app().handle(&request);
    assert!(
        [200, 400, 403, 404, 405, 413, 414, 422].contains(&reply.status),
        "{target:?}: status {}",
        reply.status
    );
    assert_eq!(reply.close, body != RequestBody::None, "{request:?}");
    if reply.close {
        assert_eq!(reply.status, 413);
    }
    if reply.status != 200 {
        let v: serde_json::Value = serde_json::from_slice(&reply.body).unwrap();
        assert!(!v["error"].as_str().unwrap().is_empty());
        assert_eq!(reply.content_type, "application/json");
    } else if reply.content_type == "application/octet-stream" {
        let h = header(&reply, "X-Zoomstack-Height");
        let w = header(&reply, "X-Zoomstack-Width");
        // Counts are u16, smooth values f32.
        let bytes = match text_header(&reply, "X-Zoomstack-Values") {
            "counts" => 2,
            "smooth" => 4,
            other => panic!("X-Zoomstack-Values {other:?}"),
        };
        assert_eq!(reply.body.len(), h * w * bytes);
        assert!(h * w <= 60);
    }
});

fn header(reply: &zoomstack_view::Reply, name: &str) -> usize {
    text_header(reply, name).parse().unwrap()
}

fn text_header<'a>(reply: &'a zoomstack_view::Reply, name: &str) -> &'a str {
    reply
        .headers
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, v)| v.as_str())
        .unwrap()
}
