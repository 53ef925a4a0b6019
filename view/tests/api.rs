//! The viewer's HTTP API against the real server on a loopback port: ureq for well-formed
//! requests, a raw TCP client for what no well-behaved client sends.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use zoomstack_engine::ZoomStack;
use zoomstack_kernel::{Backend, IndexRange, StackParams, render_block, render_block_smooth};
use zoomstack_sinks::{Colormap, Scaling, SmoothColours};
use zoomstack_view::{Limits, ServerOptions, View, ViewServer};

const SMALL: StackParams = StackParams {
    height: 48,
    width: 64,
    center_re: -0.743645857047151,
    center_im: 0.13182592380533,
    scale0: 3.0,
    zoom_per_level: 1.00025,
    max_iter: 256,
};

fn start(stack: ZoomStack, select: &str, limits: Limits) -> ViewServer {
    let view = View::from_select(stack, select).unwrap();
    let options = ServerOptions {
        port: 0,
        threads: 2,
        limits,
        ..ServerOptions::default()
    };
    ViewServer::start(view, options).unwrap()
}

fn small_server() -> ViewServer {
    start(
        ZoomStack::new(120_000, SMALL).unwrap(),
        "[:, :, :]",
        Limits::default(),
    )
}

struct Got {
    status: u16,
    headers: ureq::http::HeaderMap,
    body: Vec<u8>,
}

impl Got {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }
    fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .unwrap_or_else(|| panic!("no {name} header"))
            .to_str()
            .unwrap()
    }
    fn error(&self) -> String {
        self.json()["error"].as_str().unwrap().to_string()
    }
}

fn get(server: &ViewServer, path: &str) -> Got {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let mut r = agent
        .get(format!("http://{}{path}", server.addr()))
        .call()
        .unwrap();
    Got {
        status: r.status().as_u16(),
        headers: r.headers().clone(),
        body: r
            .body_mut()
            .with_config()
            .limit(256 << 20)
            .read_to_vec()
            .unwrap(),
    }
}

/// Send raw bytes, read the whole answer; returns (status, text of the answer).
fn raw(addr: SocketAddr, request: &[u8]) -> (u16, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    s.write_all(request).unwrap();
    let mut buf = Vec::new();
    let _ = s.read_to_end(&mut buf);
    let text = String::from_utf8_lossy(&buf).to_string();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (status, text)
}

fn raw_get(addr: SocketAddr, target: &str) -> (u16, String) {
    raw(
        addr,
        format!("GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n").as_bytes(),
    )
}

fn kernel_counts(p: &StackParams, level: u64, rows: IndexRange, cols: IndexRange) -> Vec<u16> {
    let mut out = vec![0; (rows.count * cols.count) as usize];
    render_block(p, level, rows, cols, Backend::Scalar, &mut out).unwrap();
    out
}

fn le_u16(body: &[u8]) -> Vec<u16> {
    body.chunks_exact(2)
        .map(|b| u16::from_le_bytes([b[0], b[1]]))
        .collect()
}

fn decode_png(bytes: &[u8]) -> (png::OutputInfo, Vec<u8>) {
    let mut reader = png::Decoder::new(std::io::Cursor::new(bytes))
        .read_info()
        .unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    buf.truncate(info.buffer_size());
    (info, buf)
}

