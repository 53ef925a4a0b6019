//! Helpers shared by the end-to-end tests: run the `zoomstack` binary, read stores back with
//! zarrs, compute reference arrays with the engine.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Arc;

use ndarray::{Array3, ArrayD, Ix3};
use zarrs::array::Array;
use zarrs::filesystem::FilesystemStore;
use zoomstack_engine::{Executor, ZoomStack};

/// The binary under test.
pub(crate) const BIN: &str = env!("CARGO_BIN_EXE_zoomstack");

/// The repository's `examples/` directory.
pub(crate) fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples")
}

/// A command for the binary, in `cwd`, with a clean environment for the share variables.
pub(crate) fn zoomstack(cwd: &Path) -> Command {
    let mut c = Command::new(BIN);
    c.current_dir(cwd);
    for v in [
        "SLURM_ARRAY_TASK_ID",
        "SLURM_ARRAY_TASK_COUNT",
        "SLURM_ARRAY_TASK_MIN",
        "SLURM_ARRAY_TASK_STEP",
        "JOB_COMPLETION_INDEX",
        "ZOOMSTACK_COUNT",
        "ZOOMSTACK_KERNEL",
        "RUST_LOG",
    ] {
        c.env_remove(v);
    }
    c
}

/// Runs the binary with `args` in `cwd`.
pub(crate) fn run(cwd: &Path, args: &[&str]) -> Output {
    zoomstack(cwd).args(args).output().expect("run zoomstack")
}

/// stdout + stderr, for assertion messages.
pub(crate) fn text(o: &Output) -> String {
    format!(
        "status {:?}\n--- stdout\n{}\n--- stderr\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Asserts success and returns stdout.
pub(crate) fn ok(o: &Output) -> String {
    assert!(o.status.success(), "expected success:\n{}", text(o));
    assert_no_panic(o);
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Asserts exit code `code` and returns stderr.
pub(crate) fn fails(o: &Output, code: i32) -> String {
    assert_eq!(o.status.code(), Some(code), "unexpected exit:\n{}", text(o));
    assert_no_panic(o);
    String::from_utf8_lossy(&o.stderr).into_owned()
}

pub(crate) fn assert_no_panic(o: &Output) {
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(
        !e.contains("panicked") && !e.contains("RUST_BACKTRACE"),
        "panic:\n{}",
        text(o)
    );
}

/// The path of the array `array_path` inside `store`: `""` is the store's own array (`counts`
/// in its root group, as the sinks resolve it).
pub(crate) fn array_path(store: &Path, array_path: &str) -> String {
    let p = array_path.trim_matches('/');
    if p.is_empty() && store.join("counts/zarr.json").exists() {
        "counts".to_string()
    } else {
        p.to_string()
    }
}

/// The directory of the array `array_path` (see [`array_path`]).
pub(crate) fn array_dir(store: &Path, path: &str) -> std::path::PathBuf {
    store.join(array_path(store, path))
}

/// Reads the zoomstack array at `store`/`array_path` with zarrs.
pub(crate) fn read_store(store: &Path, path: &str) -> Array3<u16> {
    let s = Arc::new(FilesystemStore::new(store).expect("open store"));
    let a = Array::open(s, &format!("/{}", array_path(store, path))).expect("open array");
    let d: ArrayD<u16> = a
        .retrieve_array_subset(&a.subset_all())
        .expect("read array");
    d.into_dimensionality::<Ix3>().expect("3-D array")
}

/// The `zoomstack` attribute of an array.
pub(crate) fn attrs(store: &Path, array_path: &str) -> serde_json::Value {
    let p = array_dir(store, array_path).join("zarr.json");
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&p).expect("read zarr.json")).unwrap();
    v["attributes"]["zoomstack"].clone()
}

/// Number of completion markers of an array (files named `i.j.k`; a killed writer may leave a
/// temporary `.i.j.k.tmp-PID` behind, which is not a marker).
pub(crate) fn markers(store: &Path, array_path: &str) -> usize {
    std::fs::read_dir(array_dir(store, array_path).join("zoomstack.done")).map_or(0, |d| {
        d.filter_map(Result::ok)
            .filter(|e| {
                let name = e.file_name().to_string_lossy().into_owned();
                let parts: Vec<&str> = name.split('.').collect();
                parts.len() == 3 && parts.iter().all(|p| p.parse::<u64>().is_ok())
            })
            .count()
    })
}

/// The engine's in-memory result for `select` on `stack`.
pub(crate) fn compute(stack: &ZoomStack, select: &str) -> Array3<u16> {
    let plan = stack.array().select(select).unwrap().optimize().unwrap();
    Executor::new(2).compute(&plan).unwrap()
}

/// Decodes a PNG: (width, height, color type, bit depth, bytes).
pub(crate) fn decode_png(path: &Path) -> (u32, u32, png::ColorType, png::BitDepth, Vec<u8>) {
    let dec = png::Decoder::new(std::io::BufReader::new(
        std::fs::File::open(path).expect("open PNG"),
    ));
    let mut r = dec.read_info().expect("PNG header");
    let mut buf = vec![0; r.output_buffer_size().expect("buffer size")];
    let info = r.next_frame(&mut buf).expect("PNG frame");
    buf.truncate(info.buffer_size());
    (
        info.width,
        info.height,
        info.color_type,
        info.bit_depth,
        buf,
    )
}

/// Decodes a GIF: (width, height, frames as palette indices).
pub(crate) fn decode_gif(path: &Path) -> (u16, u16, Vec<Vec<u8>>) {
    let mut opts = gif::DecodeOptions::new();
    opts.set_color_output(gif::ColorOutput::Indexed);
    let mut d = opts
        .read_info(std::fs::File::open(path).expect("open GIF"))
        .expect("GIF header");
    let (w, h) = (d.width(), d.height());
    let mut frames = Vec::new();
    while let Some(f) = d.read_next_frame().expect("GIF frame") {
        frames.push(f.buffer.to_vec());
    }
    (w, h, frames)
}

/// Writes `text` to `dir/name` and returns the path.
pub(crate) fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}
