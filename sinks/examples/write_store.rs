//! Write (or resume) a zoomstack Zarr store from the command line; the helper of the crash
//! tests, and a small demo of the sink API.
//!
//! ```text
//! cargo run --release -p zoomstack-sinks --example write_store -- OUT.zarr \
//!     [--levels N] [--height H] [--width W] [--select "[0:200:1, :, :]"] [--chunks 1,64,64]
//!     [--shard 8,64,64] [--zstd LEVEL|none] [--threads T] [--array-path P]
//!     [--pyramid K] [--pause-after UNITS] [--delay-ms MS]
//! ```
//!
//! Prints one JSON line per array with the sink's report. `--pause-after` blocks every worker
//! after that many tiles were written (so a test can kill the process at a known point);
//! `--delay-ms` sleeps before each tile's write (so a test can kill it mid-stream).

use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use zoomstack_engine::kernel::StackParams;
use zoomstack_engine::{DownsampleMode, EngineError, ExecError, Executor, StoreLayout, ZoomStack};
use zoomstack_sinks::{
    ArrayDescription, Compression, SinkError, ZarrOptions, ZarrPyramid, ZarrReport, ZarrSink,
};

struct Args {
    out: String,
    levels: u64,
    height: usize,
    width: usize,
    select: String,
    chunks: [usize; 3],
    shard: Option<[usize; 3]>,
    compression: Compression,
    threads: usize,
    array_path: String,
    pyramid: usize,
    pause_after: Option<u64>,
    delay_ms: u64,
}

fn triple(s: &str) -> Result<[usize; 3], String> {
    let v: Vec<usize> = s
        .split(',')
        .map(|p| p.trim().parse::<usize>().map_err(|e| format!("{s:?}: {e}")))
        .collect::<Result<_, _>>()?;
    v.try_into()
        .map_err(|_| format!("{s:?}: expected three comma-separated integers"))
}

fn parse() -> Result<Args, String> {
    let mut a = Args {
        out: String::new(),
        levels: 200,
        height: 64,
        width: 64,
        select: "[:, :, :]".to_string(),
        chunks: [1, 32, 32],
        shard: None,
        compression: Compression::Zstd { level: 3 },
        threads: 2,
        array_path: String::new(),
        pyramid: 0,
        pause_after: None,
        delay_ms: 0,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut val = || it.next().ok_or_else(|| format!("{arg} needs a value"));
        let num = |v: String| v.parse::<u64>().map_err(|e| format!("{v:?}: {e}"));
        match arg.as_str() {
            "--levels" => a.levels = num(val()?)?,
            "--height" => a.height = num(val()?)? as usize,
            "--width" => a.width = num(val()?)? as usize,
            "--select" => a.select = val()?,
            "--chunks" => a.chunks = triple(&val()?)?,
            "--shard" => a.shard = Some(triple(&val()?)?),
            "--zstd" => {
                let v = val()?;
                a.compression = if v == "none" {
                    Compression::None
                } else {
                    Compression::Zstd {
                        level: v.parse().map_err(|e| format!("{v:?}: {e}"))?,
                    }
                }
            }
            "--threads" => a.threads = num(val()?)? as usize,
            "--array-path" => a.array_path = val()?,
            "--pyramid" => a.pyramid = num(val()?)? as usize,
            "--pause-after" => a.pause_after = Some(num(val()?)?),
            "--delay-ms" => a.delay_ms = num(val()?)?,
            s if s.starts_with("--") => return Err(format!("unknown option {s}")),
            s if a.out.is_empty() => a.out = s.to_string(),
            s => return Err(format!("unexpected argument {s:?}")),
        }
    }
    if a.out.is_empty() {
        return Err("usage: write_store OUT.zarr [options]".to_string());
    }
    Ok(a)
}

fn report_json(r: &ZarrReport) -> String {
    format!(
        "{{\"array_dir\": {:?}, \"units_total\": {}, \"units_done\": {}, \"units_skipped\": {}, \
         \"units_written\": {}, \"complete\": {}}}",
        r.array_dir.display().to_string(),
        r.units_total,
        r.units_done,
        r.units_skipped,
        r.units_written,
        r.complete
    )
}

/// Open the store (or pyramid) and render into it, with the optional test hooks.
fn run(a: &Args) -> Result<Vec<ZarrReport>, Box<dyn std::error::Error>> {
    let params = StackParams {
        height: a.height,
        width: a.width,
        ..StackParams::default()
    };
    let stack = ZoomStack::new(a.levels, params)?;
    let array = stack.array().select(&a.select)?;
    let options = ZarrOptions {
        array_path: a.array_path.clone(),
        compression: a.compression,
        ..ZarrOptions::default()
    };
    let exec = Executor::new(a.threads);
    // Dataset k of a pyramid is the selection at stride 2^k (rendered directly at its stride).
    let plans = (0..a.pyramid.max(1))
        .map(|k| {
            let f = 1u64 << k;
            array
                .downsample(f, f, DownsampleMode::Stride)?
                .rechunk(a.chunks)?
                .optimize()
        })
        .collect::<Result<Vec<_>, _>>()?;
    // The engine's layout rule: dataset 0 as asked, other levels the same chunks per shard.
    let base = StoreLayout::new(plans[0].shape(), plans[0].chunks(), a.shard)?;
    let descs: Vec<ArrayDescription> = plans
        .iter()
        .map(|p| ArrayDescription::of_plan(p, base.pyramid_level(p.shape(), p.chunks())))
        .collect();
    let sinks: Vec<ZarrSink> = if a.pyramid > 0 {
        ZarrPyramid::open(&a.out, descs.clone(), options)?.into_levels()
    } else {
        vec![ZarrSink::open(&a.out, descs[0].clone(), options)?]
    };
    let mut reports = Vec::new();
    for ((plan, desc), sink) in plans.iter().zip(&descs).zip(sinks) {
        // Tiles are write units, so each stored object is written once, by one thread.
        let written = AtomicU64::new(0);
        let result = exec.for_each_tile(
            &plan.for_store(&desc.layout),
            |spec| sink.needs_tile(spec.origin, spec.shape),
            |tile| {
                if a.delay_ms > 0 {
                    std::thread::sleep(Duration::from_millis(a.delay_ms));
                }
                if let Some(n) = a.pause_after
                    && written.load(Ordering::SeqCst) >= n
                {
                    println!("PAUSED");
                    loop {
                        std::thread::park();
                    }
                }
                sink.write_tile(tile.spec.origin, tile.spec.shape, &tile.data)?;
                written.fetch_add(1, Ordering::SeqCst);
                Ok::<(), SinkError>(())
            },
        );
        match result {
            Ok(_) | Err(ExecError::Engine(EngineError::Cancelled { .. })) => {}
            Err(ExecError::Consumer(e)) => return Err(e.into()),
            Err(ExecError::Engine(e)) => return Err(e.into()),
        }
        reports.push(sink.finish()?);
    }
    Ok(reports)
}

fn main() -> ExitCode {
    let args = match parse() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("write_store: {e}");
            return ExitCode::from(2);
        }
    };
    match run(&args) {
        Ok(reports) => {
            for r in &reports {
                println!("{}", report_json(r));
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("write_store: {e}");
            ExitCode::FAILURE
        }
    }
}
