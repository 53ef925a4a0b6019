//! The big-precision oracle on single pixels of the notebook's stack, for checking a store or
//! a render by hand at any depth:
//!
//! ```text
//! cargo run --release -p zoomstack-kernel --example oracle -- LEVEL ROW,COL [ROW,COL ...]
//! ```
//!
//! Prints one JSON object per pixel: `level`, `row`, `col`, `count` (the true count, or null
//! when the oracle's two precisions disagree) and `bits` (the lower precision; the check runs
//! at twice it too). At level 119999999 a pixel takes about 43000 bits and a few seconds.

use zoomstack_kernel::exact::ExactStack;
use zoomstack_kernel::exact::oracle::{confirmed_count, oracle_precision};

fn main() {
    let mut args = std::env::args().skip(1);
    let usage = "usage: oracle LEVEL ROW,COL [ROW,COL ...]";
    let level: u64 = args.next().and_then(|l| l.parse().ok()).expect(usage);
    let stack = ExactStack::default();
    for pixel in args {
        let (r, c) = pixel
            .split_once(',')
            .and_then(|(r, c)| Some((r.parse::<u64>().ok()?, c.parse::<u64>().ok()?)))
            .expect(usage);
        let verdict = confirmed_count(&stack, level, r, c).expect("a pixel of the stack");
        let count = verdict.decided().map(|d| d.count);
        let bits = oracle_precision(&stack, level).expect("a level of the stack");
        println!(
            "{}",
            serde_json::json!({"level": level, "row": r, "col": c, "count": count, "bits": bits})
        );
    }
}