#[test]
fn page_and_info() {
    let server = small_server();
    let page = get(&server, "/");
    assert_eq!(page.status, 200);
    assert_eq!(page.header("content-type"), "text/html; charset=utf-8");
    let html = String::from_utf8(page.body).unwrap();
    assert!(html.contains("<canvas id=\"frame\""));
    // Self-contained: no resource from anywhere else.
    for external in ["http://", "https://", "//cdn", "src=\""] {
        assert!(!html.contains(external), "page refers to {external}");
    }
    assert_eq!(get(&server, "/index.html").status, 200);

    let info = get(&server, "/api/info").json();
    assert_eq!(info["stack"]["levels"], 120_000);
    assert_eq!(info["stack"]["height"], 48);
    assert_eq!(info["stack"]["max_iter"], 256);
    assert_eq!(info["view"]["levels"]["count"], 120_000);
    assert_eq!(info["view"]["initial_level"], 3000);
    assert_eq!(info["scaling"]["fixed_max"], 256);
    assert_eq!(info["default_colormap"], "rainbow");
    let rainbow: Vec<u8> = serde_json::from_value(info["colormaps"]["rainbow"].clone()).unwrap();
    assert_eq!(rainbow, Colormap::Rainbow.palette());
    assert_eq!(
        info["colormaps"].as_object().unwrap().len(),
        Colormap::ALL.len()
    );
    server.shutdown();
}

#[test]
fn counts_grid_and_pngs_are_exact() {
    let server = small_server();
    for (level, stride) in [(0u64, 1usize), (3000, 1), (119_999, 1), (60_000, 3)] {
        let rows = IndexRange::new(0, stride as i64, 48usize.div_ceil(stride) as u64);
        let cols = IndexRange::new(0, stride as i64, 64usize.div_ceil(stride) as u64);
        let want = kernel_counts(&SMALL, level, rows, cols);
        let got = get(
            &server,
            &format!("/api/level/{level}/counts?stride={stride}"),
        );
        assert_eq!(got.status, 200);
        assert_eq!(got.header("content-type"), "application/octet-stream");
        assert_eq!(
            got.header("content-length"),
            (rows.count * cols.count * 2).to_string()
        );
        assert_eq!(got.header("x-zoomstack-height"), rows.count.to_string());
        assert_eq!(got.header("x-zoomstack-width"), cols.count.to_string());
        assert_eq!(
            got.header("x-zoomstack-min"),
            want.iter().min().unwrap().to_string()
        );
        assert_eq!(
            got.header("x-zoomstack-max"),
            want.iter().max().unwrap().to_string()
        );
        assert_eq!(le_u16(&got.body), want, "level {level} stride {stride}");

        // The complex coordinates: exactly the kernel's grid, through JSON and back.
        let grid = get(&server, &format!("/api/level/{level}/grid?stride={stride}")).json();
        let g = SMALL.level_grid(level).unwrap();
        let re: Vec<f64> = serde_json::from_value(grid["re"].clone()).unwrap();
        let im: Vec<f64> = serde_json::from_value(grid["im"].clone()).unwrap();
        assert_eq!(re.len() as u64, cols.count);
        assert_eq!(im.len() as u64, rows.count);
        for (k, x) in re.iter().enumerate() {
            assert_eq!(x.to_bits(), g.cols.at(cols.at(k as u64) as usize).to_bits());
        }
        for (k, y) in im.iter().enumerate() {
            assert_eq!(y.to_bits(), g.rows.at(rows.at(k as u64) as usize).to_bits());
        }
        assert_eq!(grid["cols"]["step"], stride);

        // 8-bit PNG: the PNG sink's scaling and colormap.
        let frame = ndarray::Array2::from_shape_vec(
            (rows.count as usize, cols.count as usize),
            want.clone(),
        )
        .unwrap();
        for (mode, scaling) in [
            ("fixed", Scaling::notebook(256)),
            ("per-frame", Scaling::PerFrame),
        ] {
            let png = get(
                &server,
                &format!(
                    "/api/level/{level}/image.png?colormap=viridis&mode={mode}&stride={stride}"
                ),
            );
            assert_eq!(png.status, 200);
            assert_eq!(png.header("content-type"), "image/png");
            assert!(
                png.header("content-disposition")
                    .contains(&format!("level-{level}-viridis-{mode}.png"))
            );
            let (info, pixels) = decode_png(&png.body);
            assert_eq!(
                (info.width as usize, info.height as usize),
                (cols.count as usize, rows.count as usize)
            );
            assert_eq!(info.color_type, png::ColorType::Rgb);
            let mut idx = Vec::new();
            scaling.apply(frame.view(), &mut idx).unwrap();
            let expect: Vec<u8> = idx.iter().flat_map(|&i| Colormap::Viridis.rgb(i)).collect();
            assert_eq!(pixels, expect, "level {level} {mode}");
        }
        // 16-bit PNG: the raw counts.
        let png16 = get(
            &server,
            &format!("/api/level/{level}/counts.png?stride={stride}"),
        );
        let (info, samples) = decode_png(&png16.body);
        assert_eq!(info.bit_depth, png::BitDepth::Sixteen);
        let counts: Vec<u16> = samples
            .chunks_exact(2)
            .map(|b| u16::from_be_bytes([b[0], b[1]]))
            .collect();
        assert_eq!(counts, want);
    }
    server.shutdown();
}

