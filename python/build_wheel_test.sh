#!/usr/bin/env bash
# Builds the portable manylinux wheel of the zoomstack Python package and tests it the way a
# user gets it: installed from the wheel file alone into a fresh venv with no Rust on PATH.
#
#   bash python/build_wheel_test.sh [extra pytest arguments]
#
# 1. maturin builds the wheel for the x86-64 baseline (RUSTFLAGS="-C target-cpu=x86-64", which
#    overrides .cargo/config.toml), linked by zig against manylinux2014's glibc 2.17: it runs
#    on any x86-64 Linux CPU and libc since 2014, and the kernel picks AVX-512, AVX2+FMA or the
#    baseline at run time (kernel/README.md, "Instruction sets").
# 2. No instruction above the baseline may sit outside the kernel's target-feature trampolines
#    (checked with objdump: that is what keeps an older CPU from SIGILL).
# 3. A fresh venv gets the wheel plus its PyPI dependencies; with PATH stripped of cargo and
#    rustc, pytest runs the notebook-parity tests (tests/test_render.py, tests/test_array.py)
#    from a copy outside the source tree, once per instruction set this CPU has (forced with
#    ZOOMSTACK_ISA), and checks that the installed package is what ran.
#
# Environment: WHEEL_WORK (default: <repo>/target/wheel-test), PYTHON (interpreter for the
# venvs, default: python3; CPython >= 3.10).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/.." && pwd)"
work="${WHEEL_WORK:-$repo/target/wheel-test}"
python="${PYTHON:-python3}"
step() { printf '\n==> %s\n' "$*"; }
mkdir -p "$work"

step "build venv (maturin, zig)"
build_venv="$work/build-venv"
if ! "$build_venv/bin/python" -c 'import sys; sys.exit(sys.version_info < (3, 10))' 2>/dev/null; then
  rm -rf "$build_venv"
  "$python" -m venv "$build_venv"
fi
"$build_venv/bin/python" -m pip install --quiet --disable-pip-version-check \
  'maturin>=1.16,<2' 'ziglang>=0.13,<1'

step "maturin build --release --zig --compatibility manylinux2014 (x86-64 baseline)"
rm -rf "$work/dist"
(
  cd "$here"
  export PATH="$build_venv/bin:$PATH"
  ZOOMSTACK_PORTABLE=1 RUSTFLAGS="-C target-cpu=x86-64" \
    CARGO_TARGET_DIR="$repo/target/wheel" \
    maturin build --release --locked --zig --compatibility manylinux2014 --out "$work/dist"
)
wheels=("$work"/dist/zoomstack-*.whl)
[ "${#wheels[@]}" -eq 1 ] || { echo "expected one wheel, got: ${wheels[*]}" >&2; exit 1; }
wheel="${wheels[0]}"
echo "wheel: $(basename "$wheel")"
case "$(basename "$wheel")" in
  *manylinux2014_x86_64*|*manylinux_2_17_x86_64*) ;;
  *) echo "not a manylinux2014 x86_64 wheel: $wheel" >&2; exit 1 ;;
esac

step "no instruction above the baseline outside the kernel's trampolines"
rm -rf "$work/unpacked"
"$build_venv/bin/python" -m zipfile -e "$wheel" "$work/unpacked"
so=$(find "$work/unpacked" -name '_zoomstack*.so')
if command -v objdump >/dev/null 2>&1; then
  objdump -d -C --no-show-raw-insn "$so" > "$work/so.asm"
  "$build_venv/bin/python" - "$work/so.asm" <<'EOF'
import re, sys
# Instructions (VEX/EVEX-encoded, FMA, BMI, ...) and registers beyond the x86-64 baseline.
# (Not tzcnt: objdump shows the baseline's `rep bsf` as tzcnt.)
above = re.compile(r"v[a-z].*|fma.*|andn|bzhi|pdep|pext|shlx|shrx|sarx|rorx|lzcnt|popcnt|movbe")
wide_regs = re.compile(r"%[yz]mm|%k[0-7]")
func, hits, funcs = None, {}, 0
for line in open(sys.argv[1], encoding="utf-8", errors="replace"):
    m = re.match(r"^[0-9a-f]+ <(.*)>:$", line)
    if m:
        func, funcs = m.group(1), funcs + 1
        continue
    parts = line.rstrip("\n").split("\t")
    if not func or len(parts) < 2 or not parts[1].strip():
        continue
    insn = re.sub(r"<.*>", "", parts[1]).split()
    if above.fullmatch(insn[0]) or wide_regs.search(" ".join(insn[1:])):
        hits[func] = hits.get(func, 0) + 1
