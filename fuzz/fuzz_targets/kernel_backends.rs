//! Fuzzer-chosen stack parameters, levels, strided sub-grids and `max_iter`: every backend
//! must equal the scalar reference, and invalid input must be an error, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use zoomstack_kernel::spec::escape_scalar;
use zoomstack_kernel::{IndexRange, Backend, StackParams, render_block};

fn f64_at(data: &[u8], i: usize) -> f64 {
    let mut b = [0u8; 8];
    for (k, x) in b.iter_mut().enumerate() {
        *x = data.get(i * 8 + k).copied().unwrap_or(0);
    }
    f64::from_le_bytes(b)
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 48 {
        return;
    }
    let byte = |i: usize| data[40 + i] as usize;
    // Mostly plausible values, sometimes raw bit patterns (NaN, inf, huge, negative).
    let raw = byte(7) & 1 == 1;
    let pick = |i: usize, lo: f64, hi: f64| {
        let v = f64_at(data, i);
        if raw {
            v
        } else {
            lo + (hi - lo) * ((v.to_bits() >> 11) as f64 / (1u64 << 53) as f64)
        }
    };
    let params = StackParams {
        height: byte(0) % 24,
        width: byte(1) % 24,
        center_re: pick(0, -2.0, 1.0),
        center_im: pick(1, -1.2, 1.2),
        scale0: pick(2, 1e-12, 4.0),
        zoom_per_level: pick(3, 1.0, 1.001),
        max_iter: if raw {
            u32::from_le_bytes([data[32], data[33], data[34], 0])
        } else {
            1 + (byte(2) * 37 + byte(3)) as u32 % 2000
        },
    };
    let level =
        u64::from_le_bytes(data[32..40].try_into().unwrap()) % if raw { u64::MAX } else { 150_000 };
    // Steps from -2 to 3 (0 included, which must be refused when it matters).
    let step = |b: usize| (b % 6) as i64 - 2;
    let rows = IndexRange::new((byte(4) % 24) as u64, step(byte(5)), (byte(6) % 24) as u64);
    let cols = IndexRange::new((byte(5) % 24) as u64, step(byte(4) / 6), (byte(3) % 24) as u64);
    let n = (rows.count * cols.count) as usize;
    let mut want = vec![0u16; n];
    let Ok(grid) = params.level_grid(level) else {
        // Invalid parameters: every backend must report an error too.
        for backend in Backend::ALL {
            assert!(render_block(&params, level, rows, cols, backend, &mut want).is_err());
        }
        return;
    };
    let valid =
        rows.check("rows", params.height as u64).is_ok()
            && cols.check("cols", params.width as u64).is_ok();
    for backend in Backend::ALL {
        let mut got = vec![0u16; n];
        let result = render_block(&params, level, rows, cols, backend, &mut got);
        assert_eq!(result.is_ok(), valid, "{backend}: {result:?}");
        if !valid {
            continue;
        }
        for r in 0..rows.count {
            for c in 0..cols.count {
                let x = grid.cols.at(cols.at(c) as usize);
                let y = grid.rows.at(rows.at(r) as usize);
                want[(r * cols.count + c) as usize] = escape_scalar(x, y, params.max_iter);
            }
        }
        assert_eq!(
            got, want,
            "{backend} {params:?} level {level} {rows:?} {cols:?}"
        );
    }
});