fn le_f32(body: &[u8]) -> Vec<f32> {
    body.chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect()
}

#[test]
fn smooth_values_are_the_kernels_and_cached_apart_from_counts() {
    let server = small_server();
    let info = get(&server, "/api/info").json();
    assert_eq!(info["values"]["smooth"], true, "{info}");
    assert!(info["values"]["smooth_refused"].is_null());
    for (level, stride) in [(3000u64, 1usize), (119_999, 2), (0, 3)] {
        let before = get(&server, "/api/stats").json();
        let counts = get(
            &server,
            &format!("/api/level/{level}/counts?stride={stride}"),
        );
        let smooth = get(
            &server,
            &format!("/api/level/{level}/counts?values=smooth&stride={stride}"),
        );
        assert_eq!((counts.status, smooth.status), (200, 200));
        assert_eq!(counts.header("x-zoomstack-values"), "counts");
        assert_eq!(smooth.header("x-zoomstack-values"), "smooth");
        let (rows, cols) = (
            IndexRange::new(0, stride as i64, 48u64.div_ceil(stride as u64)),
            IndexRange::new(0, stride as i64, 64u64.div_ceil(stride as u64)),
        );
        let n = (rows.count * cols.count) as usize;
        assert_eq!(smooth.body.len(), 4 * n);
        assert_eq!(smooth.header("x-zoomstack-height"), rows.count.to_string());
        // Bit for bit the kernel's smooth values of the level.
        let mut want = vec![0f32; n];
        render_block_smooth(&SMALL, level, rows, cols, Backend::Scalar, &mut want).unwrap();
        let got = le_f32(&smooth.body);
        assert!(
            got.iter()
                .zip(&want)
                .all(|(a, b)| a.to_bits() == b.to_bits()),
            "level {level} stride {stride}"
        );
        let (lo, hi) = want
            .iter()
            .fold((f32::INFINITY, f32::NEG_INFINITY), |(a, b), &v| {
                (a.min(v), b.max(v))
            });
        let got = smooth.header("x-zoomstack-min").parse::<f32>().unwrap();
        assert_eq!(got.to_bits(), lo.to_bits(), "min");
        let got = smooth.header("x-zoomstack-max").parse::<f32>().unwrap();
        assert_eq!(got.to_bits(), hi.to_bits(), "max");
        // values=counts is the counts route's answer.
        let explicit = get(
            &server,
            &format!("/api/level/{level}/counts?values=counts&stride={stride}"),
        );
        assert_eq!(explicit.body, counts.body);
        assert_eq!(
            le_u16(&counts.body),
            kernel_counts(&SMALL, level, rows, cols)
        );
        // The cache keys on the values: the smooth frame was a render of its own, not the
        // cached counts; asking again for each is a hit.
        let after = get(&server, "/api/stats").json();
        let renders = after["renders"].as_u64().unwrap() - before["renders"].as_u64().unwrap();
        assert_eq!(renders, 2, "counts and smooth values rendered once each");
        let hits = after["hits"].as_u64().unwrap() - before["hits"].as_u64().unwrap();
        assert_eq!(hits, 1, "values=counts from the cache");
        let again = get(
            &server,
            &format!("/api/level/{level}/counts?values=smooth&stride={stride}"),
        );
        assert_eq!(again.body, smooth.body);
        assert!(again.header("server-timing").starts_with("cache"));

        // image.png with smooth values: the PNG sink's smooth colours (SmoothColours::apply).
        for (mode, cycle, scaling) in [
            ("fixed", None, Scaling::notebook(256)),
            ("per-frame", None, Scaling::PerFrame),
            ("fixed", Some(24.5f32), Scaling::notebook(256)),
        ] {
            let q = cycle.map_or(String::new(), |p| format!("&cycle={p}"));
            let png = get(
                &server,
                &format!(
                    "/api/level/{level}/image.png?values=smooth&colormap=twilight&mode={mode}&stride={stride}{q}"
                ),
            );
            assert_eq!(png.status, 200, "{}", String::from_utf8_lossy(&png.body));
            let (info, rgb) = decode_png(&png.body);
            assert_eq!(info.color_type, png::ColorType::Rgb);
            let colours = SmoothColours {
                colormap: Colormap::Twilight,
                scaling,
                cycle,
            };
            let frame = ndarray::ArrayView2::from_shape(
                (rows.count as usize, cols.count as usize),
                &want[..],
            )
            .unwrap();
            let mut expected = Vec::new();
            colours.apply(frame, &mut expected).unwrap();
            assert_eq!(rgb, expected, "{mode} {cycle:?}");
            let name = png.header("content-disposition");
            assert!(name.contains("-smooth"), "{name}");
        }
    }
    server.shutdown();
}

