//! The exact arithmetic contract end to end: spec and flags, stores that record it, proven
//! constant levels at any depth, the depth limit for frames that are not proven, and the
//! numpy contract left as it was.

mod common;

use common::*;
use zoomstack_engine::ZoomStack;
use zoomstack_kernel::exact::{self, ExactStack};
use zoomstack_kernel::{Backend, IndexRange};

/// The notebook's stack at 64 x 64 in the exact contract.
fn exact_stack() -> ExactStack {
    ExactStack {
        height: 64,
        width: 64,
        ..ExactStack::default()
    }
}

/// Level `level` of `stack`, rendered by the kernel directly.
fn kernel_level(stack: &ExactStack, level: u64) -> Vec<u16> {
    let mut out = vec![0u16; stack.height * stack.width];
    let (rows, cols) = (
        IndexRange::full(stack.height as u64),
        IndexRange::full(stack.width as u64),
    );
    exact::render_level_block(stack, level, rows, cols, Backend::Scalar, &mut out).unwrap();
    out
}

#[test]
fn exact_store_holds_the_kernels_true_counts_and_records_the_contract() {
    let dir = tempfile::tempdir().unwrap();
    let spec = write(
        dir.path(),
        "exact.toml",
        "[stack]\nlevels = 120_000_000\nheight = 64\nwidth = 64\narithmetic = \"exact\"\n\
         [[sink]]\nkind = \"zarr\"\npath = \"deep.zarr\"\nselect = \"[130000:130003]\"\n\
         [[sink]]\nkind = \"zarr\"\npath = \"deepest.zarr\"\nselect = \"[119999998:120000000]\"\n",
    );
    let out = ok(&run(dir.path(), &["run", spec.to_str().unwrap()]));
    assert!(
        !out.contains("f64 (numpy)"),
        "no numpy warning in exact mode: {out}"
    );
    let stack = exact_stack();
    let got = read_store(&dir.path().join("deep.zarr"), "");
    for k in 0..3 {
        let want = kernel_level(&stack, 130000 + k as u64);
        let level: Vec<u16> = got
            .index_axis(ndarray::Axis(0), k)
            .iter()
            .copied()
            .collect();
        assert_eq!(level, want, "level {}", 130000 + k);
    }
    // The deepest levels are proven constant: the centre's count 250 everywhere.
    let deepest = read_store(&dir.path().join("deepest.zarr"), "");
    assert_eq!(deepest.shape(), &[2, 64, 64]);
    assert!(deepest.iter().all(|&c| c == 250));
    let a = attrs(&dir.path().join("deep.zarr"), "");
    assert_eq!(a["stack"]["arithmetic"], "exact");
    assert_eq!(
        a["stack"]["exact"]["center"][0],
        stack.center_re.to_string()
    );
    // Exact and numpy differ at level 130000 (f64 no longer resolves the pixels there).
    let numpy = compute(
        &ZoomStack {
            params: zoomstack_kernel::StackParams {
                height: 64,
                width: 64,
                ..Default::default()
            },
            ..ZoomStack::default()
        },
        "[130000:130001]",
    );
    assert_ne!(
        numpy.iter().copied().collect::<Vec<_>>(),
        kernel_level(&stack, 130000)
    );
}

#[test]
fn resuming_with_the_other_contract_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let args = |arith: &str| {
        vec![
            "render".to_string(),
            "--height".into(),
            "32".into(),
            "--width".into(),
            "32".into(),
            "--levels".into(),
            "0:4".into(),
            "--arithmetic".into(),
            arith.into(),
            "--zarr".into(),
            "s.zarr".into(),
        ]
    };
    let numpy = args("numpy");
    let numpy: Vec<&str> = numpy.iter().map(String::as_str).collect();
    ok(&run(dir.path(), &numpy));
    let exact = args("exact");
    let exact: Vec<&str> = exact.iter().map(String::as_str).collect();
    let e = fails(&run(dir.path(), &exact), 2);
    assert!(
        e.contains("stack.arithmetic") && e.contains("numpy") && e.contains("exact"),
        "{e}"
    );
}

