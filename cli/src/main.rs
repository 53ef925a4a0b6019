//! The `zoomstack` binary (being built: see issue 5).
fn main() {
    eprintln!("zoomstack: the CLI is not built yet");
    std::process::exit(1);
}
