//! `zoomstack view` as a user starts it: the binary serves on a free loopback port, prints the
//! URL on stdout, shows a spec's selection, and refuses bad options with exit 2.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Stdio};

use common::{examples, run, text, zoomstack};

/// A running `zoomstack view`, killed when dropped.
struct Viewer {
    child: Child,
    url: String,
}

impl Drop for Viewer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(args: &[&str]) -> Viewer {
    launch(args, |_| {})
}

/// Starts `zoomstack view --port 0 ARGS` (stderr discarded unless `configure` sets it) and
/// reads the URL it prints.
fn launch(args: &[&str], configure: impl FnOnce(&mut std::process::Command)) -> Viewer {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = zoomstack(dir.path());
    cmd.args(["view", "--port", "0"])
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    configure(&mut cmd);
    let mut child = cmd.spawn().unwrap();
    let mut url = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut url)
        .unwrap();
    let url = url.trim().to_string();
    assert!(url.starts_with("http://127.0.0.1:"), "{url:?}");
    Viewer { child, url }
}

/// GET `path`; returns (status, body).
fn get(viewer: &Viewer, path: &str) -> (u16, Vec<u8>) {
    let addr = viewer
        .url
        .trim_start_matches("http://")
        .trim_end_matches('/');
    let mut s = TcpStream::connect(addr).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).unwrap();
    let split = buf.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let head = String::from_utf8_lossy(&buf[..split]).to_string();
    let status = head.split_whitespace().nth(1).unwrap().parse().unwrap();
    (status, buf[split + 4..].to_vec())
}

fn json(body: &[u8]) -> serde_json::Value {
    serde_json::from_slice(body).unwrap()
}

#[test]
fn default_view_is_the_notebook_stack() {
    let v = start(&["--quiet"]);
    let (status, body) = get(&v, "/api/info");
    assert_eq!(status, 200);
    let info = json(&body);
    assert_eq!(info["stack"]["levels"], 120_000);
    assert_eq!(info["view"]["select"], "[:, :, :]");
    assert_eq!(info["view"]["initial_level"], 3000);
    let (status, body) = get(&v, "/api/level/119999/counts");
    assert_eq!((status, body.len()), (200, 512 * 512 * 2));
    let (status, body) = get(&v, "/");
    assert_eq!(status, 200);
    assert!(String::from_utf8(body).unwrap().contains("zoomstack view"));
}

#[test]
fn a_spec_file_shows_its_first_sinks_selection_with_overrides() {
    let spec = examples().join("preview.toml");
    let v = start(&[
        spec.to_str().unwrap(),
        "--set",
        "stack.max_iter=300",
        "--quiet",
    ]);
    let info = json(&get(&v, "/api/info").1);
    assert_eq!(info["view"]["select"], "[0:20000:500, ::2, ::2]");
    assert_eq!(info["view"]["levels"]["count"], 40);
    assert_eq!(info["view"]["rows"]["count"], 256);
    assert_eq!(info["stack"]["max_iter"], 300);
    let (status, body) = get(&v, "/api/level/19500/counts");
    assert_eq!((status, body.len()), (200, 256 * 256 * 2));
    // --select wins over the spec's.
    let v = start(&[
        spec.to_str().unwrap(),
        "--select",
        "[100000:]",
        "--stride",
        "4",
    ]);
    let info = json(&get(&v, "/api/info").1);
    assert_eq!(info["view"]["levels"]["start"], 100_000);
    assert_eq!(info["view"]["stride"], 4);
    let (_, body) = get(&v, "/api/level/100000/counts");
    assert_eq!(body.len(), 128 * 128 * 2);
}

#[test]
fn large_levels_get_a_stride_that_keeps_frames_near_a_megapixel() {
    let v = start(&[
        "--set",
        "stack.height=4096",
        "--set",
        "stack.width=3000",
        "--quiet",
    ]);
    let info = json(&get(&v, "/api/info").1);
    // ceil(4096 / 4) x ceil(3000 / 4) = 1024 x 750 <= 1048576 < 1366 x 1000.
    assert_eq!(info["view"]["stride"], 4);
    let (status, body) = get(&v, "/api/level/5/counts");
    assert_eq!((status, body.len()), (200, 1024 * 750 * 2));
    let v = start(&[
        "--set",
        "stack.height=4096",
        "--set",
        "stack.width=4096",
        "--stride",
        "1",
    ]);
    let (status, body) = get(&v, "/api/level/5/counts");
    assert_eq!(
        status, 413,
        "4096 x 4096 is over the 2048 x 2048 default limit"
    );
    assert!(String::from_utf8_lossy(&body).contains("use stride >= 2"));
}

#[test]
fn bad_options_exit_2_with_the_value_named() {
    let dir = tempfile::tempdir().unwrap();
    for (args, needle) in [
        (vec!["view", "--select", "[0:10:0]"], "0"),
        (vec!["view", "--select", "[:, ::-2]"], "step -2"),
        (vec!["view", "--select", "[5:5]"], "empty"),
        (
            vec!["view", "--stride", "0"],
            "default stride 0: expected at least 1",
        ),
        (
            vec!["view", "--stride", "513"],
            "default stride 513: expected at most 512",
        ),
        (vec!["view", "--max-pixels", "0"], "max frame pixels 0"),
        (vec!["view", "--host", "not-an-ip"], "not-an-ip"),
        (vec!["view", "--set", "stack.max_iter=0"], "max_iter"),
        (vec!["view", "no-such-spec.toml"], "no-such-spec.toml"),
    ] {
        let o = run(dir.path(), &args);
        assert_eq!(o.status.code(), Some(2), "{args:?}\n{}", text(&o));
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains(needle), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{err}");
        assert!(o.stdout.is_empty(), "{args:?} printed a URL");
    }
}

#[test]
fn open_without_a_browser_says_so_and_keeps_serving() {
    let empty = tempfile::tempdir().unwrap();
    let mut v = launch(&["--open"], |cmd| {
        // No xdg-open / open to be found.
        cmd.env("PATH", empty.path()).stderr(Stdio::piped());
    });
    let mut stderr = BufReader::new(v.child.stderr.take().unwrap());
    let mut lines = String::new();
    while !lines.contains("cannot open a browser") {
        if stderr.read_line(&mut lines).unwrap() == 0 {
            break;
        }
    }
    assert!(lines.contains("cannot open a browser"), "{lines}");
    assert_eq!(get(&v, "/api/info").0, 200);
}

#[test]
fn a_port_in_use_exits_1() {
    let v = start(&["--quiet"]);
    let port = v.url.rsplit(':').next().unwrap().trim_end_matches('/');
    let dir = tempfile::tempdir().unwrap();
    let o = run(dir.path(), &["view", "--port", port]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains(&format!("cannot listen on 127.0.0.1:{port}")),
        "{err}"
    );
    assert!(err.contains("--port 0 for any free one"), "{err}");
}