#[test]
fn describe_names_the_contract_and_the_proven_levels() {
    let dir = tempfile::tempdir().unwrap();
    let spec = write(
        dir.path(),
        "d.toml",
        "[stack]\nlevels = 120_000_000\narithmetic = \"exact\"\n[[sink]]\nkind = \"zarr\"\n\
         path = \"d.zarr\"\nshards = [4096, 512, 512]\nchunks = [1, 512, 512]\n",
    );
    let out = ok(&run(dir.path(), &["describe", spec.to_str().unwrap()]));
    assert!(out.contains("arithmetic exact"), "{out}");
    assert!(out.contains("proven constant"), "{out}");
    assert!(out.contains("139845"), "the proven threshold: {out}");
    // The reference orbit: Z_0..=Z_251 (the centre's count is 250), 80 bytes a point.
    assert!(
        out.contains("the reference orbit (level 0): 252 points, the centre escapes with count 250, 19.69 kiB in memory, about "),
        "{out}"
    );
    // Units 35.. of 4096 levels start past level 139845 (unit 34 holds 139264..143359).
    assert!(
        out.contains("29297 write units (29262 proven constant: stored without rendering)"),
        "{out}"
    );
    // Only the 35 other units are rendered, and counted raw (2 GiB each) in the estimate; the
    // constant ones at their stored size (a 64 KiB index and one small chunk each).
    assert!(
        out.contains(&format!(
            "Total: {} pixels rendered",
            35u64 * 4096 * 512 * 512
        )),
        "{out}"
    );
    assert!(
        out.contains(
            "sink 1 (zarr -> d.zarr): 58594 files, 71.79 GiB (29262 write units proven constant, \
             stored without rendering)"
        ),
        "{out}"
    );
    assert!(
        out.contains("proven-constant write units at their stored size"),
        "{out}"
    );
    let preview = examples().join("preview.toml");
    let numpy = ok(&run(dir.path(), &["describe", preview.to_str().unwrap()]));
    assert!(numpy.contains("arithmetic numpy"), "{numpy}");
    assert!(
        numpy.contains("arithmetic = \"exact\""),
        "the hint: {numpy}"
    );
}

#[test]
fn bad_exact_input_is_refused_before_anything_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        ("arithmetic = \"exakt\"", "stack.arithmetic"),
        (
            "arithmetic = \"exact\"\ncenter = [\"-0.74x\", \"0.1\"]",
            "-0.74x",
        ),
        ("arithmetic = \"exact\"\nscale0 = \"-3\"", "stack.scale0"),
        // A boundary point: its frames are never constant, and level 1050 of a zoom by 2 per
        // level is below the 1e-300 pixel spacing f64 deltas cover.
        (
            "arithmetic = \"exact\"\ncenter = [-2.0, 0.0]\nzoom_per_level = 2.0\nheight = 3\n\
             width = 3\nlevels = 1100",
            "1e-300",
        ),
    ];
    for (stack, want) in cases {
        let spec = write(
            dir.path(),
            "bad.toml",
            &format!(
                "[stack]\n{stack}\n[[sink]]\nkind = \"zarr\"\npath = \"bad.zarr\"\n\
                 select = \"[1040:1060]\"\n"
            ),
        );
        let e = fails(&run(dir.path(), &["run", spec.to_str().unwrap()]), 2);
        assert!(e.contains(want), "{stack}: {e}");
        assert!(
            !dir.path().join("bad.zarr").exists(),
            "{stack}: nothing written"
        );
    }
}

#[test]
fn numpy_contract_accepts_decimal_strings_as_their_nearest_f64() {
    let dir = tempfile::tempdir().unwrap();
    let spec = |center: &str| {
        write(
            dir.path(),
            "d.toml",
            &format!(
                "[stack]\nheight = 16\nwidth = 16\ncenter = {center}\n[[sink]]\nkind = \"zarr\"\n\
                 path = \"d.zarr\"\nselect = \"[5000:5002]\"\nif_exists = \"replace\"\n"
            ),
        )
    };
    ok(&run(
        dir.path(),
        &[
            "run",
            spec("[\"-0.743645857047151\", \"0.13182592380533\"]")
                .to_str()
                .unwrap(),
        ],
    ));
    let from_text = read_store(&dir.path().join("d.zarr"), "");
    ok(&run(
        dir.path(),
        &[
            "run",
            spec("[-0.743645857047151, 0.13182592380533]")
                .to_str()
                .unwrap(),
        ],
    ));
    assert_eq!(from_text, read_store(&dir.path().join("d.zarr"), ""));
}