#[test]
fn bad_smooth_requests_and_exact_stacks_are_refused() {
    let server = small_server();
    for (path, want) in [
        (
            "/api/level/5/counts?values=bands",
            "values \"bands\": expected counts or smooth",
        ),
        (
            "/api/level/5/image.png?values=smooth&cycle=0",
            "cycle \"0\": expected a number of iterations above 0",
        ),
        (
            "/api/level/5/image.png?values=smooth&cycle=-3",
            "cycle \"-3\"",
        ),
        (
            "/api/level/5/image.png?values=smooth&cycle=nan",
            "cycle \"nan\"",
        ),
        (
            "/api/level/5/image.png?values=smooth&cycle=1e12",
            "cycle \"1e12\"",
        ),
        (
            "/api/level/5/image.png?cycle=16",
            "cycle applies to smooth colours only",
        ),
        ("/api/level/5/counts?cycle=16", "cycle"),
        ("/api/level/5/grid?values=smooth", "values"),
        ("/api/level/5/counts.png?values=smooth", "values"),
    ] {
        let r = get(&server, path);
        assert_eq!(r.status, 400, "{path}");
        assert!(r.error().contains(want), "{path}: {}", r.error());
    }
    server.shutdown();

    // Exact arithmetic has no smooth values: 400 naming why, before anything renders.
    let exact = start(
        ZoomStack::exact(1000, zoomstack_kernel::exact::ExactStack::default()).unwrap(),
        "[:, :, :]",
        Limits::default(),
    );
    let info = get(&exact, "/api/info").json();
    assert_eq!(info["values"]["smooth"], false);
    let why = info["values"]["smooth_refused"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(why.contains("smooth"), "{why}");
    for path in [
        "/api/level/10/counts?values=smooth&stride=64",
        "/api/level/10/image.png?values=smooth&stride=64",
    ] {
        let r = get(&exact, path);
        assert_eq!(r.status, 400, "{path}");
        assert!(r.error().starts_with("values=smooth: "), "{}", r.error());
        assert!(r.error().contains(&why), "{}", r.error());
    }
    assert_eq!(get(&exact, "/api/stats").json()["renders"], 0);
    // Counts still work there.
    assert_eq!(get(&exact, "/api/level/10/counts?stride=64").status, 200);
    exact.shutdown();
}

#[test]
fn a_spec_selection_is_what_the_slider_and_frames_show() {
    let server = start(
        ZoomStack::new(120_000, SMALL).unwrap(),
        "[0:20000:500, 8:40:2, ::4]",
        Limits::default(),
    );
    let info = get(&server, "/api/info").json();
    assert_eq!(info["view"]["levels"]["step"], 500);
    assert_eq!(info["view"]["levels"]["count"], 40);
    assert_eq!(info["view"]["initial_level"], 3000);
    let got = get(&server, "/api/level/3000/counts");
    let want = kernel_counts(
        &SMALL,
        3000,
        IndexRange::new(8, 2, 16),
        IndexRange::new(0, 4, 16),
    );
    assert_eq!(le_u16(&got.body), want);
    // stride multiplies the selection's steps.
    let got = get(&server, "/api/level/3000/counts?stride=2");
    let want = kernel_counts(
        &SMALL,
        3000,
        IndexRange::new(8, 4, 8),
        IndexRange::new(0, 8, 8),
    );
    assert_eq!(le_u16(&got.body), want);
    let grid = get(&server, "/api/level/3000/grid?stride=2").json();
    assert_eq!(grid["rows"]["start"], 8);
    assert_eq!(grid["rows"]["step"], 4);
    server.shutdown();
}

#[test]
fn invalid_requests_get_clear_errors() {
    let server = small_server();
    let cases: &[(&str, u16, &str)] = &[
        (
            "/api/level/120000/counts",
            404,
            "level 120000 is not in the stack of 120000 levels",
        ),
        (
            "/api/level/18446744073709551615/counts",
            404,
            "not in the stack",
        ),
        (
            "/api/level/99999999999999999999999/counts",
            400,
            "is not a level number",
        ),
        (
            "/api/level/-1/counts",
            400,
            "level \"-1\" is not a level number: expected an integer from 0 to 119999",
        ),
        ("/api/level/1.5/counts", 400, "is not a level number"),
        ("/api/level//counts", 400, "is not a level number"),
        (
            "/api/level/3/pixels",
            404,
            "expected counts, grid, image.png or counts.png",
        ),
        (
            "/api/level/3/counts?stride=0",
            400,
            "stride \"0\": expected an integer from 1 to 64",
        ),
        (
            "/api/level/3/counts?stride=65",
            400,
            "expected an integer from 1 to 64",
        ),
        ("/api/level/3/counts?stride=abc", 400, "stride \"abc\""),
        (
            "/api/level/3/counts?stride=99999999999999999999999999",
            400,
            "expected an integer",
        ),
        (
            "/api/level/3/counts?width=100000&height=100000",
            400,
            "unknown parameter \"width\": expected stride",
        ),
        ("/api/level/3/counts?stride=1&stride=2", 400, "given twice"),
        (
            "/api/level/3/counts?stride=%zz",
            400,
            "malformed query text",
        ),
        (
            "/api/level/3/image.png?colormap=jet",
            400,
            "colormap \"jet\": expected one of gray, rainbow",
        ),
        (
            "/api/level/3/image.png?mode=log",
            400,
            "mode \"log\": expected fixed or per-frame",
        ),
        (
            "/api/info?level=3",
            400,
            "this resource takes no parameters",
        ),
        ("/api/nothing", 404, "no such resource"),
        ("/favicon.ico", 404, "no such resource"),
    ];
    for &(path, status, needle) in cases {
        let got = get(&server, path);
        assert_eq!(
            got.status,
            status,
            "{path}: {}",
            String::from_utf8_lossy(&got.body)
        );
        assert_eq!(got.header("content-type"), "application/json");
        let msg = got.error();
        assert!(msg.contains(needle), "{path}: {msg:?} lacks {needle:?}");
    }
    // Nothing was rendered for any of them.
    assert_eq!(get(&server, "/api/stats").json()["renders"], 0);
    server.shutdown();
}

#[test]
fn path_traversal_methods_hosts_and_huge_targets() {
    let server = small_server();
    let addr = server.addr();
    for target in [
        "/../../../../etc/passwd",
        "/api/../../../etc/passwd",
        "/%2e%2e/%2e%2e/etc/passwd",
        "/..%2f..%2fetc%2fpasswd",
        "//etc/passwd",
        "/index.html/../../Cargo.toml",
        "/api/level/1/..%2f..%2f..%2fetc%2fpasswd",
        "/assets/index.html",
        "/src/lib.rs",
        "/view/assets/index.html",
        "/api/level/1/counts/../../../../etc/passwd",
    ] {
        let (status, text) = raw_get(addr, target);
        assert_eq!(status, 404, "{target}: {text}");
        assert!(!text.contains("root:"), "{target} leaked a file");
        assert!(text.contains("no such"), "{target}: {text}");
    }
    for method in ["POST", "PUT", "DELETE", "PATCH"] {
        let (status, text) = raw(
            addr,
            format!("{method} /api/info HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\nConnection: close\r\n\r\n").as_bytes(),
        );
        assert_eq!(status, 405, "{method}: {text}");
        assert!(text.contains("Allow: GET, HEAD"), "{text}");
    }
    // HEAD: headers without a body.
    let (status, text) = raw(
        addr,
        b"HEAD /api/level/5/counts HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(status, 200);
    assert!(text.ends_with("\r\n\r\n"), "HEAD sent a body");
    // Another Host (DNS rebinding) is refused; localhost with a port is fine.
    let (status, text) = raw(
        addr,
        b"GET /api/info HTTP/1.1\r\nHost: attacker.example:8000\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(status, 403, "{text}");
    assert!(text.contains("attacker.example"), "{text}");
    let (status, _) = raw(
        addr,
        format!(
            "GET /api/info HTTP/1.1\r\nHost: localhost:{}\r\nConnection: close\r\n\r\n",
            addr.port()
        )
        .as_bytes(),
    );
    assert_eq!(status, 200);
    let (status, _) = raw(addr, b"GET /api/info HTTP/1.0\r\n\r\n");
    assert_eq!(status, 400, "a request without Host is refused");
    // A huge target is refused before any parsing.
    let (status, text) = raw_get(
        addr,
        &format!("/api/level/3/counts?stride={}", "1".repeat(5000)),
    );
    assert_eq!(status, 414, "{text}");
    // Garbage is not HTTP: the server answers or closes, and keeps serving.
    let _ = raw(addr, b"\x00\x01\x02 garbage\r\n\r\n");
    let _ = raw(addr, b"GET\r\n\r\n");
    assert_eq!(get(&server, "/api/info").status, 200);
    server.shutdown();
}

#[test]
fn frame_size_is_bounded() {
    // A stack of 4096 x 4096 levels: a whole level is 16.8 Mpx, over a 1 Mpx limit.
    let big = StackParams {
        height: 4096,
        width: 4096,
        ..SMALL
    };
    let limits = Limits {
        max_frame_pixels: 1 << 20,
        ..Limits::default()
    };
    let server = start(ZoomStack::new(10, big).unwrap(), "[:, :, :]", limits);
    let got = get(&server, "/api/level/3/counts");
    assert_eq!(got.status, 413);
    let msg = got.error();
    assert!(
        msg.contains("4096 x 4096 = 16777216 pixels: expected at most 1048576 (use stride >= 4"),
        "{msg}"
    );
    assert_eq!(get(&server, "/api/level/3/image.png?stride=3").status, 413);
    let ok = get(&server, "/api/level/3/counts?stride=4");
    assert_eq!(ok.status, 200);
    assert_eq!(ok.body.len(), 1024 * 1024 * 2);
    assert_eq!(get(&server, "/api/stats").json()["renders"], 1);
    server.shutdown();
}

#[test]
fn concurrent_requests_share_renders_and_cache_hits_are_cheap() {
    let server = Arc::new(small_server());
    let threads: Vec<_> = (0..6)
        .map(|_| {
            let s = server.clone();
            std::thread::spawn(move || get(&s, "/api/level/77777/counts").body)
        })
        .collect();
    let bodies: Vec<Vec<u8>> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    assert!(bodies.windows(2).all(|w| w[0] == w[1]));
    let stats = get(&server, "/api/stats").json();
    assert_eq!(stats["renders"], 1, "{stats}");
    assert_eq!(
        stats["hits"].as_u64().unwrap() + stats["coalesced"].as_u64().unwrap(),
        5
    );
    let again = get(&server, "/api/level/77777/counts");
    assert!(again.header("server-timing").starts_with("cache;dur="));
    let fresh = get(&server, "/api/level/77778/counts");
    assert!(fresh.header("server-timing").starts_with("render;dur="));
}

/// A level that takes seconds: 4096 x 4096 pixels at `max_iter` 65535 over the whole set.
fn slow_server(limits: Limits) -> ViewServer {
    let slow = StackParams {
        height: 4096,
        width: 4096,
        max_iter: 65535,
        ..SMALL
    };
    let limits = Limits {
        max_frame_pixels: 4096 * 4096,
        ..limits
    };
    start(ZoomStack::new(10, slow).unwrap(), "[:, :, :]", limits)
}

#[test]
fn cheap_requests_are_answered_while_levels_render_and_overload_is_refused() {
    let limits = Limits {
        max_active_renders: 1,
        http_workers: 3,
        ..Limits::default()
    };
    let server = Arc::new(slow_server(limits));
    let slow = {
        let s = server.clone();
        std::thread::spawn(move || get(&s, "/api/level/0/counts").status)
    };
    while server.stats().active == 0 {
        assert!(
            !slow.is_finished(),
            "the slow render finished before it was seen"
        );
        std::thread::sleep(Duration::from_millis(2));
    }
    // While the level renders: the page, info and stats are answered...
    assert_eq!(get(&server, "/").status, 200);
    assert_eq!(get(&server, "/api/info").status, 200);
    assert_eq!(get(&server, "/api/level/1/grid").status, 200);
    // ...and another render is refused (limit 1), with a hint when to retry.
    let busy = get(&server, "/api/level/1/counts?stride=64");
    assert_eq!(busy.status, 503);
    assert_eq!(busy.header("retry-after"), "1");
    assert!(
        busy.error()
            .contains("busy: 1 renders are running or waiting")
    );
    assert!(
        !slow.is_finished(),
        "the slow level finished before the checks: make it slower"
    );
    assert_eq!(slow.join().unwrap(), 200);
    assert_eq!(get(&server, "/api/level/1/counts?stride=64").status, 200);
}

#[test]
fn limits_are_checked_at_start() {
    let view = View::whole(ZoomStack::default());
    for (limits, needle) in [
        (
            Limits {
                http_workers: 8,
                ..Limits::default()
            },
            "HTTP workers 8: expected more than max active renders (8)",
        ),
        (
            Limits {
                max_frame_pixels: 0,
                ..Limits::default()
            },
            "max frame pixels 0",
        ),
    ] {
        let e = ViewServer::start(
            view.clone(),
            ServerOptions {
                port: 0,
                limits,
                ..ServerOptions::default()
            },
        )
        .err()
        .unwrap();
        assert!(e.to_string().contains(needle), "{e}");
    }
    // A port in use is a clear error.
    let first = small_server();
    let e = ViewServer::start(
        view,
        ServerOptions {
            port: first.addr().port(),
            ..ServerOptions::default()
        },
    )
    .err()
    .unwrap();
    assert!(
        e.to_string().starts_with(&format!(
            "cannot listen on 127.0.0.1:{}",
            first.addr().port()
        )),
        "{e}"
    );
    first.shutdown();
}