# The kernel's trampolines are `Avx2Fma::enter::avx2_fma` and `Avx512::enter::avx512`
# (kernel/src/lanes/x86.rs). Dependencies that dispatch at run time themselves: memchr and
# aho-corasick (AVX2 searchers), zstd (BMI2 and its fast decoding loops, chosen by cpuid), half
# (F16C), compiler_builtins' fma (FMA/FMA4 variants). An out-of-line intrinsic
# (`core::core_arch::...`) is a kernel bug: it would mean lane code ran outside its trampoline.
allowed = re.compile(
    r"enter::avx2_fma|enter::avx512|^memchr::arch::x86_64::(avx2::|memchr::\w+::find_avx2)"
    r"|^<?aho_corasick::packed::teddy::builder::x86_64::(Slim|Fat)AVX2"
    r"|^(FSE|HUF|ZSTD)_\w*(_bmi2|_fast|_fast_asm_loop|_fast_c_loop)$"
    r"|^half::binary16::arch::x86::\w+_f16c$|^compiler_builtins::math::libm_math::arch::x86::fma::fma_with_fma4?$"
)
bad = {f: n for f, n in hits.items() if not allowed.search(f)}
print(f"{funcs} functions; {len(hits)} use instructions above the baseline, all kernel trampolines or self-dispatching dependencies: {not bad}")
for f, n in sorted(hits.items(), key=lambda x: -x[1])[:6]:
    print(f"  {n:6d}  {f[:150]}")
if bad:
    print("outside the trampolines:", file=sys.stderr)
    for f, n in sorted(bad.items()):
        print(f"  {n:6d}  {f[:200]}", file=sys.stderr)
    sys.exit(1)
if not any("avx512" in f for f in hits) or not any("avx2_fma" in f for f in hits):
    sys.exit("the AVX-512 or AVX2 trampolines are missing")
EOF
else
  echo "objdump not found: skipped"
fi

step "fresh venv, the wheel file alone plus its PyPI dependencies"
venv="$work/test-venv"
rm -rf "$venv"
"$python" -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check "$wheel" 'pytest>=9,<10'

step "notebook parity from the installed wheel, no Rust on PATH"
run="$work/run"
rm -rf "$run"
mkdir -p "$run"
for f in conftest.py notebook_reference.py test_render.py test_array.py; do
  cp "$here/tests/$f" "$run/"
done
cd "$run"
export PATH="$venv/bin:/usr/bin:/bin"
unset PYTHONPATH VIRTUAL_ENV
for tool in rustc cargo maturin; do
  if command -v "$tool" >/dev/null 2>&1; then
    echo "$tool is on PATH ($(command -v "$tool")): the test would not show the wheel stands alone" >&2
    exit 1
  fi
done
echo "rustc, cargo, maturin: not on PATH"
python - "$venv" <<'EOF'
import os, sys
import zoomstack
where = os.path.realpath(zoomstack.__file__)
venv = os.path.realpath(sys.argv[1])
print("zoomstack", zoomstack.__version__, "from", where)
assert where.startswith(venv + os.sep), f"zoomstack imported from {where}, not from {venv}"
print("auto:", zoomstack.backend_description(), "| FUSED_FMA", zoomstack.FUSED_FMA)
EOF
status=0
python -m pytest -q -p no:cacheprovider -ra "$@" test_render.py test_array.py || status=$?
[ "$status" -eq 0 ] || { echo "pytest failed (exit $status)" >&2; exit 1; }

# Each instruction set the CPU has, forced: the same counts on every path of the wheel.
# (The FUSED_FMA check of test_render assumes the CPU's best path, so it is left out here.)
has() { grep -qw "$1" /proc/cpuinfo; }
levels="baseline"
if has avx2 && has fma; then levels="$levels avx2"; fi
if has avx2 && has fma && has avx512f && has avx512vl; then levels="$levels avx512"; fi
for isa in $levels; do
  step "ZOOMSTACK_ISA=$isa"
  ZOOMSTACK_ISA="$isa" python - "$isa" <<'EOF'
import sys
import zoomstack
d = zoomstack.backend_description("f64x8")
print(d)
assert f"instruction set {sys.argv[1]} " in d, d
EOF
  status=0
  ZOOMSTACK_ISA="$isa" python -m pytest -q -p no:cacheprovider "$@" test_render.py \
    -k "not backend_description" || status=$?
  [ "$status" -eq 0 ] || { echo "pytest failed on $isa (exit $status)" >&2; exit 1; }
done
echo
echo "wheel $(basename "$wheel"): installed without Rust and matched the notebook on: $levels"