#[test]
fn proven_constant_shards_are_one_chunk_and_read_back_as_the_count() {
    let dir = tempfile::tempdir().unwrap();
    // Levels 139800..148000 of the 120-million-level stack at 16 x 16: the first shard holds
    // levels that are not constant (rendered), the others only proven levels (one chunk each).
    let spec = write(
        dir.path(),
        "c.toml",
        "[stack]\nlevels = 120_000_000\nheight = 16\nwidth = 16\narithmetic = \"exact\"\n\
         [[sink]]\nkind = \"zarr\"\npath = \"c.zarr\"\nselect = \"[139800:148000]\"\n\
         chunks = [1, 16, 16]\nshards = [2048, 16, 16]\n",
    );
    ok(&run(dir.path(), &["run", spec.to_str().unwrap()]));
    let store = dir.path().join("c.zarr");
    let got = read_store(&store, "");
    assert_eq!(got.shape(), &[8200, 16, 16]);
    let stack = ExactStack {
        height: 16,
        width: 16,
        ..ExactStack::default()
    };
    for k in [0usize, 44, 45, 100, 2047, 2048, 8199] {
        let level: Vec<u16> = got
            .index_axis(ndarray::Axis(0), k)
            .iter()
            .copied()
            .collect();
        assert_eq!(
            level,
            kernel_level(&stack, 139800 + k as u64),
            "level {}",
            139800 + k
        );
    }
    // Shards 1.. hold one encoded chunk plus the index: far smaller than 2048 chunks.
    let shard = |i: u64| {
        std::fs::metadata(store.join(format!("counts/c/{i}/0/0")))
            .unwrap()
            .len()
    };
    assert!(shard(0) > shard(1), "{} vs {}", shard(0), shard(1));
    assert!(shard(1) < 2048 * 16 + 4 + 200, "{}", shard(1));
    let v = ok(&run(dir.path(), &["verify", store.to_str().unwrap()]));
    assert!(v.contains("intact") || v.contains("ok"), "{v}");
}

/// Kalles Fraktaler 2's 5e113 location, its centre and frame as the spec gives them.
fn kf2_5e113() -> (String, String, ExactStack) {
    let loc: serde_json::Value = serde_json::from_str(include_str!(
        "../../kernel/tests/data/locations/kf2-5e113.json"
    ))
    .unwrap();
    let (re, im) = (
        loc["center_re"].as_str().unwrap().to_string(),
        loc["center_im"].as_str().unwrap().to_string(),
    );
    let stack = ExactStack {
        height: 24,
        width: 32,
        center_re: re.parse().unwrap(),
        center_im: im.parse().unwrap(),
        scale0: "8e-114".parse().unwrap(),
        zoom_per_level: "2".parse().unwrap(),
        max_iter: 35494,
        bla: true,
    };
    (re, im, stack)
}

#[test]
fn bla_renders_a_deep_location_and_the_store_records_it() {
    let dir = tempfile::tempdir().unwrap();
    let (re, im, stack) = kf2_5e113();
    let spec = |bla: bool| {
        format!(
            "[stack]\nlevels = 2\nheight = 24\nwidth = 32\ncenter = [\"{re}\", \"{im}\"]\n\
             scale0 = \"8e-114\"\nzoom_per_level = \"2\"\nmax_iter = 35494\n\
             arithmetic = \"exact\"\nbla = {bla}\n\
             [[sink]]\nkind = \"zarr\"\npath = \"deep.zarr\"\n"
        )
    };
    let with = write(dir.path(), "bla.toml", &spec(true));
    ok(&run(dir.path(), &["run", with.to_str().unwrap()]));
    let got = read_store(&dir.path().join("deep.zarr"), "");
    for level in 0..2u64 {
        let want = kernel_level(&stack, level);
        let have: Vec<u16> = got
            .index_axis(ndarray::Axis(0), level as usize)
            .iter()
            .copied()
            .collect();
        assert_eq!(have, want, "level {level}");
        assert!(want.iter().all(|&c| (22000..=35494).contains(&c)));
    }
    let a = attrs(&dir.path().join("deep.zarr"), "");
    assert_eq!(a["stack"]["exact"]["bla"], true);
    // Resuming that store without BLA would mix two methods' counts: refused, store kept.
    let without = write(dir.path(), "plain.toml", &spec(false));
    let e = fails(&run(dir.path(), &["run", without.to_str().unwrap()]), 2);
    assert!(e.contains("stack.exact"), "{e}");
    assert_eq!(read_store(&dir.path().join("deep.zarr"), ""), got);
}

#[test]
fn bla_needs_the_exact_contract() {
    let dir = tempfile::tempdir().unwrap();
    let spec = write(
        dir.path(),
        "numpy-bla.toml",
        "[stack]\nlevels = 2\nheight = 8\nwidth = 8\nbla = true\n\
         [[sink]]\nkind = \"zarr\"\npath = \"x.zarr\"\n",
    );
    let e = fails(&run(dir.path(), &["run", spec.to_str().unwrap()]), 2);
    assert!(
        e.contains("stack.bla") && e.contains("arithmetic = \"exact\""),
        "{e}"
    );
    assert!(!dir.path().join("x.zarr").exists());
}
