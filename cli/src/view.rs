//! `zoomstack view`: the browser viewer's server for a spec's stack, and opening the page.

use anyhow::anyhow;
use zoomstack_pipeline::diag::Source;

use crate::args::{Global, ViewArgs};
use crate::{Failure, Result, backend, emit, parse, read_source, signals, threads, user};

/// `zoomstack view`: serves the stack of a spec (or the notebook's) until a signal stops it.
pub(crate) fn view(g: &Global, args: &ViewArgs) -> Result<()> {
    let source = match &args.spec {
        Some(path) => read_source(path, &args.overrides)?,
        None => Source::new("<notebook stack>", "[stack]\n", &args.overrides.set),
    };
    let spec = parse(&source)?;
    let select = args
        .select
        .clone()
        .or_else(|| spec.sinks.first().map(|s| s.select.clone()))
        .unwrap_or_else(|| "[:, :, :]".to_string());
    let view = zoomstack_view::View::from_select(spec.stack, &select).map_err(user)?;
    let stride = args.stride.unwrap_or_else(|| {
        view.stride_for(args.max_pixels.min(zoomstack_view::DEFAULT_FRAME_PIXELS))
    });
    let limits = zoomstack_view::Limits {
        max_frame_pixels: args.max_pixels,
        default_stride: stride,
        cache_bytes: args.cache_mib.saturating_mul(1 << 20),
        ..zoomstack_view::Limits::default()
    };
    let options = zoomstack_view::ServerOptions {
        host: args.host,
        port: args.port,
        threads: threads(g)?,
        backend: backend(g)?,
        limits,
    };
    let (levels, rows, cols) = (view.levels.count, view.rows.count, view.cols.count);
    let server = zoomstack_view::ViewServer::start(view, options).map_err(|e| match e {
        zoomstack_view::ViewError::Bind { .. } => Failure::Other(anyhow!(
            "{e} (pick another port with --port, or --port 0 for any free one)"
        )),
        e => user(e),
    })?;
    // The URL goes to stdout (scripts read it); the rest to stderr.
    outln!("{}", server.url());
    if !g.quiet {
        eprintln!(
            "zoomstack view: {select}: {levels} levels of {rows} x {cols} on the slider; \
             open the URL above in a browser. Ctrl-C stops."
        );
    }
    if args.open {
        open_in_browser(&server.url());
    }
    signals::exit_on_signals();
    server.wait();
    Ok(())
}

/// Best effort: a missing opener is reported, not fatal (the URL is printed anyway).
fn open_in_browser(url: &str) {
    let (program, args): (&str, Vec<&str>) = if cfg!(target_os = "macos") {
        ("open", vec![url])
    } else if cfg!(windows) {
        ("cmd", vec!["/C", "start", "", url])
    } else {
        ("xdg-open", vec![url])
    };
    let spawned = std::process::Command::new(program)
        .args(&args)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn();
    if let Err(e) = spawned {
        eprintln!("zoomstack view: cannot open a browser with {program}: {e}; open the URL above");
    }
}
