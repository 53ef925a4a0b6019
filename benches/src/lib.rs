//! Shared pieces of the criterion benchmarks in `benches/`.
//!
//! [`ThreadCpuTime`] measures the benchmark thread's CPU time instead of wall time. Our machines
//! are shared (2 cores, other jobs running), and single-threaded kernel rates are quoted per
//! core-second, as in `../shared/FACTS.md`; multi-threaded benches keep criterion's wall time.

use criterion::Throughput;
use criterion::measurement::{Measurement, ValueFormatter};
use std::time::Duration;

/// A criterion measurement of the calling thread's CPU time (`CLOCK_THREAD_CPUTIME_ID`).
pub struct ThreadCpuTime;

impl Measurement for ThreadCpuTime {
    type Intermediate = cpu_time::ThreadTime;
    type Value = Duration;

    fn start(&self) -> Self::Intermediate {
        cpu_time::ThreadTime::now()
    }
    fn end(&self, i: Self::Intermediate) -> Self::Value {
        i.elapsed()
    }
    fn add(&self, v1: &Self::Value, v2: &Self::Value) -> Self::Value {
        *v1 + *v2
    }
    fn zero(&self) -> Self::Value {
        Duration::ZERO
    }
    fn to_f64(&self, value: &Self::Value) -> f64 {
        value.as_nanos() as f64
    }
    fn formatter(&self) -> &dyn ValueFormatter {
        &CpuFormatter
    }
}

/// Formats nanoseconds of CPU time and rates per CPU-second.
struct CpuFormatter;

fn time_unit(typical_ns: f64) -> (f64, &'static str) {
    match typical_ns {
        t if t < 1e3 => (1.0, "ns cpu"),
        t if t < 1e6 => (1e-3, "µs cpu"),
        t if t < 1e9 => (1e-6, "ms cpu"),
        _ => (1e-9, "s cpu"),
    }
}

fn rate_unit(per_second: f64, what: &'static [&'static str; 4]) -> (f64, &'static str) {
    match per_second {
        r if r < 1e3 => (1.0, what[0]),
        r if r < 1e6 => (1e-3, what[1]),
        r if r < 1e9 => (1e-6, what[2]),
        _ => (1e-9, what[3]),
    }
}

impl ValueFormatter for CpuFormatter {
    fn scale_values(&self, typical_value: f64, values: &mut [f64]) -> &'static str {
        let (factor, unit) = time_unit(typical_value);
        for v in values.iter_mut() {
            *v *= factor;
        }
        unit
    }

    fn scale_throughputs(
        &self,
        typical_value: f64,
        throughput: &Throughput,
        values: &mut [f64],
    ) -> &'static str {
        const ELEMS: [&str; 4] = ["elem/cpu-s", "Kelem/cpu-s", "Melem/cpu-s", "Gelem/cpu-s"];
        const BYTES: [&str; 4] = ["B/cpu-s", "KB/cpu-s", "MB/cpu-s", "GB/cpu-s"];
        let (n, units) = match *throughput {
            Throughput::Elements(e) | Throughput::ElementsAndBytes { elements: e, .. } => {
                (e as f64, &ELEMS)
            }
            Throughput::Bytes(b) | Throughput::BytesDecimal(b) => (b as f64, &BYTES),
            Throughput::Bits(b) => (b as f64 / 8.0, &BYTES),
        };
        let (factor, unit) = rate_unit(n * 1e9 / typical_value, units);
        for v in values.iter_mut() {
            *v = n * 1e9 / *v * factor;
        }
        unit
    }

    fn scale_for_machines(&self, _values: &mut [f64]) -> &'static str {
        "ns"
    }
}
