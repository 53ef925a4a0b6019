//! Defining the notebook's 120000-level stack and planning its preview allocates next to
//! nothing (the target: < 1 MiB). A counting global allocator measures it; this file
//! holds a single test so no other test allocates concurrently.
//!
//! `cargo test -p zoomstack-engine --test plan_alloc -- --nocapture` prints the numbers.
#![allow(unsafe_code)] // GlobalAlloc is an unsafe trait; the impl only forwards to System.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicU64, Ordering};
use zoomstack_engine::{LazyArray, ZoomStack};

struct Counting;

static BYTES: AtomicU64 = AtomicU64::new(0);
static CALLS: AtomicU64 = AtomicU64::new(0);

// SAFETY: forwards every call to the system allocator unchanged; only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        BYTES.fetch_add(layout.size() as u64, Ordering::Relaxed);
        CALLS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `System.alloc` with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        BYTES.fetch_add(new_size as u64, Ordering::Relaxed);
        CALLS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn measure<T>(f: impl FnOnce() -> T) -> (T, u64, u64) {
    let (b0, c0) = (BYTES.load(Ordering::SeqCst), CALLS.load(Ordering::SeqCst));
    let out = f();
    let (b1, c1) = (BYTES.load(Ordering::SeqCst), CALLS.load(Ordering::SeqCst));
    (out, b1 - b0, c1 - c0)
}

#[test]
fn defining_and_planning_allocates_little() {
    let (a, bytes, calls) = measure(|| {
        let a: LazyArray = ZoomStack::default().array();
        a.select("[0:20000:500, ::2, ::2]").unwrap()
    });
    println!(
        "define 120000-level stack + record preview select: {bytes} bytes in {calls} allocations"
    );
    assert!(bytes < 4096, "{bytes} bytes");

    let (plan, bytes, calls) = measure(|| a.optimize().unwrap());
    println!("optimize: {bytes} bytes in {calls} allocations");
    assert!(bytes < 4096, "{bytes} bytes");
    assert_eq!(plan.shape(), [40, 256, 256]);

    let (_, bytes, calls) = measure(|| {
        // A slower zoom, so that every level of the 10^12 has a valid scale.
        let mut huge = ZoomStack {
            levels: 1_000_000_000_000,
            ..ZoomStack::default()
        };
        huge.params.zoom_per_level = 1.000_000_000_001;
        huge.array()
            .select("[::7, ::2, ::2]")
            .unwrap()
            .rechunk([8, 256, 256])
            .unwrap()
            .optimize()
            .unwrap()
    });
    println!("10^12 levels, select + rechunk + optimize: {bytes} bytes in {calls} allocations");
    assert!(bytes < 1 << 20, "{bytes} bytes");

    let (text, bytes, _) = measure(|| a.describe().to_string() + &a.explain());
    println!(
        "describe + explain: {bytes} bytes ({} chars of text)",
        text.len()
    );
    assert!(bytes < 1 << 20, "{bytes} bytes");
}
